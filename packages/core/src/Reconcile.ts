/**
 * One reconcile of one primary, the same everywhere it runs (the Controller against the API
 * server, the Simulator in property tests, the benchmark): take a snapshot, decide once, plan;
 * write the children; plan again from a snapshot that holds the writes' answers, with the same
 * decision, and write the status only if that plan says it changed; then say when to look again.
 *
 * Why two plans: a status computed before the children are written would report them as "not
 * created yet". The second plan sees them as the API server answered, so one reconcile writes one
 * status, and a converged primary writes nothing.
 *
 * Generic over how snapshots are taken and actions executed (a `Port`); owns the order of the
 * steps only. Must not retry, wait or decide anything itself.
 */
import { Effect } from "effect"
import { type Action, isWrite } from "./Action.ts"
import type { KubeObject } from "./Object.ts"
import { type Plan, plan } from "./Plan.ts"
import type { Reconciler, Snapshot } from "./Reconciler.ts"

/** Where a reconcile reads and writes. */
export interface Port<E, R> {
  /** The primary's snapshot as it is now (after this reconcile's writes so far); `undefined` once it is gone. */
  readonly snapshot: Effect.Effect<Snapshot | undefined, never, R>
  /** Executes actions in order, stopping at the first failure. */
  readonly execute: (actions: ReadonlyArray<Action>, snapshot: Snapshot) => Effect.Effect<void, E, R>
  /** The current time, RFC 3339. */
  readonly now: string
}

/** What one reconcile did. */
export interface Reconciled<D = unknown> {
  /** The first plan (children, events, finalizers); `undefined` when the primary was gone. */
  readonly plan: Plan<D> | undefined
  /** The status write the second plan asked for, if it was made after child writes. */
  readonly status: ReadonlyArray<Action>
  /** Look at the primary again after this long (waiting, or periodic work); never if undefined. */
  readonly requeueAfterMillis: number | undefined
}

const isChildWrite = (action: Action): boolean => action._tag === "Apply"

/** Runs the protocol once for a primary. */
export const reconcile = <P extends KubeObject, D, E, R>(
  reconciler: Reconciler<P, D>,
  port: Port<E, R>
): Effect.Effect<Reconciled<D>, E, R> =>
  Effect.gen(function* () {
    const snapshot = yield* port.snapshot
    if (snapshot === undefined) return { plan: undefined, status: [], requeueAfterMillis: undefined }
    const first = plan(reconciler, snapshot, port.now)
    const requeue = first.actions.find((action) => action._tag === "Requeue")
    const requeueAfterMillis = requeue?._tag === "Requeue" ? requeue.afterMillis : undefined
    if (!first.actions.some(isChildWrite)) {
      if (first.actions.some(isWrite)) yield* port.execute(first.actions, snapshot)
      return { plan: first, status: [], requeueAfterMillis }
    }
    yield* port.execute(
      first.actions.filter((action) => action._tag !== "PatchStatus"),
      snapshot
    )
    const after = yield* port.snapshot
    if (after === undefined) return { plan: first, status: [], requeueAfterMillis }
    const again = plan(
      reconciler,
      after,
      port.now,
      first.decision === undefined ? undefined : { decision: first.decision }
    )
    const status = again.actions.filter((action) => action._tag === "PatchStatus")
    if (status.length > 0) yield* port.execute(status, after)
    return { plan: first, status, requeueAfterMillis }
  })
