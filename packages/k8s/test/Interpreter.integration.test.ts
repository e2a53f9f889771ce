// The Interpreter's create against the real API server when the name is already taken. A
// controller caches only its own children (by managed-by label), so it cannot see what holds the
// name: a foreign object is a refusal (AlreadyExists, never taken over); the primary's own child
// whose label someone removed is applied over, which puts the label back.
import { assert, it } from "@effect/vitest"
import { Action, Kinds, type KubeObject, managedByLabel, ownedBy } from "@kleff/core"
import { Effect } from "effect"
import { Client } from "../src/Client.ts"
import { EventType, execute, typeRegistry } from "../src/Interpreter.ts"
import { ConfigMaps, clusterLayer, configMap, describeCluster, testNamespace } from "./cluster.ts"

const controller = "interpreter-test"

const createOnly = (primary: KubeObject, namespace: string) =>
  execute(
    [
      Action.Apply({
        object: ownedBy(primary, configMap(namespace, "child", { v: "1" }), controller),
        create: true
      })
    ],
    {
      controller,
      instance: "test",
      types: typeRegistry([Kinds.ConfigMap, EventType]),
      primary,
      writeThrough: () => Effect.void,
      deleteThrough: () => Effect.void,
      now: "2026-01-01T00:00:00.000000Z"
    }
  )

describeCluster("Interpreter: a create whose name is taken (real API server)", () => {
  it.live(
    "refuses a foreign object's name, and applies over the primary's own child that lost its label",
    () =>
      Effect.gen(function* () {
        const client = yield* Client
        const namespace = yield* testNamespace("interp")
        const primary = yield* client.create(ConfigMaps, configMap(namespace, "primary"))

        const foreign = yield* client.create(ConfigMaps, configMap(namespace, "child", { v: "theirs" }))
        const refused = yield* Effect.flip(createOnly(primary, namespace))
        assert.strictEqual(refused._tag, "Refused")
        assert.strictEqual(refused._tag === "Refused" ? refused.reason : "", "AlreadyExists")
        const untouched = yield* client.get(ConfigMaps, "child", namespace)
        assert.strictEqual(untouched.metadata.resourceVersion, foreign.metadata.resourceVersion)
        yield* client.delete(ConfigMaps, "child", { namespace })

        // Ours, but someone removed the managed-by label: invisible to a label-selected cache.
        yield* createOnly(primary, namespace)
        yield* client.patch(
          ConfigMaps,
          "child",
          {
            type: "json",
            operations: [{ op: "remove", path: `/metadata/labels/${managedByLabel.replace("/", "~1")}` }]
          },
          { namespace }
        )
        yield* createOnly(primary, namespace)
        const repaired = yield* client.get(ConfigMaps, "child", namespace)
        assert.strictEqual(repaired.metadata.labels?.[managedByLabel], controller)
        assert.strictEqual(repaired.metadata.ownerReferences?.[0]?.uid, primary.metadata.uid)
      }).pipe(Effect.scoped, Effect.provide(clusterLayer())),
    30_000
  )
})
