/**
 * The HTTP exchange with one API server, over node:http(s) agents that carry the kubeconfig's TLS
 * material and keep connections alive; credentials go in as headers on every request, read from
 * `KubeConfig` (so a rotated token is picked up). Requests, read whole, go straight to node
 * (`nodeRequest.ts`, which says why); watches, long-lived streams, go through Effect's
 * `HttpClient` (`@effect/platform-node`'s `makeNodeHttp`) on the same kind of agents.
 *
 * Two pools: one bounded (`maxSockets`) for requests and one unbounded for watches, so long-lived
 * watches never starve writes. node's agent rather than undici's dispatcher: the agent says which
 * request went out on a kept-alive socket (`reuseSocket`), which the stale-socket retry needs, and it
 * is built into node where undici would load a second HTTP stack into the process.
 *
 * It owns the deadline of a request (the whole exchange, body included) and of a watch's silence, the
 * `rest_client_*` metrics, and the classification of every failure into `Errors`. It retries only in
 * two transport-level cases: once on a kept-alive socket the server had already closed, and once with
 * refreshed credentials after a 401. Anything else (5xx, timeouts) is for callers to retry: a
 * controller's backoff belongs to the watcher and the work queue, and writes must not be repeated
 * behind their back.
 */
import * as Http from "node:http"
import * as Https from "node:https"
import type { Duplex } from "node:stream"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Duration, Effect, Metric, Predicate, type Scope, Stream } from "effect"
import { HttpBody, type HttpClient, type HttpClientError, HttpClientRequest } from "effect/http"
import * as Errors from "../Errors.ts"
import type { Connection } from "../KubeConfig.ts"
import * as NodeRequest from "./nodeRequest.ts"

/**
 * Client metrics, named and labelled like client-go's as registered by controller-runtime
 * (`pkg/metrics/client_go_adapter.go`): `rest_client_requests_total{code,method,host}`, where
 * `code` is the HTTP status or `<error>` when no response arrived. The latency histogram follows
 * k8s.io/component-base (`rest_client_request_duration_seconds{verb,host}`, verb = HTTP method).
 */
export const ClientMetrics = {
  requests: Metric.counter("rest_client_requests_total", {
    description: "Number of HTTP requests, partitioned by status code, method, and host.",
    incremental: true
  }),
  requestDuration: Metric.histogram("rest_client_request_duration_seconds", {
    description: "Request latency in seconds. Broken down by verb, and host.",
    boundaries: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60]
  })
} as const

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"

/** One request, as the client's verbs describe it. */
export interface Exchange {
  readonly method: Method
  /** The API path, relative to the server's base path (it may carry a query of its own). */
  readonly path: string
  /** Query parameters; undefined values are left out. */
  readonly query?: Readonly<Record<string, string | undefined>> | undefined
  readonly body?: string | undefined
  /** Of the body; defaults to `application/json`. */
  readonly contentType?: string | undefined
  /** Defaults to `application/json`. */
  readonly accept?: string | undefined
  readonly context: Errors.RequestContext
  /** A JSON patch: its failed `test` operations are preconditions (`Conflict`), not invalid input. */
  readonly jsonPatch?: boolean | undefined
}

export interface RawResponse {
  readonly status: number
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export interface TransportOptions {
  /** Deadline for a whole request/response (not watches). */
  readonly requestTimeout: Duration.Input
  /** Concurrent connections for requests (watches have their own pool). */
  readonly maxSockets: number
  readonly userAgent: string
}

export interface Transport {
  /** The server's base URL, without a trailing slash. */
  readonly server: string
  /** One request, its body read whole; a non-2xx answer fails with its typed error. */
  readonly send: (exchange: Exchange) => Effect.Effect<RawResponse, Errors.KubeError>
  /** `send`, then the body parsed as JSON (a `MalformedResponse` `ApiError` when it is not). */
  readonly json: <A>(exchange: Exchange) => Effect.Effect<A, Errors.KubeError>
  /**
   * A long-lived response body (a watch), on the unbounded pool. A non-200 answer fails with its
   * typed error; `idle` without a byte (or without the answer's headers) fails with `Timeout`.
   */
  readonly stream: (exchange: Exchange, idle: Duration.Input) => Stream.Stream<Uint8Array, Errors.KubeError>
}

// ---------------------------------------------------------------------------------------------
// Agents

/** Errors of requests sent on a kept-alive socket (noted by the agents, read by the retry). */
const reusedSocketErrors = new WeakSet<object>()

const noteReuse = (request: Http.ClientRequest): void => {
  request.once("error", (error) => reusedSocketErrors.add(error))
}

/*
 * Both agents open sockets without handing node their connect callback. node's createConnection
 * returns the socket at once (the agent then calls the callback itself), but for TLS it also
 * leaves a `session` listener on the socket whose closure keeps the callback alive, and with it
 * the first request sent on the socket, its response and whatever their listeners hold: the
 * fiber that read the body, and the body. A kept-alive socket lives long, so every pooled socket
 * kept its first answer: 15 MiB of the operator at 1,000 Tenants (the first pages of its lists).
 */

class TrackingHttpAgent extends Http.Agent {
  override reuseSocket(socket: Duplex, request: Http.ClientRequest): void {
    super.reuseSocket(socket, request)
    noteReuse(request)
  }

  override createConnection(options: Http.ClientRequestArgs): Duplex | null | undefined {
    return super.createConnection(options)
  }
}

class TrackingHttpsAgent extends Https.Agent {
  override reuseSocket(socket: Duplex, request: Http.ClientRequest): void {
    super.reuseSocket(socket, request)
    noteReuse(request)
  }

  override createConnection(options: Http.ClientRequestArgs): Duplex | null | undefined {
    return super.createConnection(options)
  }
}

/** A node error of a kept-alive socket the server closed while it sat in the pool: safe to resend on a fresh one. */
const isStaleSocketError = (cause: unknown): boolean =>
  Predicate.isObject(cause) &&
  reusedSocketErrors.has(cause) &&
  Predicate.hasProperty(cause, "code") &&
  (cause.code === "ECONNRESET" || cause.code === "EPIPE" || cause.code === "ERR_STREAM_PREMATURE_CLOSE")

/** The same, as the watches' `HttpClient` reports it. */
const isStaleSocket = (error: HttpClientError.HttpClientError): boolean =>
  error.reason._tag === "TransportError" && isStaleSocketError(error.reason.cause)

/** The pair of agents of one pool, destroyed with the scope. */
const makeAgents = (
  connection: Connection,
  maxSockets: number
): Effect.Effect<{ readonly http: Http.Agent; readonly https: Https.Agent }, never, Scope.Scope> => {
  const options: Https.AgentOptions = {
    keepAlive: true,
    keepAliveMsecs: 30_000,
    scheduling: "lifo",
    maxSockets,
    maxFreeSockets: Math.min(maxSockets, 256),
    ...connection.tls
  }
  return Effect.acquireRelease(
    Effect.sync(() => ({ http: new TrackingHttpAgent(options), https: new TrackingHttpsAgent(options) })),
    (agents) =>
      Effect.sync(() => {
        agents.http.destroy()
        agents.https.destroy()
      })
  )
}

/** An `HttpClient` over its own pair of agents, destroyed with the scope: the watches'. */
const makeHttpClient = (
  connection: Connection,
  maxSockets: number
): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> =>
  Effect.flatMap(makeAgents(connection, maxSockets), (agents) =>
    Effect.provideService(NodeHttpClient.makeNodeHttp, NodeHttpClient.HttpAgent, agents)
  )

// ---------------------------------------------------------------------------------------------
// Exchanges

const timedOut = (context: Errors.RequestContext, message: string): Errors.KubeError =>
  Errors.fromTransport(context, Object.assign(new Error(message), { code: "ETIMEDOUT" }))

/** Builds the transport for one connection. Its agents live as long as the enclosing scope. */
export const make = (
  connection: Connection,
  options: TransportOptions
): Effect.Effect<Transport, never, Scope.Scope> =>
  Effect.gen(function* () {
    const server = connection.server.toString().replace(/\/$/, "")
    const host = connection.server.host
    const timeoutMillis = Duration.toMillis(Duration.fromInputUnsafe(options.requestTimeout))
    const requestAgents = yield* makeAgents(connection, options.maxSockets)
    const requestAgent = connection.server.protocol === "https:" ? requestAgents.https : requestAgents.http
    const watches = yield* makeHttpClient(connection, Number.POSITIVE_INFINITY)

    // One counter per (method, code), cached: attributes are fixed per series.
    const counters = new Map<string, Metric.Metric<number, unknown>>()
    const histograms = new Map<string, Metric.Metric<number, unknown>>()
    const record = (method: string, code: string, seconds: number | undefined) =>
      Effect.suspend(() => {
        const key = `${method} ${code}`
        let counter = counters.get(key)
        if (counter === undefined) {
          counter = Metric.withAttributes(ClientMetrics.requests, { code, method, host })
          counters.set(key, counter)
        }
        if (seconds === undefined) return Metric.update(counter, 1)
        let histogram = histograms.get(method)
        if (histogram === undefined) {
          histogram = Metric.withAttributes(ClientMetrics.requestDuration, { verb: method, host })
          histograms.set(method, histogram)
        }
        return Effect.andThen(Metric.update(counter, 1), Metric.update(histogram, seconds))
      })

    const authHeaders = (context: Errors.RequestContext) =>
      Effect.mapError(connection.headers, (error) => Errors.apiError(context, "Credentials", error.message))

    const classify = (context: Errors.RequestContext) => (error: HttpClientError.HttpClientError) =>
      Errors.fromTransport(context, error.reason.cause ?? error.reason, server)

    const toRequest = (exchange: Exchange, auth: Readonly<Record<string, string>>) =>
      HttpClientRequest.make(exchange.method)(server + exchange.path, {
        headers: { ...auth, "user-agent": options.userAgent },
        accept: exchange.accept ?? "application/json",
        ...(exchange.query === undefined ? {} : { urlParams: exchange.query }),
        ...(exchange.body === undefined
          ? {}
          : { body: HttpBody.text(exchange.body, exchange.contentType ?? "application/json") })
      })

    /** Sends, and sends once more when the first attempt died on a stale kept-alive socket. */
    const execute = (client: HttpClient.HttpClient, request: HttpClientRequest.HttpClientRequest) =>
      Effect.catchIf(client.execute(request), isStaleSocket, () => client.execute(request))

    /** The whole URL of an exchange: its query parameters after any query its path carries. */
    const urlOf = (exchange: Exchange): string => {
      const url = server + exchange.path
      if (exchange.query === undefined) return url
      const params = new URLSearchParams()
      for (const name in exchange.query) {
        const value = exchange.query[name]
        if (value !== undefined) params.append(name, value)
      }
      const query = params.toString()
      return query === "" ? url : `${url}${exchange.path.includes("?") ? "&" : "?"}${query}`
    }

    /** One request/response, body read whole, within the request deadline (sent once more on a stale socket). */
    const exchangeOnce = (exchange: Exchange, auth: Readonly<Record<string, string>>) => {
      const headers: Record<string, string> = {
        ...auth,
        "user-agent": options.userAgent,
        accept: exchange.accept ?? "application/json"
      }
      if (exchange.body !== undefined) headers["content-type"] = exchange.contentType ?? "application/json"
      const request = { method: exchange.method, url: urlOf(exchange), headers, body: exchange.body }
      return NodeRequest.send(requestAgent, request).pipe(
        Effect.catchIf(
          (error) => isStaleSocketError(error.cause),
          () => NodeRequest.send(requestAgent, request)
        ),
        Effect.mapError((error) => Errors.fromTransport(exchange.context, error.cause, server)),
        Effect.timeoutOrElse({
          duration: timeoutMillis,
          orElse: () => Effect.fail(timedOut(exchange.context, `no answer within ${timeoutMillis} ms`))
        })
      )
    }

    const send = (exchange: Exchange): Effect.Effect<RawResponse, Errors.KubeError> =>
      Effect.gen(function* () {
        for (let attempt = 0; ; attempt++) {
          const auth = yield* authHeaders(exchange.context)
          const started = performance.now()
          const response = yield* exchangeOnce(exchange, auth).pipe(
            Effect.tapError(() => record(exchange.method, "<error>", undefined))
          )
          yield* record(exchange.method, String(response.status), (performance.now() - started) / 1000)
          if (response.status >= 200 && response.status < 300) return response
          if (response.status === 401 && attempt === 0) {
            yield* connection.refresh
            continue
          }
          return yield* Effect.fail(
            Errors.fromResponse(exchange.context, response.status, response.body, {
              retryAfterHeader: response.headers["retry-after"],
              jsonPatch: exchange.jsonPatch
            })
          )
        }
      })

    const json = <A>(exchange: Exchange): Effect.Effect<A, Errors.KubeError> =>
      Effect.flatMap(send(exchange), (response) =>
        Effect.try({
          try: () => JSON.parse(response.body) as A,
          catch: (error) =>
            Errors.malformedResponse(
              exchange.context,
              response.status,
              `response is not JSON: ${error instanceof Error ? error.message : String(error)}`
            )
        })
      )

    const stream = (exchange: Exchange, idle: Duration.Input): Stream.Stream<Uint8Array, Errors.KubeError> =>
      Stream.unwrap(
        Effect.gen(function* () {
          const context = exchange.context
          const idleMillis = Duration.toMillis(Duration.fromInputUnsafe(idle))
          const silent = () => timedOut(context, `watch idle for ${idleMillis} ms`)
          const auth = yield* authHeaders(context)
          const response = yield* execute(watches, toRequest(exchange, auth)).pipe(
            Effect.mapError(classify(context)),
            Effect.timeoutOrElse({ duration: idleMillis, orElse: () => Effect.fail(silent()) }),
            Effect.tapError(() => record(exchange.method, "<error>", undefined))
          )
          yield* record(exchange.method, String(response.status), undefined)
          if (response.status !== 200) {
            const body = yield* Effect.orElseSucceed(response.text, () => "")
            if (response.status === 401) yield* connection.refresh
            return yield* Effect.fail(Errors.fromResponse(context, response.status, body))
          }
          return response.stream.pipe(
            Stream.mapError(classify(context)),
            Stream.timeoutOrElse({ duration: idleMillis, orElse: () => Stream.fail(silent()) })
          )
        })
      )

    const transport: Transport = { server, send, json, stream }
    return transport
  })
