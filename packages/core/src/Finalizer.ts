/**
 * The finalizer protocol as a pure state machine. A controller with a finalizer adds it to a live
 * primary before writing any child (so nothing it creates can be orphaned), and on deletion keeps
 * it until every owned child is gone, then removes it last.
 *
 *   Absent ──FinalizerAdded──▶ Added ──DeletionRequested──▶ CleaningUp(remaining) ──ChildrenRemaining([])──▶ Releasing ──FinalizerRemoved──▶ Released
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
  /** The primary is live: create, update and prune children towards `desired()`. */
  readonly reconcileChildren: boolean
  /** The primary is being deleted under our finalizer: delete every owned child. */
  readonly deleteChildren: boolean
  /** Owned children remain: keep the finalizer and look again later. */
  readonly waitForChildren: boolean
  /** Remove the finalizer, as the last action. Only ever when no owned child remains. */
  readonly removeFinalizer: boolean
  /** Whether this controller still reports status (not once it has let go of a deleting primary). */
  readonly reportStatus: boolean
}

const step = (fields: Partial<FinalizerStep>): FinalizerStep => ({
  addFinalizer: false,
  reconcileChildren: false,
  deleteChildren: false,
  waitForChildren: false,
  removeFinalizer: false,
  reportStatus: false,
  ...fields
})

const live = step({ reconcileChildren: true, reportStatus: true })

/** The step each state calls for. */
export const finalizerStep: (state: FinalizerState) => FinalizerStep = FinalizerState.$match({
  Unmanaged: () => live,
  Absent: () => step({ addFinalizer: true, reconcileChildren: true, reportStatus: true }),
  Added: () => live,
  CleaningUp: () => step({ deleteChildren: true, waitForChildren: true, reportStatus: true }),
  Releasing: () => step({ removeFinalizer: true, reportStatus: true }),
  Released: () => step({})
})

/** What happens to a primary between two reconciles. */
export type FinalizerEvent = Data.TaggedEnum<{
  /** The finalizer was added to the live primary. */
  FinalizerAdded: Record<never, never>
  /** The primary got a deletionTimestamp; these owned objects exist at that moment. */
  DeletionRequested: { readonly remaining: ReadonlyArray<KubeObject> }
  /** The owned objects that still exist, observed again during cleanup. */
  ChildrenRemaining: { readonly remaining: ReadonlyArray<KubeObject> }
  /** The finalizer was removed from the deleting primary. */
  FinalizerRemoved: Record<never, never>
}>

export const FinalizerEvent = Data.taggedEnum<FinalizerEvent>()

const afterCleanup = (remaining: ReadonlyArray<KubeObject>): FinalizerState =>
  remaining.length > 0 ? FinalizerState.CleaningUp({ remaining }) : FinalizerState.Releasing()

/**
 * The protocol's transitions. An event that does not apply to a state leaves it unchanged; in
 * particular `FinalizerRemoved` releases only from `Releasing`, so no path removes the finalizer
 * while an owned object is known to exist.
 */
export const transition = (state: FinalizerState, event: FinalizerEvent): FinalizerState => {
  switch (state._tag) {
    case "Unmanaged":
    case "Released":
      return state
    case "Absent":
      if (event._tag === "FinalizerAdded") return FinalizerState.Added()
      if (event._tag === "DeletionRequested") return FinalizerState.Released()
      return state
    case "Added":
      if (event._tag === "DeletionRequested") return afterCleanup(event.remaining)
      return state
    case "CleaningUp":
    case "Releasing":
      // Any fresh look at what remains decides between waiting and releasing.
      if (event._tag === "ChildrenRemaining" || event._tag === "DeletionRequested")
        return afterCleanup(event.remaining)
      if (event._tag === "FinalizerRemoved" && state._tag === "Releasing") return FinalizerState.Released()
      return state
  }
}
