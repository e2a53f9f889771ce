/**
 * The Kubernetes REST client: generic over core's `ResourceType`, one HTTP exchange per call,
 * typed errors, and the `rest_client_requests_total` metric.
 *
 * Transport is node:https with two keep-alive agents (one pooled for requests, one unbounded for
 * long-lived watches, so watches never starve writes), TLS and credentials from `KubeConfig`.
 * We deliberately do not use `@kubernetes/client-node`'s typed APIs or informer: a generic
 * GVK-based path builder is all a controller needs, watch bodies are parsed incrementally here,
 * and each call costs one `JSON.parse` and nothing more.
 *
 * It must not retry on its own beyond two transport-level cases (a keep-alive socket the server had
 * already closed, and one refresh of credentials after a 401), cache anything, or decide policy:
 * backoff belongs to the watcher and the work queue.
 */
import type * as http from "node:http"
import * as httpModule from "node:http"
import * as httpsModule from "node:https"
import type { KubeObject, ResourceType } from "@kleff/core"
import { Context, Duration, Effect, Layer, Metric, Predicate, type Scope, Stream } from "effect"
import * as Errors from "./Errors.ts"
import { type Connection, KubeConfig } from "./KubeConfig.ts"

// ---------------------------------------------------------------------------------------------
// Metrics

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

// ---------------------------------------------------------------------------------------------
// Paths

/** `plural` for the core group, `plural.group` otherwise: how kubectl names a resource. */
export const resourceName = (type: ResourceType): string =>
  type.group === "" ? type.plural : `${type.plural}.${type.group}`

const groupVersionPath = (type: ResourceType): string =>
  type.group === "" ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`

/** The collection path: all namespaces when `namespace` is undefined (or the type is cluster-scoped). */
export const collectionPath = (type: ResourceType, namespace?: string | undefined): string =>
  type.namespaced && namespace !== undefined && namespace !== ""
    ? `${groupVersionPath(type)}/namespaces/${encodeURIComponent(namespace)}/${type.plural}`
    : `${groupVersionPath(type)}/${type.plural}`

/** The path of one object, or of its subresource (`status`). */
export const objectPath = (
  type: ResourceType,
  name: string,
  namespace?: string | undefined,
  subresource?: string | undefined
): string =>
  `${collectionPath(type, namespace)}/${encodeURIComponent(name)}${subresource === undefined ? "" : `/${subresource}`}`

// ---------------------------------------------------------------------------------------------
// Watch body decoding (pure)

/**
 * Splits a byte stream into lines, incrementally: a line (or a multi-byte character) may be cut
 * anywhere by chunk boundaries. Linear in the input: pending pieces are joined once per line.
 */
export class JsonLinesDecoder {
  private readonly utf8 = new TextDecoder("utf-8")
  private pending: Array<string> = []

  /** Feeds one chunk; returns the lines it completed (without the newline, blank lines dropped). */
  push(chunk: Uint8Array): Array<string> {
    return this.split(this.utf8.decode(chunk, { stream: true }))
  }

  /** Flushes what is left at the end of the body (a last line without a trailing newline). */
  end(): Array<string> {
    const lines = this.split(this.utf8.decode())
    const rest = this.pending.join("")
    this.pending = []
    if (rest.trim() !== "") lines.push(rest)
    return lines
  }

  private split(text: string): Array<string> {
    const lines: Array<string> = []
    let start = 0
    let newline = text.indexOf("\n", start)
    while (newline !== -1) {
      let line = text.slice(start, newline)
      if (this.pending.length > 0) {
        this.pending.push(line)
        line = this.pending.join("")
        this.pending = []
      }
      if (line.trim() !== "") lines.push(line)
      start = newline + 1
      newline = text.indexOf("\n", start)
    }
    if (start < text.length) this.pending.push(text.slice(start))
    return lines
  }
}

/** One event of a raw watch, as the API server sends it. */
export type WatchEvent<T extends KubeObject = KubeObject> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: T }
  /** A progress marker: nothing changed up to `resourceVersion`. */
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }
  /** The server ended the watch with a Status (410 `Expired` → `error` is `Gone`). */
  | { readonly type: "ERROR"; readonly error: Errors.KubeError }

/** Parses one watch line. Fails (as an `ApiError`) on a line that is not a watch event. */
export const decodeWatchEvent = <T extends KubeObject>(
  line: string,
  context: Errors.RequestContext
): WatchEvent<T> | Errors.ApiError => {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch (error) {
    return malformed(
      context,
      `watch event is not JSON: ${error instanceof Error ? error.message : String(error)}`
    )
  }
  if (!Predicate.hasProperty(parsed, "type") || !Predicate.hasProperty(parsed, "object")) {
    return malformed(context, "watch event without type or object")
  }
  const object = parsed.object
  if (!Predicate.isObject(object)) return malformed(context, "watch event object is not an object")
  switch (parsed.type) {
    case "ADDED":
    case "MODIFIED":
    case "DELETED":
      return { type: parsed.type, object: object as unknown as T }
    case "BOOKMARK": {
      const metadata = Predicate.hasProperty(object, "metadata") ? object.metadata : undefined
      const rv = Predicate.hasProperty(metadata, "resourceVersion") ? metadata.resourceVersion : undefined
      return { type: "BOOKMARK", resourceVersion: Predicate.isString(rv) ? rv : "" }
    }
    case "ERROR":
      return { type: "ERROR", error: Errors.fromWatchStatus(context, object) }
    default:
      return malformed(context, `unknown watch event type ${String(parsed.type)}`)
  }
}

const malformed = (context: Errors.RequestContext, message: string) =>
  new Errors.ApiError({
    verb: context.verb,
    resource: context.resource,
    name: context.name,
    ...(context.namespace === undefined ? {} : { namespace: context.namespace }),
    code: 200,
    reason: "MalformedResponse",
    message
  })

// ---------------------------------------------------------------------------------------------
// The service

export interface ListOptions {
  /** Omit (or leave undefined) for all namespaces; ignored for cluster-scoped types. */
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
  /** Page size. `list` defaults to 500 (client-go's pager default); `listPage` sends none unless given. */
  readonly limit?: number | undefined
  readonly continue?: string | undefined
  readonly resourceVersion?: string | undefined
  readonly resourceVersionMatch?: "Exact" | "NotOlderThan" | undefined
}

/** One page of a list. */
export interface ListPage<T extends KubeObject> {
  readonly items: ReadonlyArray<T>
  /** The list's resourceVersion: watch from here to see every later change. */
  readonly resourceVersion: string
  /** Present when more pages follow. */
  readonly continue: string | undefined
}

/** A complete list (all pages). */
export interface ListResult<T extends KubeObject> {
  readonly items: ReadonlyArray<T>
  readonly resourceVersion: string
}

export interface WatchOptions {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
  /** Start after this version; omit for "now" (then the server first sends ADDED for every object). */
  readonly resourceVersion?: string | undefined
  /** Server-side lifetime of the watch; the stream then ends normally. */
  readonly timeoutSeconds?: number | undefined
  /** Defaults to true. */
  readonly allowWatchBookmarks?: boolean | undefined
}

export interface WriteOptions {
  readonly dryRun?: boolean | undefined
  /** Defaults to the client's field manager. */
  readonly fieldManager?: string | undefined
}

export interface ApplyOptions extends WriteOptions {
  /** Take ownership of conflicting fields. Defaults to true (a controller is the authority on its fields). */
  readonly force?: boolean | undefined
  /** Apply to a subresource (`status`). */
  readonly subresource?: string | undefined
}

export type Patch =
  | { readonly type: "json"; readonly operations: ReadonlyArray<JsonPatchOperation> }
  | { readonly type: "merge"; readonly body: unknown }
  | { readonly type: "strategic"; readonly body: unknown }

export type JsonPatchOperation =
  | { readonly op: "add" | "replace" | "test"; readonly path: string; readonly value: unknown }
  | { readonly op: "remove"; readonly path: string }
  | { readonly op: "move" | "copy"; readonly from: string; readonly path: string }

export interface PatchOptions extends WriteOptions {
  readonly namespace?: string | undefined
  readonly subresource?: string | undefined
}

export interface DeleteOptions {
  readonly namespace?: string | undefined
  /** Only delete the object if it still has this UID (409 Conflict otherwise). */
  readonly uid?: string | undefined
  /** Only delete the object if it is still at this resourceVersion. */
  readonly resourceVersion?: string | undefined
  /** Defaults to `Background`. */
  readonly propagationPolicy?: "Background" | "Foreground" | "Orphan" | undefined
  readonly gracePeriodSeconds?: number | undefined
  readonly dryRun?: boolean | undefined
}

/** Which object a call addresses. */
export interface Target {
  readonly name: string
  readonly namespace?: string | undefined
  /** When set, the write is conditional on the object still having this UID. */
  readonly uid?: string | undefined
}

export interface RawRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  /** Absolute API path, e.g. `/readyz` or `/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`. */
  readonly path: string
  readonly query?: Readonly<Record<string, string>> | undefined
  /** Sent as JSON unless a string. */
  readonly body?: unknown
  readonly contentType?: string | undefined
  readonly accept?: string | undefined
}

export interface RawResponse {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

export interface ClientService {
  /** The server this client talks to (for logs). */
  readonly server: string
  /** The field manager used by `apply` (and recorded on every write). */
  readonly fieldManager: string
  get<T extends KubeObject>(
    type: ResourceType<T>,
    name: string,
    namespace?: string
  ): Effect.Effect<T, Errors.KubeError>
  /** One page of a list. */
  listPage<T extends KubeObject>(
    type: ResourceType<T>,
    options?: ListOptions
  ): Effect.Effect<ListPage<T>, Errors.KubeError>
  /**
   * Every page of a list, `limit` objects at a time (default 500), as one consistent snapshot.
   * `Gone` when the continue token expired between pages (a very slow consumer): list again.
   */
  list<T extends KubeObject>(
    type: ResourceType<T>,
    options?: ListOptions
  ): Effect.Effect<ListResult<T>, Errors.KubeError>
  /** A raw watch: ends when the server ends it (`timeoutSeconds`), fails on transport errors. */
  watch<T extends KubeObject>(
    type: ResourceType<T>,
    options?: WatchOptions
  ): Stream.Stream<WatchEvent<T>, Errors.KubeError>
  create<T extends KubeObject>(
    type: ResourceType<T>,
    object: KubeObject,
    options?: WriteOptions
  ): Effect.Effect<T, Errors.KubeError>
  /** Server-side apply (`application/apply-patch+yaml`, force by default). Send only the fields you manage. */
  apply<T extends KubeObject>(
    type: ResourceType<T>,
    object: KubeObject,
    options?: ApplyOptions
  ): Effect.Effect<T, Errors.KubeError>
  patch<T extends KubeObject>(
    type: ResourceType<T>,
    name: string,
    patch: Patch,
    options?: PatchOptions
  ): Effect.Effect<T, Errors.KubeError>
  /**
   * Replaces `.status` whole (a JSON patch on the `status` subresource: `test` the UID when given,
   * then `add /status`). Fields a previous status had and this one lacks are removed.
   */
  patchStatus<T extends KubeObject>(
    type: ResourceType<T>,
    target: Target,
    status: Readonly<Record<string, unknown>>,
    options?: WriteOptions
  ): Effect.Effect<T, Errors.KubeError>
  /**
   * Adds `finalizer` to `observed` with a JSON patch that `test`s the UID and the finalizer list as
   * observed, so a concurrent change fails with `Conflict` instead of being overwritten.
   * No request when it is already present.
   */
  addFinalizer<T extends KubeObject>(
    type: ResourceType<T>,
    observed: KubeObject,
    finalizer: string,
    options?: WriteOptions
  ): Effect.Effect<T, Errors.KubeError>
  /** Removes `finalizer` (`test` on the UID and on the entry at its index, then `remove`). No request when absent. */
  removeFinalizer<T extends KubeObject>(
    type: ResourceType<T>,
    observed: KubeObject,
    finalizer: string,
    options?: WriteOptions
  ): Effect.Effect<T, Errors.KubeError>
  /** Deletes (propagation `Background` by default). `NotFound` when already gone: callers decide if that is fine. */
  delete(type: ResourceType, name: string, options?: DeleteOptions): Effect.Effect<void, Errors.KubeError>
  /** Any other API path; fails with a typed error on a non-2xx answer. */
  request(request: RawRequest): Effect.Effect<RawResponse, Errors.KubeError>
}

export interface ClientOptions {
  /** Field manager for server-side apply. Defaults to `kleff`. */
  readonly fieldManager?: string | undefined
  /** Deadline for a whole request/response (not watches). Defaults to 30 seconds. */
  readonly requestTimeout?: Duration.Input | undefined
  /** Concurrent connections for requests (watches have their own pool). Defaults to 64. */
  readonly maxSockets?: number | undefined
  readonly userAgent?: string | undefined
}

export class Client extends Context.Service<Client, ClientService>()("@kleff/k8s/Client") {
  static readonly layerWith = (options: ClientOptions): Layer.Layer<Client, never, KubeConfig> =>
    Layer.effect(
      Client,
      Effect.gen(function* () {
        return yield* make(yield* KubeConfig, options)
      })
    )

  /** A client for the `KubeConfig` in context, with default options. */
  static readonly layer: Layer.Layer<Client, never, KubeConfig> = Client.layerWith({})
}

// ---------------------------------------------------------------------------------------------
// Implementation

interface Exchange {
  readonly method: string
  /** Path and query, relative to the server's base path. */
  readonly path: string
  readonly body?: string | undefined
  readonly contentType?: string | undefined
  readonly accept?: string | undefined
  readonly context: Errors.RequestContext
  readonly jsonPatch?: boolean | undefined
}

/** A keep-alive socket the server closed while it sat in the pool: safe to retry on a fresh one. */
const isStaleSocket = (error: unknown): boolean =>
  Predicate.hasProperty(error, "code") &&
  (error.code === "ECONNRESET" || error.code === "EPIPE" || error.code === "ERR_STREAM_PREMATURE_CLOSE")

const withQuery = (path: string, query: Record<string, string | undefined>): string => {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, value)
  const text = params.toString()
  return text === "" ? path : `${path}?${text}`
}

const decodeJson = <A>(
  context: Errors.RequestContext,
  response: RawResponse
): Effect.Effect<A, Errors.ApiError> =>
  Effect.try({
    try: () => JSON.parse(response.body) as A,
    catch: (error) =>
      new Errors.ApiError({
        verb: context.verb,
        resource: context.resource,
        name: context.name,
        ...(context.namespace === undefined ? {} : { namespace: context.namespace }),
        code: response.status,
        reason: "MalformedResponse",
        message: `response is not JSON: ${error instanceof Error ? error.message : String(error)}`
      })
  })

const requireNamespace = (
  type: ResourceType,
  context: Errors.RequestContext,
  namespace: string | undefined
): Effect.Effect<string | undefined, Errors.ApiError> =>
  type.namespaced && (namespace === undefined || namespace === "")
    ? Effect.fail(
        new Errors.ApiError({
          ...context,
          namespace: undefined,
          code: 0,
          reason: "NamespaceRequired",
          message: `${context.verb} ${context.resource} ${context.name}: the resource is namespaced, no namespace given`
        })
      )
    : Effect.succeed(type.namespaced ? namespace : undefined)

/** Builds a client over one connection. The agents live as long as the enclosing scope. */
export const make = (
  connection: Connection,
  options: ClientOptions = {}
): Effect.Effect<ClientService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const fieldManager = options.fieldManager ?? "kleff"
    const timeoutMillis = Duration.toMillis(options.requestTimeout ?? "30 seconds")
    const userAgent = options.userAgent ?? "kleff-operator"
    const server = connection.server
    const secure = server.protocol === "https:"
    const transport = secure ? httpsModule : httpModule
    const hostname = server.hostname.replace(/^\[(.*)\]$/, "$1")
    const port = server.port === "" ? (secure ? 443 : 80) : Number(server.port)
    const basePath = server.pathname === "/" ? "" : server.pathname
    const host = server.host
    const agentOptions = {
      keepAlive: true,
      keepAliveMsecs: 30_000,
      scheduling: "lifo" as const,
      ...connection.tls
    }
    const makeAgent = (maxSockets: number) =>
      secure
        ? new httpsModule.Agent({ ...agentOptions, maxSockets, maxFreeSockets: Math.min(maxSockets, 256) })
        : new httpModule.Agent({ keepAlive: true, keepAliveMsecs: 30_000, maxSockets })
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() => makeAgent(options.maxSockets ?? 64)),
      (a) => Effect.sync(() => a.destroy())
    )
    const watchAgent = yield* Effect.acquireRelease(
      Effect.sync(() => makeAgent(Number.POSITIVE_INFINITY)),
      (a) => Effect.sync(() => a.destroy())
    )

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

    const requestHeaders = (exchange: Exchange, auth: Readonly<Record<string, string>>) => {
      const headers: Record<string, string> = {
        Accept: exchange.accept ?? "application/json",
        "User-Agent": userAgent,
        ...auth
      }
      if (exchange.body !== undefined) {
        headers["Content-Type"] = exchange.contentType ?? "application/json"
        headers["Content-Length"] = String(Buffer.byteLength(exchange.body))
      }
      return headers
    }

    const authHeaders = (context: Errors.RequestContext) =>
      Effect.mapError(
        connection.headers,
        (error) =>
          new Errors.ApiError({
            verb: context.verb,
            resource: context.resource,
            name: context.name,
            ...(context.namespace === undefined ? {} : { namespace: context.namespace }),
            code: 0,
            reason: "Credentials",
            message: error.message
          })
      )

    /** One request/response, body buffered. Retries once on a stale keep-alive socket. */
    const exchangeOnce = (exchange: Exchange, auth: Readonly<Record<string, string>>) =>
      Effect.callback<RawResponse, Errors.KubeError>((resume) => {
        let finished = false
        let timedOut = false
        let current: http.ClientRequest | undefined
        const finish = (effect: Effect.Effect<RawResponse, Errors.KubeError>) => {
          if (finished) return
          finished = true
          clearTimeout(timer)
          resume(effect)
        }
        const headers = requestHeaders(exchange, auth)
        const start = (retries: number) => {
          const req = transport.request(
            { hostname, port, path: basePath + exchange.path, method: exchange.method, headers, agent },
            (res) => {
              const chunks: Array<Buffer> = []
              res.on("data", (chunk: Buffer) => chunks.push(chunk))
              res.on("end", () =>
                finish(
                  Effect.succeed({
                    status: res.statusCode ?? 0,
                    headers: res.headers,
                    body: Buffer.concat(chunks).toString("utf8")
                  })
                )
              )
              res.on("error", (error) =>
                finish(Effect.fail(Errors.fromTransport(exchange.context, error, timedOut)))
              )
            }
          )
          current = req
          req.on("error", (error) => {
            if (finished) return
            if (!timedOut && retries > 0 && req.reusedSocket && isStaleSocket(error)) {
              start(retries - 1)
              return
            }
            finish(Effect.fail(Errors.fromTransport(exchange.context, error, timedOut)))
          })
          req.end(exchange.body)
        }
        const timer = setTimeout(() => {
          timedOut = true
          current?.destroy(
            Object.assign(new Error(`no answer within ${timeoutMillis} ms`), { code: "ETIMEDOUT" })
          )
        }, timeoutMillis)
        start(1)
        return Effect.sync(() => {
          finished = true
          clearTimeout(timer)
          current?.destroy()
        })
      })

    /** A request with metrics, one credentials refresh on 401, and typed errors for non-2xx answers. */
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
              retryAfterHeader: Predicate.isString(response.headers["retry-after"])
                ? response.headers["retry-after"]
                : undefined,
              jsonPatch: exchange.jsonPatch
            })
          )
        }
      })

    const sendJson = <A>(exchange: Exchange): Effect.Effect<A, Errors.KubeError> =>
      Effect.flatMap(send(exchange), (response) => decodeJson<A>(exchange.context, response))

    const contextOf = (verb: string, type: ResourceType, name: string, namespace: string | undefined) => ({
      verb,
      resource: resourceName(type),
      name,
      namespace: type.namespaced ? namespace : undefined
    })

    const get = Effect.fn("Client.get")(function* (type: ResourceType, name: string, namespace?: string) {
      const context = contextOf("get", type, name, namespace)
      const ns = yield* requireNamespace(type, context, namespace)
      return yield* sendJson<KubeObject>({ method: "GET", path: objectPath(type, name, ns), context })
    })

    const listPage = Effect.fn("Client.listPage")(function* (type: ResourceType, options: ListOptions = {}) {
      const context = contextOf("list", type, "", options.namespace)
      const path = withQuery(collectionPath(type, options.namespace), {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit === undefined ? undefined : String(options.limit),
        continue: options.continue,
        resourceVersion: options.resourceVersion,
        resourceVersionMatch: options.resourceVersionMatch
      })
      const list = yield* sendJson<{
        readonly items?: ReadonlyArray<KubeObject> | null
        readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string }
        readonly apiVersion?: string
      }>({ method: "GET", path, context })
      const items = list.items ?? []
      // Items of a list carry no apiVersion/kind; restore them so every object is self-describing.
      const apiVersion = type.group === "" ? type.version : `${type.group}/${type.version}`
      for (const item of items) {
        const mutable = item as { apiVersion?: string; kind?: string }
        if (mutable.apiVersion === undefined) mutable.apiVersion = apiVersion
        if (mutable.kind === undefined) mutable.kind = type.kind
      }
      const next = list.metadata?.continue
      const page: ListPage<KubeObject> = {
        items,
        resourceVersion: list.metadata?.resourceVersion ?? "",
        continue: next === undefined || next === "" ? undefined : next
      }
      return page
    })

    const list = Effect.fn("Client.list")(function* (type: ResourceType, options: ListOptions = {}) {
      const items: Array<KubeObject> = []
      let token: string | undefined = options.continue
      for (;;) {
        const page: ListPage<KubeObject> = yield* listPage(type, {
          ...options,
          limit: options.limit ?? 500,
          continue: token
        })
        for (const item of page.items) items.push(item)
        if (page.continue === undefined) {
          const result: ListResult<KubeObject> = { items, resourceVersion: page.resourceVersion }
          return result
        }
        token = page.continue
      }
    })

    const watch = (
      type: ResourceType,
      options: WatchOptions = {}
    ): Stream.Stream<WatchEvent, Errors.KubeError> => {
      const context = contextOf("watch", type, "", options.namespace)
      const timeoutSeconds = options.timeoutSeconds
      const path = withQuery(collectionPath(type, options.namespace), {
        watch: "1",
        allowWatchBookmarks: options.allowWatchBookmarks === false ? undefined : "true",
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        resourceVersion: options.resourceVersion,
        timeoutSeconds: timeoutSeconds === undefined ? undefined : String(timeoutSeconds)
      })
      // No byte for this long means the connection is dead (the server sends bookmarks about every
      // minute and ends the watch at timeoutSeconds).
      const idleMillis = ((timeoutSeconds ?? 300) + 60) * 1000
      return Stream.unwrap(
        Effect.gen(function* () {
          const auth = yield* authHeaders(context)
          const headers = requestHeaders({ method: "GET", path, context }, auth)
          let idleTimedOut = false
          const holder: { req?: http.ClientRequest } = {}
          yield* Effect.addFinalizer(() => Effect.sync(() => holder.req?.destroy()))
          const res = yield* Effect.callback<http.IncomingMessage, Errors.KubeError>((resume) => {
            let settled = false
            const req = transport.request(
              { hostname, port, path: basePath + path, method: "GET", headers, agent: watchAgent },
              (response) => {
                settled = true
                resume(Effect.succeed(response))
              }
            )
            holder.req = req
            req.setTimeout(idleMillis, () => {
              idleTimedOut = true
              req.destroy(Object.assign(new Error(`watch idle for ${idleMillis} ms`), { code: "ETIMEDOUT" }))
            })
            req.on("error", (error) => {
              if (settled) return
              settled = true
              resume(Effect.fail(Errors.fromTransport(context, error, idleTimedOut)))
            })
            req.end()
          }).pipe(Effect.tapError(() => record("GET", "<error>", undefined)))
          const status = res.statusCode ?? 0
          yield* record("GET", String(status), undefined)
          if (status !== 200) {
            const body = yield* Effect.callback<string>((resume) => {
              const chunks: Array<Buffer> = []
              res.on("data", (chunk: Buffer) => chunks.push(chunk))
              res.on("end", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
              res.on("error", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
            })
            if (status === 401) yield* connection.refresh
            return yield* Effect.fail(Errors.fromResponse(context, status, body))
          }
          const decoder = new JsonLinesDecoder()
          const decodeLines = (lines: Array<string>) =>
            Effect.suspend(() => {
              const events: Array<WatchEvent> = []
              for (const line of lines) {
                const event = decodeWatchEvent(line, context)
                if (event instanceof Errors.ApiError) return Effect.fail(event)
                events.push(event)
              }
              return Effect.succeed(events)
            })
          const body = Stream.fromAsyncIterable(
            res as AsyncIterable<Buffer>,
            (error) => Errors.fromTransport(context, error, idleTimedOut) as Errors.KubeError
          )
          return body.pipe(
            Stream.mapEffect((chunk) => decodeLines(decoder.push(chunk))),
            Stream.concat(Stream.fromEffect(Effect.suspend(() => decodeLines(decoder.end())))),
            Stream.flattenIterable
          )
        })
      )
    }

    const create = Effect.fn("Client.create")(function* (
      type: ResourceType,
      object: KubeObject,
      options: WriteOptions = {}
    ) {
      const namespace = object.metadata.namespace
      const context = contextOf("create", type, object.metadata.name, namespace)
      const ns = yield* requireNamespace(type, context, namespace)
      return yield* sendJson<KubeObject>({
        method: "POST",
        path: withQuery(collectionPath(type, ns), {
          fieldManager: options.fieldManager ?? fieldManager,
          dryRun: options.dryRun === true ? "All" : undefined
        }),
        body: JSON.stringify(object),
        context
      })
    })

    const apply = Effect.fn("Client.apply")(function* (
      type: ResourceType,
      object: KubeObject,
      options: ApplyOptions = {}
    ) {
      const namespace = object.metadata.namespace
      const context = contextOf("apply", type, object.metadata.name, namespace)
      const ns = yield* requireNamespace(type, context, namespace)
      return yield* sendJson<KubeObject>({
        method: "PATCH",
        path: withQuery(objectPath(type, object.metadata.name, ns, options.subresource), {
          fieldManager: options.fieldManager ?? fieldManager,
          force: options.force === false ? undefined : "true",
          dryRun: options.dryRun === true ? "All" : undefined
        }),
        // JSON is YAML: the apply content type accepts it unchanged.
        body: JSON.stringify(object),
        contentType: "application/apply-patch+yaml",
        context
      })
    })

    const patchWith = (
      verb: string,
      type: ResourceType,
      name: string,
      patch: Patch,
      options: PatchOptions
    ): Effect.Effect<KubeObject, Errors.KubeError> =>
      Effect.gen(function* () {
        const context = contextOf(verb, type, name, options.namespace)
        const ns = yield* requireNamespace(type, context, options.namespace)
        const [contentType, body] =
          patch.type === "json"
            ? ["application/json-patch+json", patch.operations]
            : patch.type === "merge"
              ? ["application/merge-patch+json", patch.body]
              : ["application/strategic-merge-patch+json", patch.body]
        return yield* sendJson<KubeObject>({
          method: "PATCH",
          path: withQuery(objectPath(type, name, ns, options.subresource), {
            fieldManager: options.fieldManager ?? fieldManager,
            dryRun: options.dryRun === true ? "All" : undefined
          }),
          body: JSON.stringify(body),
          contentType,
          context,
          jsonPatch: patch.type === "json"
        })
      })

    const patch = Effect.fn("Client.patch")(function* (
      type: ResourceType,
      name: string,
      body: Patch,
      options: PatchOptions = {}
    ) {
      return yield* patchWith("patch", type, name, body, options)
    })

    const uidTest = (uid: string | undefined): ReadonlyArray<JsonPatchOperation> =>
      uid === undefined || uid === "" ? [] : [{ op: "test", path: "/metadata/uid", value: uid }]

    const patchStatus = Effect.fn("Client.patchStatus")(function* (
      type: ResourceType,
      target: Target,
      status: Readonly<Record<string, unknown>>,
      options: WriteOptions = {}
    ) {
      return yield* patchWith(
        "patchStatus",
        type,
        target.name,
        { type: "json", operations: [...uidTest(target.uid), { op: "add", path: "/status", value: status }] },
        { ...options, namespace: target.namespace, subresource: "status" }
      )
    })

    const addFinalizer = Effect.fn("Client.addFinalizer")(function* (
      type: ResourceType,
      observed: KubeObject,
      finalizer: string,
      options: WriteOptions = {}
    ) {
      const current = observed.metadata.finalizers ?? []
      if (current.includes(finalizer)) return observed
      const operations: ReadonlyArray<JsonPatchOperation> =
        current.length === 0
          ? [
              ...uidTest(observed.metadata.uid),
              // A null test passes only while the list is absent: someone else adding one conflicts.
              { op: "test", path: "/metadata/finalizers", value: null },
              { op: "add", path: "/metadata/finalizers", value: [finalizer] }
            ]
          : [
              ...uidTest(observed.metadata.uid),
              { op: "test", path: "/metadata/finalizers", value: current },
              { op: "add", path: "/metadata/finalizers/-", value: finalizer }
            ]
      return yield* patchWith(
        "addFinalizer",
        type,
        observed.metadata.name,
        { type: "json", operations },
        { ...options, namespace: observed.metadata.namespace }
      )
    })

    const removeFinalizer = Effect.fn("Client.removeFinalizer")(function* (
      type: ResourceType,
      observed: KubeObject,
      finalizer: string,
      options: WriteOptions = {}
    ) {
      const index = (observed.metadata.finalizers ?? []).indexOf(finalizer)
      if (index === -1) return observed
      const path = `/metadata/finalizers/${index}`
      return yield* patchWith(
        "removeFinalizer",
        type,
        observed.metadata.name,
        {
          type: "json",
          operations: [
            ...uidTest(observed.metadata.uid),
            { op: "test", path, value: finalizer },
            { op: "remove", path }
          ]
        },
        { ...options, namespace: observed.metadata.namespace }
      )
    })

    const del = Effect.fn("Client.delete")(function* (
      type: ResourceType,
      name: string,
      options: DeleteOptions = {}
    ) {
      const context = contextOf("delete", type, name, options.namespace)
      const ns = yield* requireNamespace(type, context, options.namespace)
      const preconditions =
        options.uid === undefined && options.resourceVersion === undefined
          ? undefined
          : {
              ...(options.uid === undefined ? {} : { uid: options.uid }),
              ...(options.resourceVersion === undefined ? {} : { resourceVersion: options.resourceVersion })
            }
      const body = {
        apiVersion: "v1",
        kind: "DeleteOptions",
        propagationPolicy: options.propagationPolicy ?? "Background",
        ...(preconditions === undefined ? {} : { preconditions }),
        ...(options.gracePeriodSeconds === undefined
          ? {}
          : { gracePeriodSeconds: options.gracePeriodSeconds }),
        ...(options.dryRun === true ? { dryRun: ["All"] } : {})
      }
      yield* send({ method: "DELETE", path: objectPath(type, name, ns), body: JSON.stringify(body), context })
    })

    const request = Effect.fn("Client.request")(function* (raw: RawRequest) {
      const context = { verb: "request", resource: raw.path, name: "" }
      const body =
        raw.body === undefined
          ? undefined
          : Predicate.isString(raw.body)
            ? raw.body
            : JSON.stringify(raw.body)
      return yield* send({
        method: raw.method,
        path: withQuery(raw.path, raw.query ?? {}),
        body,
        contentType: raw.contentType,
        accept: raw.accept ?? "application/json, */*",
        context
      })
    })

    const service: ClientService = {
      server: server.toString().replace(/\/$/, ""),
      fieldManager,
      get: <T extends KubeObject>(type: ResourceType<T>, name: string, namespace?: string) =>
        get(type, name, namespace) as Effect.Effect<T, Errors.KubeError>,
      listPage: <T extends KubeObject>(type: ResourceType<T>, options?: ListOptions) =>
        listPage(type, options) as Effect.Effect<ListPage<T>, Errors.KubeError>,
      list: <T extends KubeObject>(type: ResourceType<T>, options?: ListOptions) =>
        list(type, options) as Effect.Effect<ListResult<T>, Errors.KubeError>,
      watch: <T extends KubeObject>(type: ResourceType<T>, options?: WatchOptions) =>
        watch(type, options) as Stream.Stream<WatchEvent<T>, Errors.KubeError>,
      create: <T extends KubeObject>(type: ResourceType<T>, object: KubeObject, options?: WriteOptions) =>
        create(type, object, options) as Effect.Effect<T, Errors.KubeError>,
      apply: <T extends KubeObject>(type: ResourceType<T>, object: KubeObject, options?: ApplyOptions) =>
        apply(type, object, options) as Effect.Effect<T, Errors.KubeError>,
      patch: <T extends KubeObject>(
        type: ResourceType<T>,
        name: string,
        body: Patch,
        options?: PatchOptions
      ) => patch(type, name, body, options) as Effect.Effect<T, Errors.KubeError>,
      patchStatus: <T extends KubeObject>(
        type: ResourceType<T>,
        target: Target,
        status: Readonly<Record<string, unknown>>,
        options?: WriteOptions
      ) => patchStatus(type, target, status, options) as Effect.Effect<T, Errors.KubeError>,
      addFinalizer: <T extends KubeObject>(
        type: ResourceType<T>,
        observed: KubeObject,
        finalizer: string,
        options?: WriteOptions
      ) => addFinalizer(type, observed, finalizer, options) as Effect.Effect<T, Errors.KubeError>,
      removeFinalizer: <T extends KubeObject>(
        type: ResourceType<T>,
        observed: KubeObject,
        finalizer: string,
        options?: WriteOptions
      ) => removeFinalizer(type, observed, finalizer, options) as Effect.Effect<T, Errors.KubeError>,
      delete: (type, name, options) => del(type, name, options),
      request
    }
    return service
  })
