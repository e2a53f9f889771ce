// The REST client against the real API server: CRUD, server-side apply, typed errors, pagination,
// status and finalizer patches with preconditions, events, raw requests, watches and metrics.

import * as tls from "node:tls"
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { Effect, Fiber, Layer, Metric, type Scope, Stream } from "effect"
import { Client, ClientMetrics } from "../src/Client.ts"
import { KubeConfig } from "../src/KubeConfig.ts"
import {
  ConfigMaps,
  clusterLayer,
  configMap,
  describeCluster,
  Events,
  ensureWidgetCrd,
  eventually,
  Namespaces,
  proxiedClientLayer,
  tcpProxy,
  testNamespace,
  uniqueName,
  Widgets,
  widget
} from "./cluster.ts"

const run = <A, E>(effect: Effect.Effect<A, E, Client | KubeConfig | Scope.Scope>) =>
  effect.pipe(Effect.provide(clusterLayer({ fieldManager: "kleff-test" })))

/** A client for the test cluster whose TLS settings are changed by `tlsOf`. */
const clientWithTls = (tlsOf: (tls: KubeConfig["Service"]["tls"]) => KubeConfig["Service"]["tls"]) =>
  Client.layer.pipe(
    Layer.provide(
      Layer.effect(
        KubeConfig,
        Effect.gen(function* () {
          const direct = yield* KubeConfig
          return { ...direct, tls: tlsOf(direct.tls) }
        })
      )
    )
  )

describeCluster("Client (real API server)", () => {
  it.live(
    "creates, reads, applies, lists and deletes",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = yield* testNamespace("client-crud")
          const created = yield* client.create(ConfigMaps, configMap(ns, "one", { a: "1" }))
          assert.strictEqual(created.metadata.namespace, ns)
          assert.isString(created.metadata.uid)
          const read = yield* client.get(ConfigMaps, "one", ns)
          assert.strictEqual(read.metadata.uid, created.metadata.uid)
          assert.deepStrictEqual(read.data, { a: "1" })

          const applied = yield* client.apply(ConfigMaps, configMap(ns, "two", { b: "2" }))
          assert.deepStrictEqual(applied.data, { b: "2" })
          const managers = applied.metadata.managedFields
          assert.isTrue(managers?.some((m) => m.manager === "kleff-test" && m.operation === "Apply"))

          const listed = yield* client.list(ConfigMaps, { namespace: ns })
          const names = listed.items.map((o) => o.metadata.name).sort()
          assert.includeMembers(names, ["one", "two"])
          assert.isTrue(listed.items.every((o) => o.apiVersion === "v1" && o.kind === "ConfigMap"))
          assert.match(listed.resourceVersion, /^\d+$/)

          yield* client.delete(ConfigMaps, "one", { namespace: ns, uid: created.metadata.uid })
          const gone = yield* Effect.flip(client.get(ConfigMaps, "one", ns))
          assert.strictEqual(gone._tag, "NotFound")
        })
      ),
    60_000
  )

  it.live(
    "server-side apply is idempotent: a second identical apply does not bump the resourceVersion",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = yield* testNamespace("client-ssa")
          const desired = configMap(
            ns,
            "cfg",
            { k: "v" },
            { labels: { "app.kubernetes.io/managed-by": "kleff" } }
          )
          const first = yield* client.apply(ConfigMaps, desired)
          const second = yield* client.apply(ConfigMaps, desired)
          assert.strictEqual(second.metadata.resourceVersion, first.metadata.resourceVersion)
          // A field another manager owns is taken over with force, and a removed field is dropped.
          yield* client.patch(
            ConfigMaps,
            "cfg",
            { type: "merge", body: { data: { k: "other", extra: "x" } } },
            {
              namespace: ns,
              fieldManager: "someone-else"
            }
          )
          const third = yield* client.apply(ConfigMaps, desired)
          assert.deepStrictEqual(third.data, { k: "v", extra: "x" })
          assert.notStrictEqual(third.metadata.resourceVersion, second.metadata.resourceVersion)
          const dry = yield* client.apply(ConfigMaps, configMap(ns, "cfg", { k: "dry" }), { dryRun: true })
          assert.deepStrictEqual((dry.data as Record<string, string>).k, "dry")
          assert.deepStrictEqual((yield* client.get(ConfigMaps, "cfg", ns)).data, { k: "v", extra: "x" })
        })
      ),
    60_000
  )

  it.live(
    "fails with typed errors: NotFound, Conflict (AlreadyExists, UID precondition), Invalid with causes",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = yield* testNamespace("client-errors")
          const missing = yield* Effect.flip(client.get(ConfigMaps, "nope", ns))
          assert.strictEqual(missing._tag, "NotFound")
          assert.strictEqual(missing.code, 404)
          assert.strictEqual(missing.verb, "get")
          assert.strictEqual(missing.resource, "configmaps")
          assert.strictEqual(missing.objectName, "nope")
          assert.strictEqual(missing.namespace, ns)
          assert.include(missing.message, "nope")

          yield* client.create(ConfigMaps, configMap(ns, "dup"))
          const exists = yield* Effect.flip(client.create(ConfigMaps, configMap(ns, "dup")))
          assert.strictEqual(exists._tag, "Conflict")
          assert.strictEqual(exists.reason, "AlreadyExists")

          const wrongUid = yield* Effect.flip(
            client.delete(ConfigMaps, "dup", { namespace: ns, uid: "00000000-0000-0000-0000-000000000000" })
          )
          assert.strictEqual(wrongUid._tag, "Conflict")
          assert.include(wrongUid.message, "UID")
          assert.strictEqual((yield* client.get(ConfigMaps, "dup", ns)).metadata.name, "dup")

          const invalid = yield* Effect.flip(client.create(ConfigMaps, configMap(ns, "Not_A_Valid_Name")))
          assert.strictEqual(invalid._tag, "Invalid")
          if (invalid._tag === "Invalid") {
            assert.isTrue(
              invalid.causes.some((c) => c.field === "metadata.name"),
              JSON.stringify(invalid.causes)
            )
          }
          const invalidApply = yield* Effect.flip(
            client.apply(ConfigMaps, { ...configMap(ns, "bad-data"), data: { "not a key!": "x" } })
          )
          assert.strictEqual(invalidApply._tag, "Invalid")

          const noNamespace = yield* Effect.flip(
            client.create(ConfigMaps, configMap(uniqueName("absent"), "x"))
          )
          assert.strictEqual(noNamespace._tag, "NotFound")
        })
      ),
    60_000
  )

  it.live(
    "paginates with limit and continue",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = yield* testNamespace("client-pages")
          yield* Effect.forEach(
            Array.from({ length: 25 }, (_, i) => i),
            (i) => client.create(ConfigMaps, configMap(ns, `cm-${String(i).padStart(2, "0")}`)),
            { concurrency: 10 }
          )
          // The namespace may also hold kube-root-ca.crt, which the root CA publisher writes at any
          // moment (between two of these lists too): only the test's own ConfigMaps are counted.
          const ours = (items: ReadonlyArray<KubeObject>) =>
            items.filter((o) => o.metadata.name.startsWith("cm-"))
          const total = ours((yield* client.list(ConfigMaps, { namespace: ns, limit: 1000 })).items).length
          assert.strictEqual(total, 25)
          const first = yield* client.listPage(ConfigMaps, { namespace: ns, limit: 10 })
          assert.strictEqual(first.items.length, 10)
          assert.isString(first.continue)
          const second = yield* client.listPage(ConfigMaps, {
            namespace: ns,
            limit: 10,
            continue: first.continue
          })
          assert.strictEqual(second.items.length, 10)
          const seen = new Set([...first.items, ...second.items].map((o) => o.metadata.name))
          assert.strictEqual(seen.size, 20)
          const all = yield* client.list(ConfigMaps, { namespace: ns, limit: 7 })
          assert.strictEqual(ours(all.items).length, total)
          assert.strictEqual(new Set(all.items.map((o) => o.metadata.name)).size, all.items.length)
          const labelled = yield* client.list(ConfigMaps, {
            namespace: ns,
            fieldSelector: "metadata.name=cm-03"
          })
          assert.deepStrictEqual(
            labelled.items.map((o) => o.metadata.name),
            ["cm-03"]
          )
        })
      ),
    60_000
  )

  it.live(
    "a status apply owns what its field manager reports: conditions of two managers stand side by side",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          yield* ensureWidgetCrd
          const ns = yield* testNamespace("client-status")
          yield* client.apply(Widgets, widget(ns, "w", { size: 1 }))
          const condition = (type: string, status: string) => ({
            type,
            status,
            reason: "Because",
            message: "m",
            lastTransitionTime: "2026-01-01T00:00:00Z"
          })
          const applyStatus = (manager: string, status: Record<string, unknown>) =>
            client.apply(
              Widgets,
              { ...widget(ns, "w", {}), spec: undefined, status },
              { fieldManager: manager, subresource: "status" }
            )
          yield* applyStatus("first", { phase: "Ready", conditions: [condition("A", "True")] })
          yield* applyStatus("second", { conditions: [condition("B", "False")] })
          const both = yield* client.get(Widgets, "w", ns)
          assert.deepStrictEqual(
            (both.status as { conditions: Array<{ type: string }> }).conditions.map((c) => c.type),
            ["A", "B"]
          )
          // The status subresource ignores everything but status.
          assert.deepStrictEqual(both.spec, { size: 1 })
          // "first" stops reporting A: only A goes; B, which "second" owns, stays.
          const after = yield* applyStatus("first", { phase: "Ready" })
          assert.deepStrictEqual(after.status, { phase: "Ready", conditions: [condition("B", "False")] })
          const missing = yield* Effect.flip(
            client.apply(Widgets, { ...widget(ns, "absent", {}), status: {} }, { subresource: "status" })
          )
          assert.strictEqual(missing._tag, "NotFound")
        })
      ),
    90_000
  )

  it.live(
    "adds and removes finalizers with JSON-patch tests; a stale view conflicts instead of overwriting",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = yield* testNamespace("client-finalizers")
          const created = yield* client.create(ConfigMaps, configMap(ns, "f"))
          const withOurs = yield* client.addFinalizer(ConfigMaps, created, "kleff.io/cleanup")
          assert.deepStrictEqual(withOurs.metadata.finalizers, ["kleff.io/cleanup"])
          // Already present: no request, the observed object comes back.
          const again = yield* client.addFinalizer(ConfigMaps, withOurs, "kleff.io/cleanup")
          assert.strictEqual(again.metadata.resourceVersion, withOurs.metadata.resourceVersion)
          // Someone else adds theirs; our stale view (no finalizers) must conflict, not clobber.
          yield* client.addFinalizer(ConfigMaps, withOurs, "example.com/other")
          const stale = yield* Effect.flip(client.addFinalizer(ConfigMaps, created, "kleff.io/second"))
          assert.strictEqual(stale._tag, "Conflict")
          const current = yield* client.get(ConfigMaps, "f", ns)
          assert.deepStrictEqual(current.metadata.finalizers, ["kleff.io/cleanup", "example.com/other"])
          // Wrong UID (a recreated object of the same name) conflicts too.
          const recreated = {
            ...current,
            metadata: { ...current.metadata, uid: "00000000-0000-0000-0000-000000000000" }
          }
          assert.strictEqual(
            (yield* Effect.flip(client.addFinalizer(ConfigMaps, recreated, "x.io/y")))._tag,
            "Conflict"
          )

          // Deleting keeps the object while finalizers remain; removing ours then theirs lets it go.
          yield* client.delete(ConfigMaps, "f", { namespace: ns })
          const deleting = yield* client.get(ConfigMaps, "f", ns)
          assert.isString(deleting.metadata.deletionTimestamp)
          const withoutOurs = yield* client.removeFinalizer(ConfigMaps, deleting, "kleff.io/cleanup")
          assert.deepStrictEqual(withoutOurs.metadata.finalizers, ["example.com/other"])
          // Removing by a stale index fails the test op instead of removing someone else's finalizer.
          const staleRemove = yield* Effect.flip(
            client.removeFinalizer(ConfigMaps, deleting, "example.com/other")
          )
          assert.strictEqual(staleRemove._tag, "Conflict")
          yield* client.removeFinalizer(ConfigMaps, withoutOurs, "example.com/other")
          yield* eventually(
            client.get(ConfigMaps, "f", ns).pipe(
              Effect.as(false),
              Effect.catchTag("NotFound", () => Effect.succeed(true))
            ),
            (gone) => gone,
            10_000,
            "the configmap to be deleted"
          )
        })
      ),
    60_000
  )

  it.live(
    "creates events.k8s.io/v1 Events regarding an object",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = yield* testNamespace("client-events")
          const cm = yield* client.create(ConfigMaps, configMap(ns, "subject"))
          const event = yield* client.create(Events, {
            apiVersion: "events.k8s.io/v1",
            kind: "Event",
            metadata: { name: "", generateName: "subject-", namespace: ns } as KubeObject["metadata"],
            eventTime: new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z"),
            reportingController: "kleff.io/tenant-operator",
            reportingInstance: "test",
            action: "Reconcile",
            reason: "Provisioned",
            note: "namespace created",
            type: "Normal",
            regarding: {
              apiVersion: "v1",
              kind: "ConfigMap",
              name: "subject",
              namespace: ns,
              uid: cm.metadata.uid
            }
          })
          assert.match(event.metadata.name, /^subject-/)
          const listed = yield* client.list(Events, { namespace: ns })
          assert.isTrue(listed.items.some((e) => e.reason === "Provisioned"))
        })
      ),
    60_000
  )

  it.live(
    "raw requests: /readyz and a SelfSubjectAccessReview",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ready = yield* client.request({ method: "GET", path: "/readyz" })
          assert.strictEqual(ready.status, 200)
          assert.strictEqual(ready.body, "ok")
          const review = yield* client.request({
            method: "POST",
            path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            body: {
              apiVersion: "authorization.k8s.io/v1",
              kind: "SelfSubjectAccessReview",
              spec: { resourceAttributes: { verb: "create", resource: "namespaces" } }
            }
          })
          assert.strictEqual(review.status, 201)
          assert.strictEqual(
            (JSON.parse(review.body) as { status: { allowed: boolean } }).status.allowed,
            true
          )
          const missing = yield* Effect.flip(
            client.request({ method: "GET", path: "/apis/nope.example.com/v1" })
          )
          assert.strictEqual(missing._tag, "NotFound")
        })
      ),
    60_000
  )

  it.live(
    "raw watch: events after a resourceVersion, bookmarks requested, 410 for an expired version",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = yield* testNamespace("client-watch")
          const start = yield* client.list(ConfigMaps, { namespace: ns })
          const events = yield* client
            .watch(ConfigMaps, { namespace: ns, resourceVersion: start.resourceVersion, timeoutSeconds: 30 })
            .pipe(
              // Only our object: the root-CA publisher adds kube-root-ca.crt to every namespace.
              Stream.filter(
                (e) => e.type !== "BOOKMARK" && e.type !== "ERROR" && e.object.metadata.name === "w"
              ),
              Stream.take(3),
              Stream.runCollect,
              Effect.forkChild
            )
          yield* Effect.sleep("200 millis")
          yield* client.create(ConfigMaps, configMap(ns, "w", { n: "1" }))
          yield* client.apply(ConfigMaps, configMap(ns, "w", { n: "2" }))
          yield* client.delete(ConfigMaps, "w", { namespace: ns })
          const seen = yield* Fiber.join(events)
          assert.deepStrictEqual(
            seen.map((e) =>
              e.type === "ADDED" || e.type === "MODIFIED" || e.type === "DELETED" ? e.type : "?"
            ),
            ["ADDED", "MODIFIED", "DELETED"]
          )

          // A custom resource's watch cache starts at the resourceVersion current when its CRD was
          // established (or when the API server started), so "1" is always out of its window:
          // the server answers 410 Gone, as the HTTP status or as a first ERROR event.
          yield* ensureWidgetCrd
          const expired = yield* client.watch(Widgets, { namespace: ns, resourceVersion: "1" }).pipe(
            Stream.take(1),
            Stream.runCollect,
            Effect.map((first) =>
              first[0]?.type === "ERROR" ? first[0].error._tag : `event ${first[0]?.type}`
            ),
            Effect.catch((error) => Effect.succeed(error._tag))
          )
          assert.strictEqual(expired, "Gone")
        })
      ),
    60_000
  )

  it.live(
    "counts every request in rest_client_requests_total{code,method,host}",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const host = new URL(client.server).host
          const notFound = Metric.withAttributes(ClientMetrics.requests, { code: "404", method: "GET", host })
          const before = (yield* Metric.value(notFound)).count
          yield* Effect.flip(client.get(ConfigMaps, uniqueName("absent"), "default"))
          yield* Effect.flip(client.get(ConfigMaps, uniqueName("absent"), "default"))
          const after = (yield* Metric.value(notFound)).count
          assert.strictEqual(Number(after) - Number(before), 2)
        })
      ),
    60_000
  )

  it.live(
    "resends a request once when its kept-alive socket turns out closed, writes included",
    () =>
      run(
        Effect.gen(function* () {
          const proxy = yield* tcpProxy((yield* KubeConfig).server)
          const ns = yield* testNamespace("client-stale")
          yield* Effect.gen(function* () {
            const client = yield* Client
            // One request leaves its socket in the pool (give it a moment to get there); the next
            // one goes out on it and is reset.
            yield* client.get(Namespaces, ns)
            yield* Effect.sleep("100 millis")
            proxy.resetOnNextSend()
            assert.strictEqual((yield* client.get(Namespaces, ns)).metadata.name, ns)
            assert.strictEqual(proxy.resetsOnSend(), 1)
            // A create too: the reset came before a byte reached the server, so it happens once.
            yield* Effect.sleep("100 millis")
            proxy.resetOnNextSend()
            yield* client.create(ConfigMaps, configMap(ns, "once"))
            assert.strictEqual(proxy.resetsOnSend(), 2)
            assert.strictEqual((yield* client.get(ConfigMaps, "once", ns)).metadata.name, "once")
          }).pipe(Effect.provide(proxiedClientLayer(proxy)))
        })
      ),
    60_000
  )

  it.live(
    "a request left without an answer fails with Timeout at its deadline and its connection is closed",
    () =>
      run(
        Effect.gen(function* () {
          const proxy = yield* tcpProxy((yield* KubeConfig).server)
          const ns = yield* testNamespace("client-deadline")
          yield* Effect.gen(function* () {
            const client = yield* Client
            // Every connection cut first, so the request goes out on one of its own.
            yield* client.get(Namespaces, ns)
            proxy.resetAll()
            yield* eventually(Effect.sync(proxy.open), (open) => open === 0, 5_000, "the connections to go")
            proxy.withholdAnswers(true)
            const started = Date.now()
            const late = yield* Effect.flip(client.get(Namespaces, ns))
            const waited = Date.now() - started
            assert.strictEqual(late._tag, "Timeout")
            assert.isAtLeast(waited, 900)
            // The abandoned exchange's socket is destroyed, not left open.
            yield* eventually(Effect.sync(proxy.open), (open) => open === 0, 5_000, "the connection to close")
            proxy.withholdAnswers(false)
            assert.strictEqual((yield* client.get(Namespaces, ns)).metadata.name, ns)
          }).pipe(Effect.provide(proxiedClientLayer(proxy, { requestTimeout: "1 second" })))
        })
      ),
    60_000
  )

  it.live(
    "a certificate the client refuses is an ApiError naming the server, not a retry",
    () =>
      Effect.gen(function* () {
        const server = (yield* KubeConfig).server.host
        // A CA that did not sign the server's certificate (a public root), then a server name it
        // was not issued for.
        const strangers = Buffer.from(tls.rootCertificates[0] ?? "")
        for (const layer of [
          clientWithTls((direct) => ({ ...direct, ca: strangers })),
          clientWithTls((direct) => ({ ...direct, servername: "not-the-api-server.example" }))
        ]) {
          const refused = yield* Effect.flip(
            Effect.gen(function* () {
              return yield* (yield* Client).get(Namespaces, "default")
            }).pipe(Effect.provide(layer))
          )
          assert.strictEqual(refused._tag, "ApiError")
          assert.strictEqual(refused.code, 0)
          assert.strictEqual(refused.verb, "get")
          assert.include(refused.message, server)
          assert.match(refused.reason, /CERT|SELF_SIGNED|UNABLE_TO|ALTNAME/)
        }
      }).pipe(Effect.provide(clusterLayer())),
    60_000
  )
})
