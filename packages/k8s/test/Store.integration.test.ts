// The reflector against the real API server: after random concurrent writes the store holds
// exactly what the server lists, and its owner index follows real ownerReferences.

import { assert, it } from "@effect/vitest"
import { controllerReference, type KubeObject, keyOf } from "@kleff/core"
import { Effect, Schedule, type Scope } from "effect"
import { Client } from "../src/Client.ts"
import * as Store from "../src/Store.ts"
import { ConfigMaps, clusterLayer, configMap, describeCluster, eventually, testNamespace } from "./cluster.ts"

const run = <A, E>(effect: Effect.Effect<A, E, Client | Scope.Scope>) =>
  effect.pipe(Effect.provide(clusterLayer()))

const fingerprint = (objects: ReadonlyArray<KubeObject>): string =>
  objects
    .map((o) => `${keyOf(o)}@${o.metadata.resourceVersion}`)
    .sort()
    .join("\n")

describeCluster("Store (real API server)", () => {
  it.live(
    "converges to the server's list after random concurrent writes",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = yield* testNamespace("store-converge")
          const store = yield* Store.reflect(ConfigMaps, {
            namespace: ns,
            timeoutSeconds: 3,
            backoff: Schedule.spaced("50 millis")
          })
          yield* store.ready
          // 300 random operations on 20 names, 8 at a time: creates, updates, deletes.
          const names = Array.from({ length: 20 }, (_, i) => `obj-${i}`)
          yield* Effect.forEach(
            Array.from({ length: 300 }, (_, i) => i),
            (i) => {
              const name = names[Math.floor(Math.random() * names.length)] ?? "obj-0"
              return Math.random() < 0.25
                ? client.delete(ConfigMaps, name, { namespace: ns }).pipe(Effect.ignore)
                : client.apply(ConfigMaps, configMap(ns, name, { i: String(i) })).pipe(Effect.ignore)
            },
            { concurrency: 8 }
          )
          const server = yield* client.list(ConfigMaps, { namespace: ns })
          const expected = fingerprint(server.items)
          yield* eventually(
            store.list,
            (cached) => fingerprint(cached) === expected,
            20_000,
            "the store to converge"
          )
          // The cached objects are the server's, minus managedFields.
          const one = server.items.find((o) => o.metadata.name.startsWith("obj-"))
          if (one !== undefined) {
            const cached = yield* store.get(keyOf(one))
            assert.deepStrictEqual(cached?.data, one.data)
            assert.isUndefined((cached?.metadata as { managedFields?: unknown } | undefined)?.managedFields)
          }
        })
      ),
    90_000
  )

  it.live(
    "indexes children by their controller's UID and by label",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = yield* testNamespace("store-owners")
          const parent = yield* client.create(ConfigMaps, configMap(ns, "parent"))
          const store = yield* Store.reflect(ConfigMaps, { namespace: ns })
          const changes = yield* store.subscribe
          void changes
          yield* store.ready
          for (const name of ["child-a", "child-b"]) {
            yield* client.apply(
              ConfigMaps,
              configMap(
                ns,
                name,
                {},
                { ownerReferences: [controllerReference(parent)], labels: { role: "child" } }
              )
            )
          }
          const uid = parent.metadata.uid ?? ""
          const owned = yield* eventually(store.ownedBy(uid), (o) => o.length === 2, 20_000, "both children")
          assert.deepStrictEqual(owned.map((o) => o.metadata.name).sort(), ["child-a", "child-b"])
          assert.strictEqual((yield* store.byLabel("role", "child")).length, 2)
          yield* client.delete(ConfigMaps, "child-a", { namespace: ns })
          yield* eventually(store.ownedBy(uid), (o) => o.length === 1, 20_000, "the delete")
        })
      ),
    60_000
  )
})
