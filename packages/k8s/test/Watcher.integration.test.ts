// The list+watch loop against the real API server: resume from the last resourceVersion across
// watch timeouts and connection resets without losing or repeating an event, and a full relist
// when the server says 410 Gone; a kind not served until its CRD arrives.

import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { Effect, Fiber, Layer, Queue, Schedule, type Scope, Stream } from "effect"
import { Client } from "../src/Client.ts"
import { KubeConfig } from "../src/KubeConfig.ts"
import { type WatcherEvent, watcher } from "../src/Watcher.ts"
import {
  ConfigMaps,
  CustomResourceDefinitions,
  clusterLayer,
  configMap,
  describeCluster,
  ensureWidgetCrd,
  eventually,
  gadgetCrd,
  gadgetsOf,
  proxiedClientLayer,
  tcpProxy,
  testNamespace,
  uniqueName,
  untilServed,
  Widgets,
  widget
} from "./cluster.ts"

const run = <A, E>(effect: Effect.Effect<A, E, Client | KubeConfig | Scope.Scope>) =>
  effect.pipe(Effect.provide(clusterLayer()))

const fastBackoff = Schedule.spaced("50 millis")

/** A full garbage collection, now (node's `gc`, exposed for this process). */
const collectGarbage: () => void = (() => {
  setFlagsFromString("--expose-gc")
  return runInNewContext("gc") as () => void
})()

/** Runs `stream` in the background, collecting its events into an array the test can read. */
const collect = <T extends KubeObject>(stream: Stream.Stream<WatcherEvent<T>, never, Client>) =>
  Effect.gen(function* () {
    const seen: Array<WatcherEvent<T>> = []
    const fiber = yield* stream.pipe(
      Stream.runForEach((event) => Effect.sync(() => seen.push(event))),
      Effect.forkScoped
    )
    return { seen, fiber }
  })

const counterValues = (seen: ReadonlyArray<WatcherEvent>): Array<number> =>
  seen.flatMap((e) =>
    e._tag === "Applied" && e.object.metadata.name === "counter"
      ? [Number((e.object.data as Record<string, string>).n)]
      : []
  )

/** Waits until `seen` holds at least `count` events. */
const untilEvents = (seen: ReadonlyArray<WatcherEvent>, count: number, what: string) =>
  eventually(
    Effect.sync(() => seen.length),
    (n) => n >= count,
    20_000,
    what
  )

/** Waits until `seen` holds an `Applied` of the object `name`. */
const untilApplied = (seen: ReadonlyArray<WatcherEvent>, name: string, what: string, millis = 20_000) =>
  eventually(
    Effect.sync(() => seen.some((e) => e._tag === "Applied" && e.object.metadata.name === name)),
    (ok) => ok,
    millis,
    what
  )

describeCluster("Watcher (real API server)", () => {
  it.live(
    "starts with a complete list, then streams changes",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = yield* testNamespace("watcher-basic")
          yield* client.create(ConfigMaps, configMap(ns, "before"))
          const { seen } = yield* collect(watcher(ConfigMaps, { namespace: ns, backoff: fastBackoff }))
          yield* untilEvents(seen, 1, "the initial list")
          const first = seen[0]
          assert.strictEqual(first?._tag, "Restarted")
          if (first?._tag === "Restarted") {
            assert.include(
              first.objects.map((o) => o.metadata.name),
              "before"
            )
          }
          yield* client.create(ConfigMaps, configMap(ns, "after"))
          yield* client.delete(ConfigMaps, "before", { namespace: ns })
          yield* eventually(
            Effect.sync(() => seen.filter((e) => e._tag === "Deleted").length),
            (n) => n >= 1,
            20_000,
            "the delete event"
          )
          const tail = seen
            .slice(1)
            .map((e) => `${e._tag}:${e._tag === "Restarted" ? "" : e.object.metadata.name}`)
          assert.includeMembers(tail, ["Applied:after", "Deleted:before"])
        })
      ),
    60_000
  )

  it.live(
    "resumes from the last resourceVersion across watch timeouts and connection resets: no event lost, none repeated, no relist",
    () =>
      Effect.gen(function* () {
        const direct = yield* Client
        const kubeConfig = yield* KubeConfig
        const proxy = yield* tcpProxy(kubeConfig.server)
        const ns = yield* testNamespace("watcher-resume")
        yield* direct.create(ConfigMaps, configMap(ns, "counter", { n: "0" }))

        const proxied = yield* Layer.build(proxiedClientLayer(proxy))
        const { seen } = yield* collect(
          // Watches of 2 s: several end normally during the test, on top of the resets below.
          watcher(ConfigMaps, { namespace: ns, timeoutSeconds: 2, backoff: fastBackoff }).pipe(
            Stream.provideContext(proxied)
          )
        )
        yield* untilEvents(seen, 1, "the initial list")

        const writes = 60
        for (let n = 1; n <= writes; n++) {
          yield* direct.apply(ConfigMaps, configMap(ns, "counter", { n: String(n) }))
          if (n % 10 === 0) {
            // Cut the watch mid-stream (RST); writes continue while the watcher is disconnected.
            proxy.resetAll()
          }
          yield* Effect.sleep("80 millis")
        }
        yield* eventually(
          Effect.sync(() => counterValues(seen)),
          (values) => values.includes(writes),
          30_000,
          "the last write to arrive"
        )
        yield* Effect.sleep("500 millis")
        assert.deepStrictEqual(
          counterValues(seen),
          Array.from({ length: writes }, (_, i) => i + 1),
          "every write seen exactly once, in order"
        )
        assert.strictEqual(seen.filter((e) => e._tag === "Restarted").length, 1, "no relist")
      }).pipe(Effect.provide(clusterLayer())),
    90_000
  )

  it.live(
    "410 Gone → full relist: a watch from an expired resourceVersion restarts with a complete list",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          yield* ensureWidgetCrd
          const ns = yield* testNamespace("watcher-gone")
          yield* client.apply(Widgets, widget(ns, "a", {}))
          yield* client.apply(Widgets, widget(ns, "b", {}))
          // A custom resource's watch cache starts at the resourceVersion current when its CRD was
          // established (or when the API server started), so "1" is out of its window and the
          // server answers 410: only a relist recovers. Had the watcher not relisted, its first
          // event would be an Applied replayed from history.
          const { seen } = yield* collect(
            watcher(Widgets, { namespace: ns, resumeFrom: "1", backoff: fastBackoff })
          )
          yield* untilEvents(seen, 1, "the relist")
          const first = seen[0]
          assert.strictEqual(first?._tag, "Restarted")
          if (first?._tag === "Restarted") {
            assert.deepStrictEqual(first.objects.map((o) => o.metadata.name).sort(), ["a", "b"])
          }
          // And it keeps watching after the relist.
          yield* client.apply(Widgets, widget(ns, "c", {}))
          yield* untilApplied(seen, "c", "the event after the relist")
        })
      ),
    60_000
  )

  it.live(
    "keeps no listed object once its consumer let it go: a relist's copies are not held while it watches",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          yield* ensureWidgetCrd
          const ns = yield* testNamespace("watcher-holds")
          for (const name of ["a", "b", "c"]) yield* client.apply(Widgets, widget(ns, name, {}))
          // The consumer keeps only weak references to what the relist (a 410, as in production
          // when the server's history moved on) delivered, as a cache keeps the instances it
          // already holds and lets a relist's copies of unchanged objects go.
          const listed: Array<WeakRef<KubeObject>> = []
          const applied: Array<string> = []
          yield* watcher(Widgets, { namespace: ns, resumeFrom: "1", backoff: fastBackoff }).pipe(
            Stream.runForEach((event) =>
              Effect.sync(() => {
                if (event._tag === "Restarted") for (const o of event.objects) listed.push(new WeakRef(o))
                else applied.push(event.object.metadata.name)
              })
            ),
            Effect.forkScoped
          )
          yield* eventually(
            Effect.sync(() => listed.length),
            (n) => n === 3,
            20_000,
            "the relist"
          )
          // An event proves the watcher moved on to its watch, where it now waits.
          yield* client.apply(Widgets, widget(ns, "d", {}))
          yield* eventually(
            Effect.sync(() => applied.includes("d")),
            (ok) => ok,
            20_000,
            "the event after the relist"
          )
          yield* Effect.sleep("50 millis")
          collectGarbage()
          assert.deepStrictEqual(
            listed.map((ref) => ref.deref()?.metadata.name),
            [undefined, undefined, undefined],
            "the listed objects are still held"
          )
        })
      ),
    60_000
  )

  it.live(
    "never ends on its own: survives an unreachable server and recovers when it comes back",
    () =>
      Effect.gen(function* () {
        const direct = yield* Client
        const kubeConfig = yield* KubeConfig
        const proxy = yield* tcpProxy(kubeConfig.server)
        const ns = yield* testNamespace("watcher-outage")
        const proxied = yield* Layer.build(proxiedClientLayer(proxy, { requestTimeout: "2 seconds" }))
        const { seen, fiber } = yield* collect(
          watcher(ConfigMaps, { namespace: ns, backoff: fastBackoff }).pipe(Stream.provideContext(proxied))
        )
        yield* untilEvents(seen, 1, "the initial list")
        // Reset every connection repeatedly for two seconds: every reconnect fails too.
        const until = Date.now() + 2_000
        while (Date.now() < until) {
          proxy.resetAll()
          yield* Effect.sleep("20 millis")
        }
        yield* direct.create(ConfigMaps, configMap(ns, "after-outage"))
        yield* untilApplied(seen, "after-outage", "the event after the outage", 30_000)
        assert.isUndefined(fiber.pollUnsafe(), "the watcher is still running")
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(clusterLayer())),
    60_000
  )

  it.live(
    "a kind served at last is watched with the backoff started afresh: a watch cut right away resumes at the first delay",
    () =>
      Effect.gen(function* () {
        const direct = yield* Client
        const kubeConfig = yield* KubeConfig
        const proxy = yield* tcpProxy(kubeConfig.server)
        const ns = yield* testNamespace("watcher-served")
        const group = `${uniqueName("served")}.test.kleff.io`
        const Gadgets = gadgetsOf(group)
        const crd = `gadgets.${group}`
        yield* Effect.addFinalizer(() => Effect.ignore(direct.delete(CustomResourceDefinitions, crd)))
        // 50 ms after the first failure, then a minute, then more than an hour.
        const backoff = Schedule.exponential("50 millis", 1_200)
        const served = yield* Queue.unbounded<void>()
        const proxied = yield* Layer.build(proxiedClientLayer(proxy))
        const { seen } = yield* collect(
          watcher(Gadgets, { namespace: ns, backoff, served: Queue.take(served) }).pipe(
            Stream.provideContext(proxied)
          )
        )
        // Not served: an empty list, then the second 404 leaves it waiting out the minute.
        yield* untilEvents(seen, 1, "the empty list of a kind not served")
        yield* Effect.sleep("500 millis")
        yield* direct.apply(
          CustomResourceDefinitions,
          gadgetCrd(group, { type: "object", "x-kubernetes-preserve-unknown-fields": true })
        )
        yield* untilServed(Gadgets, ns, "the Gadget API to be served")
        yield* Queue.offer(served, undefined)
        yield* untilEvents(seen, 2, "the list once served")
        // The watch is open; cut it. With the backoff the absence grew, it would wait 72 minutes.
        yield* Effect.sleep("500 millis")
        proxy.resetAll()
        yield* direct.apply(Gadgets, {
          apiVersion: `${group}/v1`,
          kind: "Gadget",
          metadata: { name: "g", namespace: ns }
        })
        yield* untilApplied(seen, "g", "the event after the cut")
      }).pipe(Effect.provide(clusterLayer())),
    90_000
  )
})
