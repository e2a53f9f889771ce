// The example controller end to end on the real API server: the framework's whole loop (watch →
// cache → queue → plan → interpreter) driven by a Reconciler of a dozen lines.
import { assert, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import {
  ConfigMapType,
  greetingLabel,
  NamespaceType,
  namespaceGreeter
} from "../examples/NamespaceGreeter.ts"
import { Client } from "../src/Client.ts"
import { make as makeController } from "../src/Controller.ts"
import { Informers } from "../src/Informers.ts"
import { clusterLayer, describeCluster, eventually, runUntilStopped, uniqueName } from "./cluster.ts"

const writeMethods = new Set(["POST", "PUT", "PATCH", "DELETE"])

/** API writes made by this process so far, from `rest_client_requests_total`. */
const writesSoFar = Effect.map(Metric.snapshot, (snapshots) =>
  snapshots
    .filter((s) => s.id === "rest_client_requests_total" && s.type === "Counter")
    .filter((s) => writeMethods.has(String(s.attributes?.method)))
    .reduce((sum, s) => sum + Number((s.state as { count: number | bigint }).count), 0)
)

const greetingOf = (namespace: string) =>
  Effect.gen(function* () {
    const client = yield* Client
    return yield* client.get(ConfigMapType, "greeting", namespace).pipe(
      Effect.map((cm) => (cm.data as Record<string, string> | undefined)?.greeting),
      Effect.catchTag("NotFound", () => Effect.succeed(undefined))
    )
  })

describeCluster("NamespaceGreeter (example controller)", () => {
  it.live(
    "keeps a ConfigMap per labelled namespace: creates, follows, repairs, removes, and idles at zero writes",
    () =>
      Effect.gen(function* () {
        const client = yield* Client
        const controller = yield* makeController({ reconciler: namespaceGreeter, concurrency: 2 })
        const stop = yield* runUntilStopped(controller.runnable)
        yield* controller.ready

        const name = uniqueName("greeter")
        yield* Effect.acquireRelease(
          client.create(NamespaceType, {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name, labels: { [greetingLabel]: "hello" } }
          }),
          () => client.delete(NamespaceType, name).pipe(Effect.ignore)
        )
        yield* eventually(greetingOf(name), (g) => g === "hello", 20_000, "the greeting to appear")

        // The ConfigMap follows the label.
        yield* client.apply(
          NamespaceType,
          {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name, labels: { [greetingLabel]: "bonjour" } }
          },
          { fieldManager: "test-user" }
        )
        yield* eventually(
          greetingOf(name),
          (g) => g === "bonjour",
          20_000,
          "the greeting to follow the label"
        )

        // Drift: an edit is repaired, a deletion is recreated.
        yield* client.patch(
          ConfigMapType,
          "greeting",
          { type: "merge", body: { data: { greeting: "edited" } } },
          {
            namespace: name,
            fieldManager: "test-user"
          }
        )
        yield* eventually(greetingOf(name), (g) => g === "bonjour", 20_000, "the edit to be repaired")
        yield* client.delete(ConfigMapType, "greeting", { namespace: name })
        yield* eventually(greetingOf(name), (g) => g === "bonjour", 20_000, "the ConfigMap to be recreated")

        // Converged: a full resync of every namespace writes nothing.
        yield* Effect.sleep("500 millis")
        yield* eventually(controller.queue.len, (n) => n === 0, 20_000, "the queue to drain")
        const before = yield* writesSoFar
        const keys = controller.primaries.cache.keys()
        for (const key of keys) yield* controller.queue.add(key)
        yield* Effect.sleep("200 millis")
        yield* eventually(controller.queue.len, (n) => n === 0, 20_000, "the resync to drain")
        yield* eventually(controller.queue.processingLen, (n) => n === 0, 20_000, "the resync to finish")
        assert.strictEqual(
          (yield* writesSoFar) - before,
          0,
          `a resync of ${keys.length} converged namespaces wrote`
        )

        // Removing the label removes the ConfigMap (it is owned, so pruning it is safe).
        yield* client.patch(NamespaceType, name, {
          type: "json",
          operations: [{ op: "remove", path: `/metadata/labels/${greetingLabel.replace("/", "~1")}` }]
        })
        yield* eventually(greetingOf(name), (g) => g === undefined, 20_000, "the ConfigMap to be removed")

        yield* stop
      }).pipe(Effect.scoped, Effect.provide(Informers.layer), Effect.provide(clusterLayer())),
    60_000
  )
})
