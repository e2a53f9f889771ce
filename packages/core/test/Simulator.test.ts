import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { Action, controllerReference, type KubeObject, refOf, Simulator } from "../src/index.ts"

const now = "2024-06-01T12:00:00Z"

const run = (cluster: Simulator.Cluster, ...actions: ReadonlyArray<Action>): Simulator.Cluster => {
  const execution = Simulator.applyActions(cluster, actions, now)
  if (execution.failure !== undefined) throw new Error(execution.failure.error.message)
  return execution.cluster
}

const namespace: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: "n" } }
const configMap: KubeObject = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "c", namespace: "n", labels: { a: "1" } },
  data: { k: "v" }
}
const quota: KubeObject = {
  apiVersion: "v1",
  kind: "ResourceQuota",
  metadata: { name: "q", namespace: "n" },
  spec: { hard: { "requests.cpu": "1000m", "requests.memory": "1024Mi" } }
}

const created = run(
  Simulator.emptyCluster,
  Action.Apply({ object: namespace, create: true }),
  Action.Apply({ object: configMap, create: true }),
  Action.Apply({ object: quota, create: true })
)
const stored = (ref: KubeObject, cluster = created): KubeObject => {
  const object = Simulator.get(cluster, refOf(ref))
  if (object === undefined) throw new Error(`${ref.metadata.name} is missing`)
  return object
}

describe("Simulator: writes", () => {
  it("creates with counters for uid and resourceVersion, generation 1, server defaults, canonical quantities", () => {
    assert.deepInclude(stored(namespace).metadata, {
      uid: "uid-1",
      resourceVersion: "1",
      generation: 1,
      creationTimestamp: now
    })
    assert.deepStrictEqual(stored(namespace).spec, { finalizers: ["kubernetes"] })
    assert.strictEqual(stored(namespace).metadata.labels?.["kubernetes.io/metadata.name"], "n")
    assert.deepStrictEqual(stored(quota).spec, { hard: { "requests.cpu": "1", "requests.memory": "1Gi" } })
  })

  it("refuses to create in a missing or terminating namespace, and refuses invalid quantities", () => {
    const orphan = Simulator.applyAction(
      Simulator.emptyCluster,
      Action.Apply({ object: configMap, create: true }),
      now
    )
    assert.strictEqual(Result.isFailure(orphan) ? orphan.failure.reason : undefined, "NotFound")
    const bad = Simulator.applyAction(
      created,
      Action.Apply({ object: { ...quota, spec: { hard: { pods: "many" } } }, create: false }),
      now
    )
    assert.strictEqual(Result.isFailure(bad) ? bad.failure.reason : undefined, "Invalid")
    const terminating = run(created, Action.Delete({ ref: refOf(namespace), uid: "uid-1" }))
    const late = Simulator.applyAction(
      terminating,
      Action.Apply({ object: { ...configMap, metadata: { name: "d", namespace: "n" } }, create: true }),
      now
    )
    assert.strictEqual(Result.isFailure(late) ? late.failure.reason : undefined, "Forbidden")
  })

  it("merges an apply: maps merge, lists are replaced; generation moves only with the body", () => {
    const labelled = run(
      created,
      Action.Apply({
        object: {
          ...configMap,
          metadata: { ...configMap.metadata, labels: { b: "2" } },
          data: { other: "x" }
        },
        create: false
      })
    )
    const after = stored(configMap, labelled)
    assert.deepStrictEqual(after.metadata.labels, { a: "1", b: "2" })
    assert.deepStrictEqual(after.data, { k: "v", other: "x" })
    assert.strictEqual(after.metadata.generation, 2)
    const onlyLabels = run(
      labelled,
      Action.Apply({
        object: { ...configMap, metadata: { ...configMap.metadata, labels: { c: "3" } } },
        create: false
      })
    )
    assert.strictEqual(stored(configMap, onlyLabels).metadata.generation, 2)
    assert.notStrictEqual(
      stored(configMap, onlyLabels).metadata.resourceVersion,
      after.metadata.resourceVersion
    )
  })

  it("does not touch an object when an apply changes nothing (quantities compared as stored)", () => {
    const again = run(
      created,
      Action.Apply({
        object: { ...quota, spec: { hard: { "requests.cpu": "1", "requests.memory": "1Gi" } } },
        create: false
      })
    )
    assert.strictEqual(stored(quota, again), stored(quota))
    assert.strictEqual(again.nextResourceVersion, created.nextResourceVersion)
  })

  it("patches status without moving the generation", () => {
    const patched = run(
      created,
      Action.PatchStatus({ ref: refOf(quota), uid: "uid-3", status: { used: { pods: "1" } } })
    )
    assert.deepStrictEqual(stored(quota, patched).status, { used: { pods: "1" } })
    assert.strictEqual(stored(quota, patched).metadata.generation, 1)
  })

  it("records events", () => {
    const withEvent = run(
      created,
      Action.Event({
        regarding: refOf(namespace),
        uid: "uid-1",
        type: "Normal",
        reason: "Created",
        message: "m"
      })
    )
    assert.deepStrictEqual(withEvent.events, [
      {
        regarding: refOf(namespace),
        uid: "uid-1",
        type: "Normal",
        reason: "Created",
        message: "m",
        time: now
      }
    ])
  })
})

describe("Simulator: deletion", () => {
  it("refuses an update whose UID precondition names a different object", () => {
    const result = Simulator.applyAction(
      created,
      Action.Apply({ object: configMap, create: false, uid: "uid-9" }),
      now
    )
    assert.strictEqual(Result.isFailure(result) ? result.failure.reason : undefined, "Conflict")
  })

  it("checks the UID precondition", () => {
    const result = Simulator.applyAction(created, Action.Delete({ ref: refOf(configMap), uid: "uid-1" }), now)
    assert.strictEqual(Result.isFailure(result) ? result.failure.reason : undefined, "Conflict")
    const missing = Simulator.applyAction(
      Simulator.emptyCluster,
      Action.Delete({ ref: refOf(configMap), uid: "uid-2" }),
      now
    )
    assert.strictEqual(Result.isFailure(missing) ? missing.failure.reason : undefined, "NotFound")
  })

  it("holds a finalized object until its last finalizer goes, and refuses new finalizers meanwhile", () => {
    const held = run(created, Action.AddFinalizer({ ref: refOf(configMap), uid: "uid-2", finalizer: "x/y" }))
    const deleting = run(held, Action.Delete({ ref: refOf(configMap), uid: "uid-2" }))
    assert.strictEqual(stored(configMap, deleting).metadata.deletionTimestamp, now)
    const refused = Simulator.applyAction(
      deleting,
      Action.AddFinalizer({ ref: refOf(configMap), uid: "uid-2", finalizer: "x/z" }),
      now
    )
    assert.strictEqual(Result.isFailure(refused) ? refused.failure.reason : undefined, "Forbidden")
    const gone = run(
      deleting,
      Action.RemoveFinalizer({ ref: refOf(configMap), uid: "uid-2", finalizer: "x/y" })
    )
    assert.isUndefined(Simulator.get(gone, refOf(configMap)))
  })

  it("deletes a namespace's contents before the namespace itself", () => {
    const terminating = run(created, Action.Delete({ ref: refOf(namespace), uid: "uid-1" }))
    assert.deepStrictEqual(stored(namespace, terminating).status, { phase: "Terminating" })
    assert.isDefined(Simulator.get(terminating, refOf(configMap)))
    const settled = Simulator.settle(terminating, now)
    assert.deepStrictEqual(Simulator.objects(settled), [])
  })

  it("collects objects whose owners are gone (background propagation)", () => {
    const owner: KubeObject = {
      apiVersion: "test.kleff.io/v1",
      kind: "Tenant",
      metadata: { name: "t", uid: "uid-owner" }
    }
    const child: KubeObject = {
      ...configMap,
      metadata: { ...configMap.metadata, name: "owned", ownerReferences: [controllerReference(owner)] }
    }
    const cluster = Simulator.insertAll(created, [owner, child])
    assert.isDefined(Simulator.get(Simulator.settle(cluster, now), refOf(child)))
    const ownerGone = run(cluster, Action.Delete({ ref: refOf(owner), uid: "uid-owner" }))
    assert.isUndefined(Simulator.get(Simulator.settle(ownerGone, now), refOf(child)))
    assert.isDefined(Simulator.get(Simulator.settle(ownerGone, now), refOf(configMap)))
  })
})
