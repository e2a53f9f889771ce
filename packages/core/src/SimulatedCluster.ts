/**
 * The simulated cluster as data (part of the `Simulator`): its objects, recorded Events, counters
 * for UIDs and resourceVersions, and the storage rules every write and controller shares: a
 * stored object gets the next resourceVersion, a deleted one a deletionTimestamp while finalizers
 * (a Namespace's spec finalizer too) hold it.
 *
 * Immutable: every function returns a new `Cluster`. Must not decide what a write or a
 * controller does (`SimulatedWrites`, `SimulatedControllers`).
 */
import { Predicate, Result, Schema } from "effect"
import {
  isNamespace,
  type KubeObject,
  keyOf,
  keyOfRef,
  type ObjectKey,
  type ObjectMeta,
  type ObjectRef
} from "./Object.ts"

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

export const withMetadata = (object: KubeObject, metadata: ObjectMeta): KubeObject => ({
  ...object,
  metadata
})

/** Stores `object` with the next resourceVersion. */
export const store = (cluster: Cluster, object: KubeObject): Cluster =>
  put(
    { ...cluster, nextResourceVersion: cluster.nextResourceVersion + 1 },
    withMetadata(object, { ...object.metadata, resourceVersion: String(cluster.nextResourceVersion) })
  )

export const fail = (
  reason: SimulationError["reason"],
  message: string
): Result.Result<Cluster, SimulationError> => Result.fail(new SimulationError({ reason, message }))

/** The Namespace spec finalizer the namespace controller holds until the namespace is empty. */
export const namespaceFinalizer = "kubernetes"

export const specFinalizersOf = (object: KubeObject): ReadonlyArray<string> => {
  if (!isNamespace(object)) return []
  const spec = object.spec
  if (!Predicate.isObject(spec)) return []
  const finalizers = spec.finalizers
  return Array.isArray(finalizers) ? finalizers.filter(Predicate.isString) : []
}

const holdsFinalizers = (object: KubeObject): boolean =>
  (object.metadata.finalizers ?? []).length > 0 || specFinalizersOf(object).length > 0

/** Marks an object deleted: a deletionTimestamp while finalizers hold it, gone otherwise. */
export const deleteObject = (cluster: Cluster, object: KubeObject, now: string): Cluster => {
  if (object.metadata.deletionTimestamp !== undefined) return cluster
  if (!holdsFinalizers(object)) return remove(cluster, keyOf(object))
  const marked = withMetadata(object, { ...object.metadata, deletionTimestamp: now })
  return store(cluster, isNamespace(marked) ? { ...marked, status: { phase: "Terminating" } } : marked)
}

/** Removes a deleting object once nothing holds it any more. */
export const releaseIfFree = (cluster: Cluster, object: KubeObject): Cluster =>
  object.metadata.deletionTimestamp !== undefined && !holdsFinalizers(object)
    ? remove(cluster, keyOf(object))
    : store(cluster, object)
