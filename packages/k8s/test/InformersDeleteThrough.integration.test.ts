// A delete of this process reaches its caches through the API server's answer, before (or
// without) the watch: the Interpreter's Delete leaves the cache; an object the answer shows still
// terminating (a finalizer pending, a namespace) stays, with its deletionTimestamp; a cached object
// that is not the one deleted (another UID) stays. The informers here are registered but never
// started, so only the answers can change their caches.
import { assert, it } from "@effect/vitest"
import { Action, Kinds, type KubeObject, keyOf, refOf } from "@kleff/core"
import { Effect } from "effect"
import { Client } from "../src/Client.ts"
import { make as makeInformers } from "../src/Informers.ts"
import { execute, typeRegistry } from "../src/Interpreter.ts"
import {
  ConfigMaps,
  clusterLayer,
  configMap,
  describeCluster,
  Namespaces,
  testNamespace,
  uniqueName
} from "./cluster.ts"

const finalizer = "kleff.io/test-hold"

describeCluster("Informers: deletes written through from the API server's answers (real API server)", () => {
  it.live(
    "an object deleted leaves the cache; one still terminating stays with its deletionTimestamp; another UID stays",
    () =>
      Effect.gen(function* () {
        const client = yield* Client
        const informers = yield* makeInformers
        const namespace = yield* testNamespace("delete-through")
        const configMaps = yield* informers.informer(ConfigMaps, { namespace })
        const namespaces = yield* informers.informer(Namespaces, {})
        const cached = (object: KubeObject) =>
          (object.kind === "Namespace" ? namespaces : configMaps).cache.get(keyOf(object))
        const created = (object: KubeObject) =>
          Effect.tap(client.create(object.kind === "Namespace" ? Namespaces : ConfigMaps, object), (answer) =>
            informers.recordWrite(answer)
          )

        // Deleted through the Interpreter: gone from the cache at once.
        const primary = yield* created(configMap(namespace, "primary"))
        const child = yield* created(configMap(namespace, "child"))
        assert.isDefined(cached(child))
        yield* execute([Action.Delete({ ref: refOf(child), uid: child.metadata.uid ?? "" })], {
          controller: "delete-through-test",
          instance: "test",
          types: typeRegistry([ConfigMaps, Kinds.Event]),
          primary,
          writeThrough: informers.recordWrite,
          deleteThrough: informers.recordDelete,
          now: "2026-01-01T00:00:00.000000Z"
        })
        assert.isUndefined(cached(child), "the deleted child is still cached")

        // A finalizer holds it: the answer is the object, terminating, and the cache keeps it so.
        const held = yield* created(configMap(namespace, "held", {}, { finalizers: [finalizer] }))
        const answer = yield* client.delete(ConfigMaps, "held", { namespace, uid: held.metadata.uid })
        assert.isDefined(answer?.metadata.deletionTimestamp)
        yield* informers.recordDelete({ ref: refOf(held), uid: held.metadata.uid, answer })
        assert.isDefined(cached(held)?.metadata.deletionTimestamp, "a terminating object left the cache")
        yield* client.removeFinalizer(ConfigMaps, answer ?? held, finalizer)

        // A namespace terminates (its own finalizer, in spec): still there, as the tenant
        // controller's finalizer must see until it is gone.
        const ns = yield* created({
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: uniqueName("delete-through-ns") }
        })
        const terminating = yield* client.delete(Namespaces, ns.metadata.name, { uid: ns.metadata.uid })
        yield* informers.recordDelete({ ref: refOf(ns), uid: ns.metadata.uid, answer: terminating })
        assert.isDefined(cached(ns)?.metadata.deletionTimestamp, "a terminating namespace left the cache")

        // Deleted under another UID (what this process deleted is not what the cache holds): kept.
        const other = yield* created(configMap(namespace, "other"))
        yield* informers.recordDelete({ ref: refOf(other), uid: "another-uid", answer: undefined })
        assert.isDefined(cached(other), "an object of another UID left the cache")
      }).pipe(Effect.scoped, Effect.provide(clusterLayer())),
    60_000
  )
})
