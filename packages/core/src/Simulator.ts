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
 */
import { Effect, Exit, Predicate, Result, Schema } from "effect"
import { Action } from "./Action.ts"
import { canonicalize, invalidQuantities } from "./Canonical.ts"
import { jsonEqual, renderPath } from "./Diff.ts"
import type { ManagedFieldsEntry } from "./ManagedFields.ts"
import {
  controllerUidOf,
  describeRef,
  isNamespace,
  isOfType,
  type KubeObject,
  keyOf,
  keyOfRef,
  type ObjectKey,
  type ObjectMeta,
  type ObjectRef
} from "./Object.ts"
import { type Plan, plan } from "./Plan.ts"
import { type Reconciled, reconcile } from "./Reconcile.ts"
import type { Reconciler, Snapshot } from "./Reconciler.ts"
import * as ServerSideApply from "./ServerSideApply.ts"

/** An Event the cluster recorded. */
export interface RecordedEvent {
  readonly regarding: ObjectRef
  readonly uid: string
  readonly type: "Normal" | "Warning"
  readonly reason: string
  readonly message: string
  readonly time: string
}

/** The whole state of a simulated cluster. */
export interface Cluster {
  readonly objects: ReadonlyMap<ObjectKey, KubeObject>
  readonly events: ReadonlyArray<RecordedEvent>
  /** The next UID is `uid-<nextUid>`. */
  readonly nextUid: number
  /** The next resourceVersion, as the API server's etcd revision. */
  readonly nextResourceVersion: number
}

/** Why the API server would refuse an action. */
export class SimulationError extends Schema.TaggedError<SimulationError>()("SimulationError", {
  reason: Schema.Literals(["NotFound", "Conflict", "Invalid", "Forbidden"]),
  message: Schema.String
}) {}

export const emptyCluster: Cluster = { objects: new Map(), events: [], nextUid: 1, nextResourceVersion: 1 }

/** The object at `ref`, if it exists. */
export const get = (cluster: Cluster, ref: ObjectRef): KubeObject | undefined =>
  cluster.objects.get(keyOfRef(ref))

/** Every object, in insertion order. */
export const objects = (cluster: Cluster): ReadonlyArray<KubeObject> => [...cluster.objects.values()]

// ---------------------------------------------------------------------------------------------
// Small immutable helpers

const withObjects = (cluster: Cluster, objects: Map<ObjectKey, KubeObject>): Cluster => ({
  ...cluster,
  objects
})

const put = (cluster: Cluster, object: KubeObject): Cluster => {
  const next = new Map(cluster.objects)
  next.set(keyOf(object), object)
  return withObjects(cluster, next)
}

const remove = (cluster: Cluster, key: ObjectKey): Cluster => {
  const next = new Map(cluster.objects)
  next.delete(key)
  return withObjects(cluster, next)
}

const withMetadata = (object: KubeObject, metadata: ObjectMeta): KubeObject => ({ ...object, metadata })

/** Stores `object` with the next resourceVersion. */
const store = (cluster: Cluster, object: KubeObject): Cluster =>
  put(
    { ...cluster, nextResourceVersion: cluster.nextResourceVersion + 1 },
    withMetadata(object, { ...object.metadata, resourceVersion: String(cluster.nextResourceVersion) })
  )

const fail = (reason: SimulationError["reason"], message: string): Result.Result<Cluster, SimulationError> =>
  Result.fail(new SimulationError({ reason, message }))

/** The Namespace spec finalizer the namespace controller holds until the namespace is empty. */
const namespaceFinalizer = "kubernetes"

const specFinalizersOf = (object: KubeObject): ReadonlyArray<string> => {
  if (!isNamespace(object)) return []
  const spec = object.spec
  if (!Predicate.isObject(spec)) return []
  const finalizers = spec.finalizers
  return Array.isArray(finalizers) ? finalizers.filter(Predicate.isString) : []
}

const holdsFinalizers = (object: KubeObject): boolean =>
  (object.metadata.finalizers ?? []).length > 0 || specFinalizersOf(object).length > 0

/** Marks an object deleted: a deletionTimestamp while finalizers hold it, gone otherwise. */
const deleteObject = (cluster: Cluster, object: KubeObject, now: string): Cluster => {
  if (object.metadata.deletionTimestamp !== undefined) return cluster
  if (!holdsFinalizers(object)) return remove(cluster, keyOf(object))
  const marked = withMetadata(object, { ...object.metadata, deletionTimestamp: now })
  return store(cluster, isNamespace(marked) ? { ...marked, status: { phase: "Terminating" } } : marked)
}

/** Removes a deleting object once nothing holds it any more. */
const releaseIfFree = (cluster: Cluster, object: KubeObject): Cluster =>
  object.metadata.deletionTimestamp !== undefined && !holdsFinalizers(object)
    ? remove(cluster, keyOf(object))
    : store(cluster, object)

// ---------------------------------------------------------------------------------------------
// Writing objects

/** Fields the API server sets; a client's values for them are ignored. */
const serverOwnedMetadata = (metadata: ObjectMeta): ObjectMeta => {
  const {
    uid: _uid,
    resourceVersion: _resourceVersion,
    generation: _generation,
    creationTimestamp: _creationTimestamp,
    deletionTimestamp: _deletionTimestamp,
    ...rest
  } = metadata
  return rest
}

/** What the API server adds to a new object of a few kinds. */
const withServerDefaults = (object: KubeObject): KubeObject => {
  if (!isNamespace(object)) return object
  const spec = Predicate.isObject(object.spec) ? object.spec : {}
  return {
    ...object,
    metadata: {
      ...object.metadata,
      labels: { ...object.metadata.labels, "kubernetes.io/metadata.name": object.metadata.name }
    },
    spec: { finalizers: [namespaceFinalizer], ...spec },
    status: { phase: "Active" }
  }
}

/** Drops metadata maps and lists left empty, as the API server's JSON omits them. */
const dropEmpty = (metadata: ObjectMeta): ObjectMeta => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(metadata)) {
    if (value === undefined) continue
    if (Array.isArray(value) && value.length === 0) continue
    if (Predicate.isObject(value) && Object.keys(value).length === 0) continue
    out[key] = value
  }
  return out as unknown as ObjectMeta
}

/** Everything but metadata and status: what `metadata.generation` counts changes of. */
const bodyOf = (object: KubeObject): Record<string, unknown> => {
  const { metadata: _metadata, status: _status, ...body } = object
  return body
}

/** What a client sends that the API server keeps for itself: status (its own subresource) and server-set metadata. */
const asSent = (object: KubeObject): KubeObject => {
  const { status: _status, ...applied } = object
  const { managedFields: _managedFields, ...metadata } = serverOwnedMetadata(object.metadata)
  return { ...applied, apiVersion: object.apiVersion, kind: object.kind, metadata }
}

const createObject = (
  cluster: Cluster,
  object: KubeObject,
  manager: string,
  now: string
): Result.Result<Cluster, SimulationError> => {
  const namespace = object.metadata.namespace
  if (namespace !== undefined && namespace !== "") {
    const home = cluster.objects.get(keyOfRef({ apiVersion: "v1", kind: "Namespace", name: namespace }))
    if (home === undefined) return fail("NotFound", `namespaces "${namespace}" not found`)
    if (home.metadata.deletionTimestamp !== undefined) {
      return fail(
        "Forbidden",
        `unable to create new content in namespace ${namespace} because it is being terminated`
      )
    }
  }
  const applied = canonicalize(ServerSideApply.apply(undefined, asSent(object), manager, now))
  const created = withServerDefaults({
    ...applied,
    metadata: dropEmpty({
      ...applied.metadata,
      uid: `uid-${cluster.nextUid}`,
      generation: 1,
      creationTimestamp: now
    })
  })
  return Result.succeed(store({ ...cluster, nextUid: cluster.nextUid + 1 }, created))
}

/** Managed-fields entries without their timestamps: a write that changes nothing else is no change. */
const timeless = (entries: ReadonlyArray<ManagedFieldsEntry> | undefined) =>
  (entries ?? []).map(({ time: _time, ...entry }) => entry)

const sameButTimes = (a: KubeObject, b: KubeObject): boolean => {
  const { managedFields: ma, ...metaA } = a.metadata
  const { managedFields: mb, ...metaB } = b.metadata
  return (
    jsonEqual({ ...a, metadata: metaA }, { ...b, metadata: metaB }) && jsonEqual(timeless(ma), timeless(mb))
  )
}

/** Stores `next` over `current` unless nothing but managed-field times changed, bumping the generation when the body did. */
const storeUpdate = (cluster: Cluster, current: KubeObject, next: KubeObject): Cluster => {
  const tidy = canonicalize({ ...next, metadata: dropEmpty(next.metadata) })
  if (sameButTimes(tidy, current)) return cluster
  const bodyChanged = !jsonEqual(bodyOf(tidy), bodyOf(current))
  const generation = (current.metadata.generation ?? 1) + (bodyChanged ? 1 : 0)
  return store(cluster, withMetadata(tidy, { ...tidy.metadata, generation }))
}

const applyObject = (
  cluster: Cluster,
  object: KubeObject,
  manager: string,
  now: string,
  create: boolean
): Result.Result<Cluster, SimulationError> => {
  if (object.metadata.name === "") return fail("Invalid", `${object.kind}: metadata.name: Required value`)
  const invalid = invalidQuantities(object)
  const first = invalid[0]
  if (first !== undefined) {
    return fail(
      "Invalid",
      `${describeRef({ ...object.metadata, apiVersion: object.apiVersion, kind: object.kind })}: ${renderPath(first.path)}: Invalid value: ${JSON.stringify(first.value)}: quantities must match the regular expression`
    )
  }
  const current = cluster.objects.get(keyOf(object))
  if (current === undefined) return createObject(cluster, object, manager, now)
  // A create-only apply (the runtime's resourceVersion precondition) never lands on an existing object.
  if (create) {
    const ref = { ...object.metadata, apiVersion: object.apiVersion, kind: object.kind }
    return fail(
      "Conflict",
      `Operation cannot be fulfilled on ${describeRef(ref)}: the object has been modified`
    )
  }
  return Result.succeed(
    storeUpdate(cluster, current, ServerSideApply.apply(current, asSent(object), manager, now))
  )
}

/** Another field manager applies `object` (with force), as `kubectl apply --server-side` would. */
export const applyAs = (
  cluster: Cluster,
  object: KubeObject,
  manager: string,
  now: string
): Result.Result<Cluster, SimulationError> => applyObject(cluster, object, manager, now, false)

/**
 * Another field manager writes `object` whole over the stored one (a `kubectl edit`, a PUT):
 * fields it changes become its own. Server-set metadata is kept from the stored object.
 */
export const updateAs = (cluster: Cluster, object: KubeObject, manager: string, now: string): Cluster => {
  const current = cluster.objects.get(keyOf(object))
  if (current === undefined) return cluster
  const next = ServerSideApply.update(
    current,
    {
      ...asSent(object),
      metadata: {
        ...current.metadata,
        ...asSent(object).metadata,
        managedFields: current.metadata.managedFields
      },
      ...(current.status === undefined ? {} : { status: current.status })
    },
    manager,
    now
  )
  return storeUpdate(cluster, current, next)
}

/** The object at `ref` if it still has `uid`, as a UID precondition checks. */
const preconditioned = (
  cluster: Cluster,
  ref: ObjectRef,
  uid: string
): Result.Result<KubeObject, SimulationError> => {
  const current = get(cluster, ref)
  if (current === undefined) {
    return Result.fail(new SimulationError({ reason: "NotFound", message: `${describeRef(ref)} not found` }))
  }
  if (current.metadata.uid !== uid) {
    return Result.fail(
      new SimulationError({
        reason: "Conflict",
        message: `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.metadata.uid ?? ""}`
      })
    )
  }
  return Result.succeed(current)
}

/** Executes one action as the API server would; writes are made as field manager `manager`. */
export const applyAction = (
  cluster: Cluster,
  action: Action,
  now: string,
  manager: string
): Result.Result<Cluster, SimulationError> =>
  Action.$match(action, {
    Apply: ({ object, uid, create }) => {
      const current = cluster.objects.get(keyOf(object))
      if (uid !== undefined && current !== undefined && current.metadata.uid !== uid) {
        return fail(
          "Conflict",
          `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.metadata.uid ?? ""}`
        )
      }
      return applyObject(cluster, object, manager, now, create)
    },
    Delete: ({ ref, uid }) =>
      Result.map(preconditioned(cluster, ref, uid), (current) => deleteObject(cluster, current, now)),
    AddFinalizer: ({ ref, uid, finalizer }) =>
      Result.flatMap(preconditioned(cluster, ref, uid), (current) => {
        const finalizers = current.metadata.finalizers ?? []
        if (finalizers.includes(finalizer)) return Result.succeed(cluster)
        if (current.metadata.deletionTimestamp !== undefined) {
          return fail(
            "Forbidden",
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted"
          )
        }
        return Result.succeed(
          store(
            cluster,
            withMetadata(current, { ...current.metadata, finalizers: [...finalizers, finalizer] })
          )
        )
      }),
    RemoveFinalizer: ({ ref, uid, finalizer }) =>
      Result.map(preconditioned(cluster, ref, uid), (current) => {
        const finalizers = current.metadata.finalizers ?? []
        if (!finalizers.includes(finalizer)) return cluster
        const rest = finalizers.filter((name) => name !== finalizer)
        const { finalizers: _finalizers, ...metadata } = current.metadata
        return releaseIfFree(
          cluster,
          withMetadata(current, rest.length > 0 ? { ...metadata, finalizers: rest } : metadata)
        )
      }),
    // The API server ignores metadata in a status apply: no UID precondition, only the name.
    ApplyStatus: ({ ref, status }) => {
      const current = get(cluster, ref)
      if (current === undefined) {
        return Result.fail(
          new SimulationError({ reason: "NotFound", message: `${describeRef(ref)} not found` })
        )
      }
      const applied: KubeObject = {
        apiVersion: current.apiVersion,
        kind: current.kind,
        metadata: { name: current.metadata.name, namespace: current.metadata.namespace },
        status
      }
      const next = ServerSideApply.apply(current, applied, manager, now, "status")
      return Result.succeed(sameButTimes(next, current) ? cluster : store(cluster, next))
    },
    Event: ({ regarding, uid, type, reason, message }) =>
      Result.succeed({
        ...cluster,
        events: [...cluster.events, { regarding, uid, type, reason, message, time: now }]
      }),
    Requeue: () => Result.succeed(cluster)
  })

/** The result of executing a plan: the cluster after the actions that ran, and the one that failed, if any. */
export interface Execution {
  readonly cluster: Cluster
  /** How many actions succeeded. */
  readonly applied: number
  readonly failure?: { readonly action: Action; readonly error: SimulationError } | undefined
}

/** Executes actions in order as `manager` and stops at the first failure, as the runtime's interpreter does. */
export const applyActions = (
  cluster: Cluster,
  actions: ReadonlyArray<Action>,
  now: string,
  manager: string
): Execution => {
  let current = cluster
  let applied = 0
  for (const action of actions) {
    const result = applyAction(current, action, now, manager)
    if (Result.isFailure(result))
      return { cluster: current, applied, failure: { action, error: result.failure } }
    current = result.success
    applied++
  }
  return { cluster: current, applied }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/**
 * Puts `object` into the cluster as it is, the way a test sets up a state: its UID, finalizers,
 * owner references and deletionTimestamp are kept; a missing UID, resourceVersion, generation or
 * creationTimestamp is filled in; a terminating Namespace gets phase Terminating (its other status
 * is kept). Quantities are stored in canonical form. No admission checks.
 */
export const insert = (cluster: Cluster, object: KubeObject, now = "1970-01-01T00:00:00Z"): Cluster => {
  const uid = object.metadata.uid ?? `uid-${cluster.nextUid}`
  const next = object.metadata.uid === undefined ? { ...cluster, nextUid: cluster.nextUid + 1 } : cluster
  const metadata: ObjectMeta = {
    ...object.metadata,
    uid,
    generation: object.metadata.generation ?? 1,
    creationTimestamp: object.metadata.creationTimestamp ?? now
  }
  const defaulted = withServerDefaults(withMetadata(object, metadata))
  const placed =
    isNamespace(defaulted) && metadata.deletionTimestamp !== undefined
      ? {
          ...defaulted,
          status: { ...(Predicate.isObject(object.status) ? object.status : {}), phase: "Terminating" }
        }
      : defaulted
  return store(next, canonicalize(placed))
}

/** Inserts each object in turn. */
export const insertAll = (cluster: Cluster, objects: Iterable<KubeObject>, now?: string): Cluster => {
  let current = cluster
  for (const object of objects)
    current = now === undefined ? insert(current, object) : insert(current, object, now)
  return current
}

// ---------------------------------------------------------------------------------------------
// Controllers the API server's side runs

/**
 * The namespace controller, once over every terminating Namespace: deletes its contents; when it
 * is empty, drops the `kubernetes` spec finalizer, and the namespace goes once nothing holds it.
 */
const namespaceControllerPass = (cluster: Cluster, now: string): Cluster => {
  let current = cluster
  for (const namespace of cluster.objects.values()) {
    if (!isNamespace(namespace) || namespace.metadata.deletionTimestamp === undefined) continue
    const name = namespace.metadata.name
    let empty = true
    for (const object of current.objects.values()) {
      if (object.metadata.namespace !== name) continue
      empty = false
      current = deleteObject(current, object, now)
    }
    const latest = current.objects.get(keyOf(namespace))
    if (!empty || latest === undefined || !specFinalizersOf(latest).includes(namespaceFinalizer)) continue
    const spec = {
      ...(Predicate.isObject(latest.spec) ? latest.spec : {}),
      finalizers: specFinalizersOf(latest).filter((f) => f !== namespaceFinalizer)
    }
    current = releaseIfFree(current, { ...latest, spec })
  }
  return current
}

/**
 * The garbage collector, once over every object (background propagation): an object all of whose
 * owners are gone is deleted.
 */
const garbageCollectorPass = (cluster: Cluster, now: string): Cluster => {
  const uids = new Set<string>()
  for (const object of cluster.objects.values())
    if (object.metadata.uid !== undefined) uids.add(object.metadata.uid)
  let current = cluster
  for (const object of cluster.objects.values()) {
    const owners = object.metadata.ownerReferences ?? []
    if (owners.length > 0 && owners.every((owner) => !uids.has(owner.uid)))
      current = deleteObject(current, object, now)
  }
  return current
}

/** Runs the namespace controller and the garbage collector until they have nothing left to do. */
export const settle = (cluster: Cluster, now: string): Cluster => {
  let current = cluster
  for (let pass = 0; pass < 100; pass++) {
    const next = garbageCollectorPass(namespaceControllerPass(current, now), now)
    if (next.objects === current.objects || sameObjects(next, current)) return next
    current = next
  }
  return current
}

const sameObjects = (a: Cluster, b: Cluster): boolean => {
  if (a.objects.size !== b.objects.size) return false
  for (const [key, object] of a.objects) if (b.objects.get(key) !== object) return false
  return true
}

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
