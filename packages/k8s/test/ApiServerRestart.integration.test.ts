// A watch (and the store it feeds) survives a kube-apiserver restart.
//
// Restarting the API server would break every other test sharing the run's cluster, so this test
// starts its own control plane (`ownCluster.ts`), restarts its kube-apiserver and tears it down.
import { assert, it } from "@effect/vitest"
import { type KubeObject, keyOf } from "@kleff/core"
import { Effect, Layer, Schedule } from "effect"
import { Client } from "../src/Client.ts"
import { isTransient } from "../src/Errors.ts"
import { KubeConfig } from "../src/KubeConfig.ts"
import * as Store from "../src/Store.ts"
import { ConfigMaps, configMap, describeCluster, eventually, Namespaces } from "./cluster.ts"
import * as OwnCluster from "./ownCluster.ts"

/** A dedicated cluster for this file, down when the scope closes. */
const ownCluster = Effect.acquireRelease(
  Effect.sync(() => OwnCluster.up("kleff-k8s-restart")),
  (cluster) => Effect.sync(() => OwnCluster.down(cluster))
)

const fingerprint = (objects: ReadonlyArray<KubeObject>): string =>
  objects
    .map((o) => `${keyOf(o)}@${o.metadata.resourceVersion}`)
    .sort()
    .join("\n")

describeCluster("Watch across a kube-apiserver restart (own cluster)", () => {
  it.live(
    "the store keeps following the server after kube-apiserver restarts",
    () =>
      Effect.gen(function* () {
        const cluster = yield* ownCluster
        const { kubeconfig } = cluster
        const layer = Client.layerWith({ requestTimeout: "5 seconds" }).pipe(
          Layer.provide(KubeConfig.layerFromFile(kubeconfig))
        )
        yield* Effect.gen(function* () {
          const client = yield* Client
          const ns = "restart"
          yield* client.create(Namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
          const store = yield* Store.reflect(ConfigMaps, {
            namespace: ns,
            backoff: Schedule.spaced("200 millis")
          })
          yield* store.ready
          const write = (n: number) =>
            client.apply(ConfigMaps, configMap(ns, "counter", { n: String(n) })).pipe(
              // Retried while the API server is down (connection refused, 5xx).
              Effect.retry(($) =>
                $(Schedule.spaced("250 millis")).pipe(Schedule.while(({ input }) => isTransient(input)))
              )
            )
          for (let n = 1; n <= 5; n++) yield* write(n)
          yield* Effect.promise(() => OwnCluster.restartApiServer(cluster))
          // These writes wait for the new server.
          for (let n = 6; n <= 10; n++) yield* write(n)
          yield* client.apply(ConfigMaps, configMap(ns, "after-restart"))
          const server = yield* client.list(ConfigMaps, { namespace: ns })
          yield* eventually(
            store.list,
            (cached) => fingerprint(cached) === fingerprint(server.items),
            60_000,
            "the store to follow the restarted server"
          )
          const counter = server.items.find((o) => o.metadata.name === "counter")
          assert.deepStrictEqual(counter?.data, { n: "10" })
        }).pipe(Effect.provide(layer))
      }),
    20 * 60_000
  )
})
