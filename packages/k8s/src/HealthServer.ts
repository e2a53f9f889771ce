/**
 * The operator's HTTP endpoints, kubebuilder style: `/healthz` (liveness) and `/readyz`
 * (readiness) on the health-probe address (`--health-probe-bind-address`, default `:8081`), and
 * `/metrics` on the metrics address (`--metrics-bind-address`, default `:8080`, `0` disables).
 * When both addresses are the same, one server serves all three. The servers are Effect's
 * `HttpRouter` on `NodeHttpServer`; `/metrics` is Effect's own Prometheus exporter
 * (`PrometheusMetrics.layerHttp`, text format 0.0.4) over Effect's metric registry.
 *
 * Owns the named health and readiness checks (`HealthChecks`): other parts register theirs
 * (e.g. "informers synced"); `/readyz` answers 200 only when every readiness check passes.
 * `/metrics` also serves the gauge families of the `collectors` it is given, computed at each
 * scrape and written out in chunks (`internal/gaugeText.ts`; see `Collector`).
 * Must not decide readiness itself or record metrics; servers close when the layer's scope closes.
 */
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Duration, Effect, Layer, Option, Schema, type Scope, Stream } from "effect"
import {
  HttpRouter,
  HttpServer,
  type HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { type GaugeFamily, gaugeText } from "./internal/gaugeText.ts"

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/** A check passes when it succeeds; its failure (any value) is reported as the reason. */
export type Check = Effect.Effect<void, unknown>

export interface CheckResult {
  readonly name: string
  readonly ok: boolean
  readonly reason: string | undefined
}

export interface CheckReport {
  readonly ok: boolean
  readonly results: ReadonlyArray<CheckResult>
}

/** A check that has not answered in this long has failed. */
const checkTimeout = Duration.seconds(5)

const reasonOf = (error: unknown): string => {
  if (typeof error === "string") return error
  if (error instanceof Error) return error.message
  return String(error)
}

const runChecks = (checks: ReadonlyMap<string, Check>): Effect.Effect<CheckReport> =>
  Effect.forEach(
    [...checks],
    ([name, check]) =>
      check.pipe(
        Effect.timeoutOrElse({
          duration: checkTimeout,
          orElse: () => Effect.fail(`timed out after ${Duration.format(checkTimeout)}`)
        }),
        Effect.match({
          onSuccess: (): CheckResult => ({ name, ok: true, reason: undefined }),
          onFailure: (error): CheckResult => ({ name, ok: false, reason: reasonOf(error) })
        }),
        Effect.catchDefect((defect) =>
          Effect.succeed<CheckResult>({ name, ok: false, reason: reasonOf(defect) })
        )
      ),
    { concurrency: "unbounded" }
  ).pipe(Effect.map((results) => ({ ok: results.every((r) => r.ok), results })))

/** Named liveness and readiness checks. `/healthz` always has `ping`; `/readyz` has what others register. */
export class HealthChecks extends Context.Service<
  HealthChecks,
  {
    /** Adds (or replaces) a liveness check. */
    readonly addHealthzCheck: (name: string, check: Check) => Effect.Effect<void>
    /** Adds (or replaces) a readiness check. */
    readonly addReadyzCheck: (name: string, check: Check) => Effect.Effect<void>
    readonly removeReadyzCheck: (name: string) => Effect.Effect<void>
    readonly healthz: Effect.Effect<CheckReport>
    readonly readyz: Effect.Effect<CheckReport>
  }
>()("@kleff/k8s/HealthServer/HealthChecks") {
  static readonly layer: Layer.Layer<HealthChecks> = Layer.sync(HealthChecks, () => {
    const healthz = new Map<string, Check>([["ping", Effect.void]])
    const readyz = new Map<string, Check>([["ping", Effect.void]])
    return HealthChecks.of({
      addHealthzCheck: (name, check) => Effect.sync(() => void healthz.set(name, check)),
      addReadyzCheck: (name, check) => Effect.sync(() => void readyz.set(name, check)),
      removeReadyzCheck: (name) => Effect.sync(() => void readyz.delete(name)),
      healthz: Effect.suspend(() => runChecks(healthz)),
      readyz: Effect.suspend(() => runChecks(readyz))
    })
  })
}

/** The body Kubernetes components answer with: `ok`, or one `[+]`/`[-]` line per check. */
export const formatReport = (kind: "healthz" | "readyz", report: CheckReport, verbose: boolean): string => {
  if (report.ok && !verbose) return "ok"
  const lines = report.results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.reason}`))
  lines.push(report.ok ? `${kind} check passed` : `${kind} check failed`)
  return `${lines.join("\n")}\n`
}

// ---------------------------------------------------------------------------------------------
// Bind addresses
// ---------------------------------------------------------------------------------------------

export class InvalidBindAddress extends Schema.TaggedError<InvalidBindAddress>()("InvalidBindAddress", {
  address: Schema.String,
  message: Schema.String
}) {}

export interface BindAddress {
  /** Undefined: every interface. */
  readonly host: string | undefined
  /** 0: an ephemeral port chosen by the OS. */
  readonly port: number
}

/**
 * Parses a Go-style `host:port` (`:8081`, `127.0.0.1:0`, `[::1]:8080`); `"0"` (and `""`) mean
 * disabled, as for kubebuilder's `--metrics-bind-address=0`.
 */
export const parseBindAddress = (
  address: string
): Effect.Effect<Option.Option<BindAddress>, InvalidBindAddress> =>
  Effect.suspend(() => {
    const trimmed = address.trim()
    if (trimmed === "0" || trimmed === "") return Effect.succeed(Option.none())
    const invalid = (message: string) => Effect.fail(new InvalidBindAddress({ address, message }))
    const colon = trimmed.lastIndexOf(":")
    if (colon < 0) return invalid("missing port; expected host:port, :port or 0")
    let host = trimmed.slice(0, colon)
    const portText = trimmed.slice(colon + 1)
    if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1)
    else if (host.includes(":")) return invalid("IPv6 hosts must be in brackets, e.g. [::1]:8080")
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return invalid(`invalid port "${portText}"`)
    return Effect.succeed(Option.some({ host: host === "" ? undefined : host, port: Number(portText) }))
  })

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

export type { GaugeFamily, GaugeSample } from "./internal/gaugeText.ts"

/**
 * Series computed at each scrape, for values that live elsewhere (one per object in a cache): the
 * collector returns gauge families whose series are produced as they are written to the response,
 * so a series it does not produce again (its object is gone) is gone from the next scrape, and a
 * scrape never holds all of them at once. Series in the process's registry live as long as the
 * process: Effect's registry has no way to remove one.
 */
export type Collector = Effect.Effect<ReadonlyArray<GaugeFamily>>

export interface HealthServerOptions {
  /** `--health-probe-bind-address`: serves `/healthz` and `/readyz`. Default `:8081`; `0` disables. */
  readonly healthProbeBindAddress?: string | undefined
  /** `--metrics-bind-address`: serves `/metrics`. Default `:8080`; `0` disables. */
  readonly metricsBindAddress?: string | undefined
  /** Served on `/metrics` after the process's registry, recorded afresh at each scrape. */
  readonly collectors?: ReadonlyArray<Collector> | undefined
}

export interface BoundServer {
  /** The port actually bound (useful with port 0). */
  readonly port: number
  /** e.g. `http://127.0.0.1:34567`. */
  readonly url: string
}

export class HealthServer extends Context.Service<
  HealthServer,
  {
    /** Where `/healthz` and `/readyz` are served; `None` if disabled. */
    readonly probes: Option.Option<BoundServer>
    /** Where `/metrics` is served; `None` if disabled. */
    readonly metrics: Option.Option<BoundServer>
  }
>()("@kleff/k8s/HealthServer") {
  /** Starts the servers; they stop when the layer's scope closes. Requires `HealthChecks`. */
  static readonly layer = (
    options: HealthServerOptions = {}
  ): Layer.Layer<HealthServer, InvalidBindAddress | HttpServerError.ServeError, HealthChecks> =>
    Layer.effect(HealthServer, make(options))
}

const verboseRequested = Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
  new URL(request.url, "http://localhost").searchParams.has("verbose")
)

const probeHandler = (kind: "healthz" | "readyz", report: Effect.Effect<CheckReport>) =>
  Effect.gen(function* () {
    const verbose = yield* verboseRequested
    const result = yield* report
    return HttpServerResponse.text(formatReport(kind, result, verbose), {
      status: result.ok ? 200 : 500,
      contentType: "text/plain; charset=utf-8",
      headers: { "x-content-type-options": "nosniff" }
    })
  })

/** `/healthz` and `/readyz`, answering from `HealthChecks`. */
const probeRoutes = HttpRouter.use(
  Effect.fnUntraced(function* (router) {
    const checks = yield* HealthChecks
    yield* router.add("GET", "/healthz", probeHandler("healthz", checks.healthz))
    yield* router.add("GET", "/readyz", probeHandler("readyz", checks.readyz))
  })
)

type Routes = Layer.Layer<never, never, HttpRouter.HttpRouter | HealthChecks>

/** The content type of the Prometheus text format 0.0.4, as Effect's exporter serves it. */
const prometheusTextFormat = "text/plain; version=0.0.4; charset=utf-8"

/**
 * `/metrics`: Effect's Prometheus exporter, rendering the metric registry of the context the
 * server was started in (the process-wide one unless a test provides its own), then the
 * collectors' families, streamed.
 */
const metricsRoute = (collectors: ReadonlyArray<Collector>): Routes =>
  collectors.length === 0
    ? PrometheusMetrics.layerHttp()
    : HttpRouter.use((router) =>
        router.add(
          "GET",
          "/metrics",
          Effect.gen(function* () {
            const kept = yield* PrometheusMetrics.format()
            const families = (yield* Effect.forEach(collectors, (collector) => collector)).flat()
            // One text chunk per stream element, pulled as the socket drains: with the default
            // (4,096 elements at a time) a 60 MB scrape was held whole, +430 MiB of heap.
            const chunks = Stream.fromIterable(gaugeText(families), { chunkSize: 1 })
            const text = Stream.concat(Stream.make(kept), chunks)
            return HttpServerResponse.stream(Stream.encodeText(text), { contentType: prometheusTextFormat })
          })
        )
      )

const serve = Effect.fnUntraced(function* (
  bind: BindAddress,
  routes: Routes
): Effect.fn.Return<BoundServer, HttpServerError.ServeError, Scope.Scope | HealthChecks> {
  const listen = bind.host === undefined ? { port: bind.port } : { port: bind.port, host: bind.host }
  const server = HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(
      NodeHttpServer.layer(createServer, { ...listen, gracefulShutdownTimeout: "5 seconds" })
    )
  )
  const { address } = Context.get(yield* Layer.build(server), HttpServer.HttpServer)
  const port = address._tag === "UnixPathAddress" ? 0 : address.port
  return { port, url: HttpServer.formatAddress(address) }
})

const sameAddress = (a: BindAddress, b: BindAddress) => a.port !== 0 && a.port === b.port && a.host === b.host

const make = Effect.fnUntraced(function* (options: HealthServerOptions) {
  const probeBind = yield* parseBindAddress(options.healthProbeBindAddress ?? ":8081")
  const metricsBind = yield* parseBindAddress(options.metricsBindAddress ?? ":8080")
  const collectors = options.collectors ?? []
  if (
    Option.isSome(probeBind) &&
    Option.isSome(metricsBind) &&
    sameAddress(probeBind.value, metricsBind.value)
  ) {
    const both = yield* serve(probeBind.value, Layer.merge(probeRoutes, metricsRoute(collectors)))
    return HealthServer.of({ probes: Option.some(both), metrics: Option.some(both) })
  }
  const probes = Option.isSome(probeBind)
    ? Option.some(yield* serve(probeBind.value, probeRoutes))
    : Option.none()
  const metrics = Option.isSome(metricsBind)
    ? Option.some(yield* serve(metricsBind.value, metricsRoute(collectors)))
    : Option.none()
  if (Option.isSome(probes)) yield* Effect.logInfo(`Serving health probes on ${probes.value.url}`)
  if (Option.isSome(metrics)) yield* Effect.logInfo(`Serving metrics on ${metrics.value.url}/metrics`)
  return HealthServer.of({ probes, metrics })
})
