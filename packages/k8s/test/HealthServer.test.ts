import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Metric, Option, Scope } from "effect"
import { type Collector, HealthChecks, HealthServer, parseBindAddress } from "../src/HealthServer.ts"

const fetchText = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return {
      status: response.status,
      type: response.headers.get("content-type"),
      body: await response.text()
    }
  })

const serverLayer = (options: {
  healthProbeBindAddress: string
  metricsBindAddress: string
  collectors?: ReadonlyArray<Collector>
}) => HealthServer.layer(options).pipe(Layer.provideMerge(HealthChecks.layer))

/** The `/metrics` URL of a metrics-only server with these collectors, for the enclosing scope. */
const metricsUrl = (collectors: ReadonlyArray<Collector>) =>
  Effect.map(
    Layer.build(serverLayer({ healthProbeBindAddress: "0", metricsBindAddress: "127.0.0.1:0", collectors })),
    (context) => `${Option.getOrThrow(Context.get(context, HealthServer).metrics).url}/metrics`
  )

describe("HealthServer", () => {
  it.effect("parses kubebuilder-style bind addresses", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* parseBindAddress(":8081"), Option.some({ host: undefined, port: 8081 }))
      assert.deepStrictEqual(
        yield* parseBindAddress("127.0.0.1:0"),
        Option.some({ host: "127.0.0.1", port: 0 })
      )
      assert.deepStrictEqual(yield* parseBindAddress("[::1]:8080"), Option.some({ host: "::1", port: 8080 }))
      assert.deepStrictEqual(yield* parseBindAddress("0"), Option.none())
      for (const bad of ["8080", "host:", "::1:80", "a:99999"]) {
        const exit = yield* Effect.exit(parseBindAddress(bad))
        assert.isTrue(Exit.isFailure(exit), bad)
      }
    })
  )

  it.live("serves /healthz, /readyz that follows its checks, and /metrics over real HTTP", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        serverLayer({ healthProbeBindAddress: "127.0.0.1:0", metricsBindAddress: "127.0.0.1:0" }),
        scope
      )
      const server = Context.get(context, HealthServer)
      const checks = Context.get(context, HealthChecks)
      const probes = Option.getOrThrow(server.probes).url
      const metrics = Option.getOrThrow(server.metrics).url
      assert.notStrictEqual(probes, metrics)

      assert.deepInclude(yield* fetchText(`${probes}/healthz`), { status: 200, body: "ok" })
      assert.deepInclude(yield* fetchText(`${probes}/readyz`), { status: 200, body: "ok" })

      let synced = false
      yield* checks.addReadyzCheck(
        "informers",
        Effect.suspend(() => (synced ? Effect.void : Effect.fail("not synced")))
      )
      const notReady = yield* fetchText(`${probes}/readyz`)
      assert.strictEqual(notReady.status, 500)
      assert.strictEqual(notReady.body, "[+]ping ok\n[-]informers failed: not synced\nreadyz check failed\n")
      // Liveness does not depend on readiness.
      assert.strictEqual((yield* fetchText(`${probes}/healthz`)).status, 200)

      synced = true
      assert.deepInclude(yield* fetchText(`${probes}/readyz`), { status: 200, body: "ok" })
      assert.deepInclude(yield* fetchText(`${probes}/readyz?verbose`), {
        status: 200,
        body: "[+]ping ok\n[+]informers ok\nreadyz check passed\n"
      })

      yield* Metric.update(
        Metric.counter("kleff_health_server_test_total", { description: "test counter", incremental: true }),
        1
      )
      const scraped = yield* fetchText(`${metrics}/metrics`)
      assert.strictEqual(scraped.status, 200)
      assert.strictEqual(scraped.type, "text/plain; version=0.0.4; charset=utf-8")
      // The registry of the context the server was started in, and only that.
      assert.strictEqual(
        scraped.body,
        "# HELP kleff_health_server_test_total test counter\n" +
          "# TYPE kleff_health_server_test_total counter\nkleff_health_server_test_total 1\n"
      )
      // Routes are split by address.
      assert.strictEqual((yield* fetchText(`${probes}/metrics`)).status, 404)
      assert.strictEqual((yield* fetchText(`${metrics}/healthz`)).status, 404)

      yield* Scope.close(scope, Exit.void)
      const afterClose = yield* Effect.exit(fetchText(`${probes}/healthz`))
      assert.isTrue(Exit.isFailure(afterClose), "the server must be closed with its scope")
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))
  )

  it.live(
    "serves the families collectors compute at each scrape after the registry: a series not produced again is gone",
    () =>
      Effect.gen(function* () {
        const tenants = new Set(["acme", "zeta"])
        const collector: Collector = Effect.sync(() => [
          {
            name: "kleff_collected_test",
            help: "one per tenant",
            samples: () => [...tenants].map((tenant) => ({ labels: { tenant }, value: 1 }))
          },
          { name: "kleff_collected_empty", help: "no series, no lines", samples: () => [] }
        ])
        yield* Metric.update(Metric.gauge("kleff_kept_test", { description: "the registry's" }), 7)
        const url = yield* metricsUrl([collector])
        const scrape = () => fetchText(url)

        const both = yield* scrape()
        assert.strictEqual(both.type, "text/plain; version=0.0.4; charset=utf-8")
        assert.strictEqual(
          both.body,
          "# HELP kleff_kept_test the registry's\n# TYPE kleff_kept_test gauge\nkleff_kept_test 7\n" +
            "# HELP kleff_collected_test one per tenant\n# TYPE kleff_collected_test gauge\n" +
            'kleff_collected_test{tenant="acme"} 1\nkleff_collected_test{tenant="zeta"} 1\n'
        )
        tenants.delete("zeta")
        const one = yield* scrape()
        assert.include(one.body, 'kleff_collected_test{tenant="acme"} 1\n')
        assert.notInclude(one.body, "zeta")
        assert.include(one.body, "kleff_kept_test 7\n")
        // The collected series never reach the process's registry.
        const registered = (yield* Metric.snapshot).map((metric) => metric.id)
        assert.deepStrictEqual(registered, ["kleff_kept_test"])
      }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, new Map()))
  )

  it.live("metrics bind address 0 disables /metrics", () =>
    Effect.gen(function* () {
      const server = yield* HealthServer.pipe(
        Effect.provide(serverLayer({ healthProbeBindAddress: "127.0.0.1:0", metricsBindAddress: "0" }))
      )
      assert.isTrue(Option.isNone(server.metrics))
      assert.isTrue(Option.isSome(server.probes))
    })
  )
  it.live(
    "produces the collectors' series as the client reads them, never the whole response ahead of it",
    () =>
      Effect.gen(function* () {
        // 400,000 series, ~16 MB of text: a server that ran ahead of its reader would hold it all.
        const total = 400_000
        let produced = 0
        const collector: Collector = Effect.sync(() => [
          {
            name: "kleff_many_test",
            help: "many",
            *samples() {
              for (let i = 0; i < total; i++) {
                produced++
                yield { labels: { tenant: `tenant-${i}` }, value: i }
              }
            }
          }
        ])
        const url = yield* metricsUrl([collector])
        const reader = yield* Effect.promise(async () => {
          const response = await fetch(url)
          const body = response.body?.getReader()
          if (body === undefined) throw new Error("no body")
          await body.read()
          return body
        })
        // The reader has one chunk and stops; give the server time to run ahead if it would.
        yield* Effect.sleep("300 millis")
        assert.isBelow(produced, total / 2, `${produced} of ${total} series produced ahead of the reader`)
        let rest = 0
        for (;;) {
          const { done, value } = yield* Effect.promise(() => reader.read())
          if (done) break
          rest += value.length
        }
        assert.isAbove(rest, 0)
        assert.strictEqual(produced, total)
      }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, new Map())),
    30_000
  )
})
