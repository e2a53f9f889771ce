/**
 * An in-memory cluster that executes Actions the way the API server would, for property tests and
 * dry runs: server-side apply per field manager (`ServerSideApply`: who owns which field, removal
 * of fields a manager stops sending, force) with quantities stored in canonical form, updates by
 * other managers, create-only applies, UID preconditions (on delete, and on an apply that names
 * the UID it updates), finalizers and deletionTimestamps, the namespace controller (a Namespace's
 * contents go before it does) and the garbage collector (background propagation). Reconciles run
 * through the one protocol (`Reconcile`), as in the Controller.
 *
 * Immutable and deterministic: every step returns a new `Cluster`; UIDs and resourceVersions come
 * from counters and time from the caller. Must not be mistaken for the API server: it models only
 * what the planner's correctness depends on (no admission, no validation beyond quantities).
 *
 * This module observes and converges; the cluster as data is `SimulatedCluster`, what a write does
 * `SimulatedWrites`, the namespace controller and garbage collector `SimulatedControllers`. All of
 * it is exported from here, as `Simulator`.
 */
import { Effect, Exit } from "effect"
import type { Action } from "./Action.ts"
import { controllerUidOf, isOfType, type KubeObject, keyOfRef, type ObjectRef } from "./Object.ts"
import { type Plan, plan } from "./Plan.ts"
import { type Reconciled, reconcile } from "./Reconcile.ts"
import type { Reconciler, Snapshot } from "./Reconciler.ts"
import { type Cluster, get } from "./SimulatedCluster.ts"
import { settle } from "./SimulatedControllers.ts"
import { applyActions, type Execution } from "./SimulatedWrites.ts"

export {
  type Cluster,
  emptyCluster,
  get,
  objects,
  type RecordedEvent,
  SimulationError
} from "./SimulatedCluster.ts"
export { settle } from "./SimulatedControllers.ts"
export {
  applyAction,
  applyActions,
  applyAs,
  type Execution,
  insert,
  insertAll,
  updateAs
} from "./SimulatedWrites.ts"

// ---------------------------------------------------------------------------------------------
// Observing and converging

/**
 * The snapshot a controller's cache would give for `primaryRef`: `owned` is every object of the
 * reconciler's owned types whose controller is the primary's UID. `undefined` once the primary is gone.
 */
export const observe = (
  cluster: Cluster,
  primaryRef: ObjectRef,
  reconciler: Pick<Reconciler, "primary" | "owned">
): Snapshot | undefined => {
  const primary = get(cluster, primaryRef)
  if (primary === undefined || !isOfType(primary, reconciler.primary)) return undefined
  const uid = primary.metadata.uid
  const owned: Array<KubeObject> = []
  if (uid !== undefined && uid !== "") {
    for (const object of cluster.objects.values()) {
      if (controllerUidOf(object) === uid && reconciler.owned.some((type) => isOfType(object, type)))
        owned.push(object)
    }
  }
  const objects = cluster.objects
  return { primary, owned, get: (ref, key) => objects.get(key ?? keyOfRef(ref)) }
}

/** One reconcile of a convergence run. */
export interface Round<D = unknown> {
  /** The cluster the reconcile started from (settled). */
  readonly cluster: Cluster
  readonly snapshot: Snapshot
  /** The reconcile's first plan. */
  readonly plan: Plan<D>
  /** The status write of the re-plan after child writes, if any. */
  readonly status: ReadonlyArray<Action>
  readonly failure?: Execution["failure"]
}

export interface Convergence<D = unknown> {
  readonly cluster: Cluster
  /** The reconciles that wrote something, in order. */
  readonly rounds: ReadonlyArray<Round<D>>
  /** The last plan, which writes nothing when `converged` (absent when the primary is gone). */
  readonly final: Plan<D> | undefined
  /** True when a reconcile with no write was reached (or the primary is gone) within `maxRounds`. */
  readonly converged: boolean
}

/** What one reconcile through the protocol did to `cluster`. */
export interface Step<D = unknown> {
  readonly cluster: Cluster
  readonly snapshot: Snapshot | undefined
  /** What the reconcile did; when an action failed, the first plan (pure, so planned again) and no status. */
  readonly reconciled: Reconciled<D> | undefined
  readonly failure?: Execution["failure"]
}

/**
 * One reconcile of `primaryRef` through the protocol every runtime uses (`Reconcile`), executing
 * as the reconciler's field manager. `snapshotOf` replaces how the cache is read (tests use it to
 * observe loosely).
 */
export const reconcileOnce = <P extends KubeObject, D>(
  cluster: Cluster,
  primaryRef: ObjectRef,
  reconciler: Reconciler<P, D>,
  options: {
    readonly now: string
    readonly snapshotOf?: ((cluster: Cluster) => Snapshot | undefined) | undefined
  }
): Step<D> => {
  let current = cluster
  const snapshotOf = options.snapshotOf ?? ((state: Cluster) => observe(state, primaryRef, reconciler))
  const first = snapshotOf(current)
  const exit = Effect.runSyncExit(
    reconcile(reconciler, {
      now: options.now,
      snapshot: Effect.sync(() => snapshotOf(current)),
      execute: (actions) => {
        const execution = applyActions(current, actions, options.now, reconciler.name)
        current = execution.cluster
        return execution.failure === undefined ? Effect.void : Effect.fail(execution.failure)
      }
    })
  )
  if (Exit.isSuccess(exit)) return { cluster: current, snapshot: first, reconciled: exit.value }
  const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (failure === undefined || failure._tag !== "Fail" || first === undefined)
    throw new Error(`reconcile died: ${String(exit.cause)}`)
  return {
    cluster: current,
    snapshot: first,
    reconciled: { plan: plan(reconciler, first, options.now), status: [], requeueAfterMillis: undefined },
    failure: failure.error
  }
}

/**
 * Reconciles `primaryRef` until a reconcile writes nothing: settle the cluster's own controllers,
 * then one reconcile through the protocol, at most `maxRounds` times.
 */
export const converge = <P extends KubeObject, D>(
  cluster: Cluster,
  primaryRef: ObjectRef,
  reconciler: Reconciler<P, D>,
  options: {
    readonly now: string
    readonly maxRounds?: number | undefined
    readonly snapshotOf?: ((cluster: Cluster) => Snapshot | undefined) | undefined
  }
): Convergence<D> => {
  const maxRounds = options.maxRounds ?? 10
  const rounds: Array<Round<D>> = []
  let current = cluster
  for (let round = 0; round <= maxRounds; round++) {
    current = settle(current, options.now)
    const step = reconcileOnce(current, primaryRef, reconciler, options)
    if (step.snapshot === undefined) return { cluster: current, rounds, final: undefined, converged: true }
    const firstPlan = step.reconciled?.plan
    const wrote =
      step.failure !== undefined || (firstPlan?.actions.some((action) => action._tag !== "Requeue") ?? false)
    if (!wrote && firstPlan !== undefined)
      return { cluster: current, rounds, final: firstPlan, converged: true }
    if (round === maxRounds) return { cluster: current, rounds, final: firstPlan, converged: false }
    rounds.push({
      cluster: current,
      snapshot: step.snapshot,
      plan: firstPlan ?? plan(reconciler, step.snapshot, options.now),
      status: step.reconciled?.status ?? [],
      failure: step.failure
    })
    current = step.cluster
  }
  return { cluster: current, rounds, final: undefined, converged: false }
}
