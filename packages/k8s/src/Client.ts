/**
 * The Kubernetes REST client: generic over core's `ResourceType`, one HTTP exchange per call,
 * typed errors, and the `rest_client_requests_total` metric. This module is the service (its
 * interface, its layers and `make`); what each verb sends is in `internal/requests.ts`, the REST
 * paths in `internal/paths.ts`, the HTTP exchange (Effect's `HttpClient` on node:https agents,
 * credentials, deadlines, metrics, error classification) in `internal/transport.ts`, and watch
 * bodies in `internal/watchDecoding.ts`.
 *
 * We deliberately do not use `@kubernetes/client-node`'s typed APIs or informer: a generic
 * GVK-based path builder is all a controller needs, watch bodies are decoded as a stream, and each
 * call costs one `JSON.parse` and nothing more.
 *
 * It must not retry on its own beyond two transport-level cases (a keep-alive socket the server had
 * already closed, and one refresh of credentials after a 401), cache anything, or decide policy:
 * backoff belongs to the watcher and the work queue.
 */
import type { KubeObject, ResourceType } from "@kleff/core"
import { Context, type Duration, Effect, Layer, type Scope, type Stream } from "effect"
import type * as Errors from "./Errors.ts"
import * as Requests from "./internal/requests.ts"
import * as Transport from "./internal/transport.ts"
import * as WatchDecoding from "./internal/watchDecoding.ts"
import { type Connection, KubeConfig } from "./KubeConfig.ts"

export { collectionPath, objectPath, resourceName } from "./internal/paths.ts"
/**
 * What `apply` and `patch` send and the finalizer patch `addFinalizer` composes, built without
 * sending anything: for a tool that must send the very requests this client would, through another
 * client (the operator benchmark's write floor in client-go).
 */
export {
  addFinalizerPatch,
  apply as applyRequest,
  patch as patchRequest
} from "./internal/requests.ts"
export { ClientMetrics, type Exchange, type RawResponse } from "./internal/transport.ts"
export type { WatchEvent } from "./internal/watchDecoding.ts"

type WatchEvent<T extends KubeObject = KubeObject> = WatchDecoding.WatchEvent<T>
type RawResponse = Transport.RawResponse

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
  /**
   * Deletes (propagation `Background` by default). `NotFound` when already gone: callers decide if
   * that is fine. Succeeds with the object the API server answered with: as it stands, when it is
   * still there while its finalizers or grace period run (`metadata.deletionTimestamp` set), or as
   * it was removed; `undefined` when the server answered with a `Status` (removed).
   */
  delete(
    type: ResourceType,
    name: string,
    options?: DeleteOptions
  ): Effect.Effect<KubeObject | undefined, Errors.KubeError>
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

/** Builds a client over one connection. Its connections live as long as the enclosing scope. */
export const make = (
  connection: Connection,
  options: ClientOptions = {}
): Effect.Effect<ClientService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const fieldManager = options.fieldManager ?? "kleff"
    const transport = yield* Transport.make(connection, {
      requestTimeout: options.requestTimeout ?? "30 seconds",
      maxSockets: options.maxSockets ?? 64,
      userAgent: options.userAgent ?? "kleff-operator"
    })

    const get = Effect.fn("Client.get")(function* (type: ResourceType, name: string, namespace?: string) {
      return yield* transport.json<KubeObject>(yield* Requests.get(type, name, namespace))
    })

    const listPage = Effect.fn("Client.listPage")(function* (type: ResourceType, options: ListOptions = {}) {
      return Requests.pageOf(type, yield* transport.json<Requests.ListBody>(Requests.listPage(type, options)))
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
      const exchange = Requests.watch(type, options)
      // No byte for this long means the connection is dead (the server sends bookmarks about every
      // minute and ends the watch at timeoutSeconds).
      const idle = `${(options.timeoutSeconds ?? 300) + 60} seconds` as const
      return transport.stream(exchange, idle).pipe(WatchDecoding.events(exchange.context))
    }

    const create = Effect.fn("Client.create")(function* (
      type: ResourceType,
      object: KubeObject,
      options: WriteOptions = {}
    ) {
      return yield* transport.json<KubeObject>(yield* Requests.create(type, object, fieldManager, options))
    })

    const apply = Effect.fn("Client.apply")(function* (
      type: ResourceType,
      object: KubeObject,
      options: ApplyOptions = {}
    ) {
      return yield* transport.json<KubeObject>(yield* Requests.apply(type, object, fieldManager, options))
    })

    const patchWith = (verb: string, type: ResourceType, name: string, patch: Patch, options: PatchOptions) =>
      Effect.flatMap(
        Requests.patch(verb, type, name, patch, fieldManager, options),
        transport.json<KubeObject>
      )

    const patch = Effect.fn("Client.patch")(function* (
      type: ResourceType,
      name: string,
      body: Patch,
      options: PatchOptions = {}
    ) {
      return yield* patchWith("patch", type, name, body, options)
    })

    /** A finalizer patch on `observed`; no request when there is nothing to change. */
    const finalizerPatch = (
      verb: string,
      makePatch: (observed: KubeObject, finalizer: string) => Patch | undefined
    ) =>
      Effect.fn(`Client.${verb}`)(function* (
        type: ResourceType,
        observed: KubeObject,
        finalizer: string,
        options: WriteOptions = {}
      ) {
        const body = makePatch(observed, finalizer)
        if (body === undefined) return observed
        const { name, namespace } = observed.metadata
        return yield* patchWith(verb, type, name, body, { ...options, namespace })
      })
    const addFinalizer = finalizerPatch("addFinalizer", Requests.addFinalizerPatch)
    const removeFinalizer = finalizerPatch("removeFinalizer", Requests.removeFinalizerPatch)

    const del = Effect.fn("Client.delete")(function* (
      type: ResourceType,
      name: string,
      options: DeleteOptions = {}
    ) {
      const answer = yield* transport.json<KubeObject>(yield* Requests.del(type, name, options))
      return answer.kind === "Status" ? undefined : answer
    })

    const request = Effect.fn("Client.request")(function* (raw: RawRequest) {
      return yield* transport.send(Requests.raw(raw))
    })

    const service: ClientService = {
      server: transport.server,
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
