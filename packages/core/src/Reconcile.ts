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
 * A write the port calls a refusal (`Port.refusal`: the API server refused it for good) ends the
 * writes: the protocol plans again from a fresh snapshot with the refusal in the outcome, writes
 * only the status that reports it (unless the refused write was the status itself), and returns
 * the refusal instead of failing, for the runtime to retry slowly.
 *
 * Generic over how snapshots are taken and actions executed (a `Port`); owns the order of the
 * steps only. Must not retry, wait or decide anything itself.
 */
import { Effect } from "effect"
import { type Action, isWrite } from "./Action.ts"
import { type KubeObject, keyOf, keyOfRef } from "./Object.ts"
import { type Plan, plan, refusedEventReason } from "./Plan.ts"
import type { Reconciler, Refusal, Snapshot } from "./Reconciler.ts"

/** Where a reconcile reads and writes. */
export interface Port<E, R> {
  /** The primary's snapshot as it is now (after this reconcile's writes so far); `undefined` once it is gone. */
  readonly snapshot: Effect.Effect<Snapshot | undefined, never, R>
  /** Executes actions in order, stopping at the first failure. */
  readonly execute: (actions: ReadonlyArray<Action>, snapshot: Snapshot) => Effect.Effect<void, E, R>
  /** The current time, RFC 3339. */
  readonly now: string
  /** Which failures of `execute` are refusals to report rather than errors to retry (none if undefined). */
  readonly refusal?: ((error: E) => Refusal | undefined) | undefined
}

/** What one reconcile did. */
export interface Reconciled<D = unknown> {
  /** The first plan (children, events, finalizers); `undefined` when the primary was gone. */
  readonly plan: Plan<D> | undefined
  /** The status write the second plan asked for, if it was made after child writes. */
  readonly status: ReadonlyArray<Action>
  /** Look at the primary again after this long (waiting, or periodic work); never if undefined. */
  readonly requeueAfterMillis: number | undefined
  /** A write the API server refused for good, now reported in the status; undefined otherwise. */
  readonly refused?: Refusal | undefined
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
    const decided = first.decision === undefined ? undefined : { decision: first.decision }

    /** Executes, turning a refusal into a value; any other failure fails the reconcile. */
    const execute = (actions: ReadonlyArray<Action>, from: Snapshot) =>
      port.execute(actions, from).pipe(
        Effect.map(() => undefined),
        Effect.catch((error) => {
          const refused = port.refusal?.(error)
          return refused === undefined ? Effect.fail(error) : Effect.succeed(refused)
        })
      )

    /**
     * After a refusal: the status that reports it, from a snapshot holding the writes that did
     * land; nothing when the refused write was to the primary itself (its finalizers or status).
     */
    const report = (refused: Refusal) =>
      Effect.gen(function* () {
        const after = yield* port.snapshot
        if (after === undefined || keyOfRef(refused.ref) === keyOf(snapshot.primary))
          return { plan: first, status: [], requeueAfterMillis, refused }
        const again = plan(reconciler, after, port.now, { decided, refused })
        const status = again.actions.filter(
          (action) =>
            action._tag === "ApplyStatus" || (action._tag === "Event" && action.reason === refusedEventReason)
        )
        const failed = yield* execute(status, after)
        return { plan: first, status, requeueAfterMillis, refused: failed ?? refused }
      })

    if (!first.actions.some(isChildWrite)) {
      if (!first.actions.some(isWrite)) return { plan: first, status: [], requeueAfterMillis }
      const refused = yield* execute(first.actions, snapshot)
      return refused === undefined ? { plan: first, status: [], requeueAfterMillis } : yield* report(refused)
    }
    const childRefused = yield* execute(
      first.actions.filter((action) => action._tag !== "ApplyStatus"),
      snapshot
    )
    if (childRefused !== undefined) return yield* report(childRefused)
    const after = yield* port.snapshot
    if (after === undefined) return { plan: first, status: [], requeueAfterMillis }
    const again = plan(reconciler, after, port.now, { decided })
    const status = again.actions.filter((action) => action._tag === "ApplyStatus")
    if (status.length === 0) return { plan: first, status, requeueAfterMillis }
    const statusRefused = yield* execute(status, after)
    return statusRefused === undefined
      ? { plan: first, status, requeueAfterMillis }
      : { plan: first, status: [], requeueAfterMillis, refused: statusRefused }
  })
