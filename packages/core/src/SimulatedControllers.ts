/**
 * The controllers the API server's side runs, as the simulated cluster needs them (part of the
 * `Simulator`): the namespace controller (a terminating Namespace's contents go first, then its
 * `kubernetes` finalizer) and the garbage collector (background propagation), run until they have
 * nothing left to do (`settle`).
 *
 * Immutable. Must not write on a client's behalf (`SimulatedWrites`).
 */
import { Predicate } from "effect"
import { isNamespace, keyOf } from "./Object.ts"
import {
  type Cluster,
  deleteObject,
  namespaceFinalizer,
  releaseIfFree,
  specFinalizersOf
} from "./SimulatedCluster.ts"

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
