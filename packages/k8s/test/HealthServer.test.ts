import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Metric, Option, Scope } from "effect"
import { HealthChecks, HealthServer, parseBindAddress } from "../src/HealthServer.ts"

const fetchText = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return {
      status: response.status,
      type: response.headers.get("content-type"),
      body: await response.text()
    }
  })

const serverLayer = (options: { healthProbeBindAddress: string; metricsBindAddress: string }) =>
  HealthServer.layer(options).pipe(Layer.provideMerge(HealthChecks.layer))

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

  it.live("metrics bind address 0 disables /metrics", () =>
    Effect.gen(function* () {
      const server = yield* HealthServer.pipe(
        Effect.provide(serverLayer({ healthProbeBindAddress: "127.0.0.1:0", metricsBindAddress: "0" }))
      )
      assert.isTrue(Option.isNone(server.metrics))
      assert.isTrue(Option.isSome(server.probes))
    })
  )
})
