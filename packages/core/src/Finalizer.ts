/**
 * The finalizer protocol as a pure state machine. A controller with a finalizer adds it to a live
 * primary before writing any child (so nothing it creates can be orphaned), and on deletion keeps
 * it until every owned child is gone, then removes it last.
 *
 *   Absent ──(finalizer added)──▶ Added ──(deletion requested)──▶ CleaningUp(remaining) ──(none remain)──▶ Releasing ──(finalizer removed)──▶ Released
 *
 * Pure: reads only the primary and the owned objects it is given. Must not decide which children
 * exist or should exist (that is `Plan` and `desired()`); it only says what the finalizer requires.
 */
import { Data } from "effect"
import { hasFinalizer, isDeleting, type KubeObject } from "./Object.ts"

export type FinalizerState = Data.TaggedEnum<{
  /** The controller holds no finalizer: deletion is left to the garbage collector. */
  Unmanaged: Record<never, never>
  /** Live primary without the finalizer: add it before anything else is written. */
  Absent: Record<never, never>
  /** Live primary holding the finalizer: reconcile children normally. */
  Added: Record<never, never>
  /** Deleting, finalizer held, owned objects still exist: delete them and wait. */
  CleaningUp: { readonly remaining: ReadonlyArray<KubeObject> }
  /** Deleting, finalizer held, no owned object left: remove the finalizer, as the last action. */
  Releasing: Record<never, never>
  /** Deleting and the finalizer is gone (removed, or never added): nothing left for this controller. */
  Released: Record<never, never>
}>

export const FinalizerState = Data.taggedEnum<FinalizerState>()

/** Where a primary stands in the protocol, given the controller's finalizer and the owned objects that still exist. */
export const finalizerState = (
  primary: KubeObject,
  finalizer: string | undefined,
  remaining: ReadonlyArray<KubeObject>
): FinalizerState => {
  if (finalizer === undefined) return FinalizerState.Unmanaged()
  const held = hasFinalizer(primary, finalizer)
  if (!isDeleting(primary)) return held ? FinalizerState.Added() : FinalizerState.Absent()
  if (!held) return FinalizerState.Released()
  return remaining.length > 0 ? FinalizerState.CleaningUp({ remaining }) : FinalizerState.Releasing()
}

/** What the protocol requires of this reconcile. */
export interface FinalizerStep {
  /** Add the finalizer, before any child is written. */
  readonly addFinalizer: boolean
  /** The primary is being deleted under our finalizer: delete every owned child. */
  readonly deleteChildren: boolean
  /** Owned children remain: keep the finalizer and look again later. */
  readonly waitForChildren: boolean
  /** Remove the finalizer, as the last action. Only ever when no owned child remains. */
  readonly removeFinalizer: boolean
}

const step = (fields: Partial<FinalizerStep>): FinalizerStep => ({
  addFinalizer: false,
  deleteChildren: false,
  waitForChildren: false,
  removeFinalizer: false,
  ...fields
})

const nothing = step({})

/** The step each state calls for. */
export const finalizerStep: (state: FinalizerState) => FinalizerStep = FinalizerState.$match({
  Unmanaged: () => nothing,
  Absent: () => step({ addFinalizer: true }),
  Added: () => nothing,
  CleaningUp: () => step({ deleteChildren: true, waitForChildren: true }),
  Releasing: () => step({ removeFinalizer: true }),
  Released: () => nothing
})
