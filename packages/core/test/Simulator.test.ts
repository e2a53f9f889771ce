import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { Action, controllerReference, type KubeObject, refOf, Simulator } from "../src/index.ts"

const now = "2024-06-01T12:00:00Z"

const run = (cluster: Simulator.Cluster, ...actions: ReadonlyArray<Action>): Simulator.Cluster => {
  const execution = Simulator.applyActions(cluster, actions, now, "test-manager")
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
      now,
      "test-manager"
    )
    assert.strictEqual(Result.isFailure(orphan) ? orphan.failure.reason : undefined, "NotFound")
    const bad = Simulator.applyAction(
      created,
      Action.Apply({ object: { ...quota, spec: { hard: { pods: "many" } } }, create: false }),
      now,
      "test-manager"
    )
    assert.strictEqual(Result.isFailure(bad) ? bad.failure.reason : undefined, "Invalid")
    const terminating = run(created, Action.Delete({ ref: refOf(namespace), uid: "uid-1" }))
    const late = Simulator.applyAction(
      terminating,
      Action.Apply({ object: { ...configMap, metadata: { name: "d", namespace: "n" } }, create: true }),
      now,
      "test-manager"
    )
    assert.strictEqual(Result.isFailure(late) ? late.failure.reason : undefined, "Forbidden")
  })

  it("applies per field manager: an apply drops what its manager stops sending, keeps what others own; generation moves only with the body", () => {
    const reapplied = run(
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
    const after = stored(configMap, reapplied)
    assert.deepStrictEqual(after.metadata.labels, { b: "2" })
    assert.deepStrictEqual(after.data, { other: "x" })
    assert.strictEqual(after.metadata.generation, 2)
    const decorated = Simulator.applyAs(
      reapplied,
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "n", labels: { c: "3" } } },
      "someone-else",
      now
    )
    assert.isTrue(Result.isSuccess(decorated))
    const both = Result.getOrThrow(decorated)
    assert.deepStrictEqual(stored(configMap, both).metadata.labels, { b: "2", c: "3" })
    assert.strictEqual(stored(configMap, both).metadata.generation, 2)
    assert.notStrictEqual(stored(configMap, both).metadata.resourceVersion, after.metadata.resourceVersion)
    // The same apply again changes nothing, not even the resourceVersion; the other label stays.
    const again = run(
      both,
      Action.Apply({
        object: {
          ...configMap,
          metadata: { ...configMap.metadata, labels: { b: "2" } },
          data: { other: "x" }
        },
        create: false
      })
    )
    assert.strictEqual(stored(configMap, again), stored(configMap, both))
  })

  it("merges keyed lists element by element and records them as the API server does", () => {
    const pod = (containers: ReadonlyArray<Record<string, unknown>>): KubeObject => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "n" },
      spec: { containers }
    })
    const mine = run(created, Action.Apply({ object: pod([{ name: "app", image: "a:1" }]), create: true }))
    const sidecar = Result.getOrThrow(
      Simulator.applyAs(mine, pod([{ name: "proxy", image: "p:1" }]), "injector", now)
    )
    assert.deepStrictEqual((stored(pod([]), sidecar).spec as { containers: unknown }).containers, [
      { name: "app", image: "a:1" },
      { name: "proxy", image: "p:1" }
    ])
    const owned = stored(pod([]), sidecar).metadata.managedFields?.find((e) => e.manager === "test-manager")
    assert.deepStrictEqual(owned?.fieldsV1, {
      "f:spec": { "f:containers": { 'k:{"name":"app"}': { ".": {}, "f:name": {}, "f:image": {} } } }
    })
    // Dropping its container removes that one only.
    const dropped = run(sidecar, Action.Apply({ object: pod([]), create: false }))
    assert.deepStrictEqual((stored(pod([]), dropped).spec as { containers: unknown }).containers, [
      { name: "proxy", image: "p:1" }
    ])
  })

  it("force takes a field another manager set to another value; an update takes the fields it changes", () => {
    const forced = run(
      Result.getOrThrow(
        Simulator.applyAs(
          created,
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "c", namespace: "n" },
            data: { k: "theirs" }
          },
          "someone-else",
          now
        )
      ),
      Action.Apply({ object: configMap, create: false })
    )
    assert.deepStrictEqual(stored(configMap, forced).data, { k: "v" })
    assert.deepStrictEqual(
      stored(configMap, forced).metadata.managedFields?.map((entry) => entry.manager),
      ["test-manager"]
    )
    const edited = Simulator.updateAs(
      forced,
      { ...stored(configMap, forced), data: { k: "edited" } },
      "kubectl-edit",
      now
    )
    const entries = stored(configMap, edited).metadata.managedFields ?? []
    assert.deepStrictEqual(
      entries.map((entry) => [entry.manager, entry.operation, entry.fieldsV1]),
      [
        ["test-manager", "Apply", { "f:metadata": { "f:labels": { "f:a": {} } } }],
        ["kubectl-edit", "Update", { "f:data": { "f:k": {} } }]
      ]
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
      Action.ApplyStatus({ ref: refOf(quota), uid: "uid-3", status: { used: { pods: "1" } } })
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
      now,
      "test-manager"
    )
    assert.strictEqual(Result.isFailure(result) ? result.failure.reason : undefined, "Conflict")
  })

  it("checks the UID precondition", () => {
    const result = Simulator.applyAction(
      created,
      Action.Delete({ ref: refOf(configMap), uid: "uid-1" }),
      now,
      "test-manager"
    )
    assert.strictEqual(Result.isFailure(result) ? result.failure.reason : undefined, "Conflict")
    const missing = Simulator.applyAction(
      Simulator.emptyCluster,
      Action.Delete({ ref: refOf(configMap), uid: "uid-2" }),
      now,
      "test-manager"
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
      now,
      "test-manager"
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
