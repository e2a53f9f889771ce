/**
 * What the simulated API server does with a write (part of the `Simulator`): server-side apply per
 * field manager (`ServerSideApply`) with quantities stored in canonical form, create-only applies,
 * updates by other managers, UID preconditions, finalizers, deletes, status applies and Events, one
 * `Action` at a time or a plan's actions in order; and `insert`, which puts an object in place as a
 * test's starting state.
 *
 * Immutable and deterministic, like the cluster it writes to. Must not run controllers
 * (`SimulatedControllers`) nor reconcile (`Simulator`).
 */
import { Predicate, Result } from "effect"
import { Action } from "./Action.ts"
import { canonicalize, invalidQuantities } from "./Canonical.ts"
import { jsonEqual, renderPath } from "./Diff.ts"
import type { ManagedFieldsEntry } from "./ManagedFields.ts"
import {
  describeRef,
  isNamespace,
  type KubeObject,
  keyOf,
  keyOfRef,
  type ObjectMeta,
  type ObjectRef
} from "./Object.ts"
import * as ServerSideApply from "./ServerSideApply.ts"
import {
  type Cluster,
  deleteObject,
  fail,
  get,
  namespaceFinalizer,
  releaseIfFree,
  SimulationError,
  store,
  withMetadata
} from "./SimulatedCluster.ts"

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
