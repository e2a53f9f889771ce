// A write that loses a race is retried, not fatal: the Controller's first attempt works from a
// stale cached copy of the primary, so its finalizer JSON patch (which tests the observed list)
// gets a real 409 from the API server; the error is counted and the key backs off; once the
// watch delivers the current object the retry succeeds.
import { assert, it } from "@effect/vitest"
import type { KubeObject, Reconciler } from "@kleff/core"
import { Effect, Metric } from "effect"
import { Client } from "../src/Client.ts"
import { make as makeController } from "../src/Controller.ts"
import { Informers } from "../src/Informers.ts"
import {
  clusterLayer,
  describeCluster,
  ensureWidgetCrd,
  eventually,
  runUntilStopped,
  testNamespace,
  uniqueName,
  Widgets,
  widget
} from "./cluster.ts"

const finalizer = "test.kleff.io/conflict-retry"

const keeper: Reconciler<KubeObject, undefined> = {
  name: "conflict-retry-test",
  primary: Widgets,
  owned: [],
  finalizer,
  decide: () => undefined,
  desired: () => ({ objects: [] })
}

const errorsCounted = Effect.map(Metric.snapshot, (snapshots) =>
  snapshots
    .filter(
      (s) => s.id === "controller_runtime_reconcile_errors_total" && s.attributes?.controller === keeper.name
    )
    .reduce((sum, s) => sum + Number((s.state as { count: number | bigint }).count), 0)
)

describeCluster("Controller and update conflicts (real API server)", () => {
  it.live(
    "a finalizer patch from a stale snapshot conflicts, is counted and retried, and converges",
    () =>
      Effect.gen(function* () {
        const client = yield* Client
        yield* ensureWidgetCrd
        const namespace = yield* testNamespace("conflict")
        const name = uniqueName("w")
        const created = yield* client.create(Widgets, widget(namespace, name, { size: 1 }))

        const controller = yield* makeController({ reconciler: keeper, concurrency: 1 })
        yield* controller.ready
        const key = `test.kleff.io/Widget/${namespace}/${name}`
        yield* eventually(
          Effect.sync(() => controller.primaries.cache.get(key)),
          (w) => w !== undefined,
          20_000,
          "the widget to be cached"
        )

        // A stale view: a finalizer list the server does not have. (One resourceVersion on: at the
        // cached one, the cache would take it for the watch's echo of what it holds, and drop it.)
        const stale: KubeObject = {
          ...created,
          metadata: {
            ...created.metadata,
            resourceVersion: String(Number(created.metadata.resourceVersion) + 1),
            finalizers: ["test.kleff.io/someone-else"]
          }
        }
        // Recorded as if it were the API server's answer to a write of ours.
        yield* (yield* Informers).recordWrite(stale)
        const errorsBefore = yield* errorsCounted

        const stop = yield* runUntilStopped(controller.runnable)
        yield* eventually(
          errorsCounted,
          (n) => n > errorsBefore,
          20_000,
          "the conflicting attempt to be counted"
        )
        assert.deepStrictEqual((yield* client.get(Widgets, name, namespace)).metadata.finalizers ?? [], [])

        // Any change brings the current object through the watch; the backed-off retry then succeeds.
        // Two: the first may land at the stale view's resourceVersion.
        yield* client.patch(Widgets, name, { type: "merge", body: { spec: { size: 2 } } }, { namespace })
        yield* client.patch(Widgets, name, { type: "merge", body: { spec: { size: 3 } } }, { namespace })
        const converged = yield* eventually(
          client.get(Widgets, name, namespace),
          (w) => (w.metadata.finalizers ?? []).includes(finalizer),
          20_000,
          "the retried finalizer patch to land"
        )
        assert.deepStrictEqual(converged.metadata.finalizers, [finalizer])

        yield* stop
        yield* client.patch(
          Widgets,
          name,
          { type: "merge", body: { metadata: { finalizers: null } } },
          { namespace }
        )
      }).pipe(Effect.scoped, Effect.provide(Informers.layer), Effect.provide(clusterLayer())),
    60_000
  )
})
