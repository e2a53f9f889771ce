/**
 * Where the API server is and how to authenticate to it: a `KubeConfig` service built from a
 * kubeconfig file, from `KUBECONFIG`/`~/.kube/config`, or from the in-cluster service account.
 *
 * It owns the TLS material (read once) and the Authorization header (a service-account token file
 * is re-read every minute and after a 401, as the kubelet rotates it). It must not open
 * connections or make requests: the HTTP agent and every request belong to `Client`.
 * Parsing of kubeconfig YAML and the exotic auth providers (exec, oidc, …) are delegated to
 * `@kubernetes/client-node`'s `KubeConfig`.
 */
import * as fs from "node:fs"
import type * as https from "node:https"
import * as path from "node:path"
import * as ClientNode from "@kubernetes/client-node"
import { Context, Effect, Layer, Predicate, Schema } from "effect"

/** Why a kubeconfig could not be turned into a connection. */
export class KubeConfigError extends Schema.TaggedError<KubeConfigError>()("KubeConfigError", {
  reason: Schema.Literals(["NotFound", "Unreadable", "Invalid", "NotInCluster", "Unsupported"]),
  /** The file, `in-cluster`, or `default`. */
  source: Schema.String,
  message: Schema.String
}) {}

/** TLS options for the HTTPS agent, as node:tls takes them. */
export interface TlsOptions {
  readonly ca?: Buffer | undefined
  readonly cert?: Buffer | undefined
  readonly key?: Buffer | undefined
  readonly rejectUnauthorized: boolean
  readonly servername?: string | undefined
}

/** Everything a client needs to reach one API server as one user. */
export interface Connection {
  /** The server's base URL, e.g. `https://127.0.0.1:6443` (any path prefix kept, no trailing slash). */
  readonly server: URL
  readonly tls: TlsOptions
  /** Authentication (and impersonation) headers for the next request. Cheap: cached between reads. */
  readonly headers: Effect.Effect<Readonly<Record<string, string>>, KubeConfigError>
  /** Forget cached credentials (after a 401) so the next `headers` reads them afresh. */
  readonly refresh: Effect.Effect<void>
  /** The context's namespace (`default` when unset); in-cluster, the pod's namespace. */
  readonly namespace: string
  /** Where this came from, for logs: `file:/path (context x)`, `in-cluster`. */
  readonly source: string
}

/** How often a token file (projected service-account token) is re-read, as client-go does. */
const tokenFileMaxAgeMillis = 60_000
/** How long headers from a delegated auth provider (exec, oidc, …) are reused. */
const delegatedMaxAgeMillis = 10_000

const serviceAccountRoot = "/var/run/secrets/kubernetes.io/serviceaccount"

const fail = (reason: KubeConfigError["reason"], source: string, message: string) =>
  new KubeConfigError({ reason, source, message })

const readBytes = (source: string, file: string): Effect.Effect<Buffer, KubeConfigError> =>
  Effect.try({
    try: () => fs.readFileSync(file),
    catch: (error) =>
      fail(
        Predicate.hasProperty(error, "code") && error.code === "ENOENT" ? "NotFound" : "Unreadable",
        source,
        `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`
      )
  })

/** Bytes from a `*File` path or a base64 `*Data` field of a kubeconfig entry; null/empty means absent. */
const fileOrData = (
  source: string,
  file: string | null | undefined,
  data: string | null | undefined
): Effect.Effect<Buffer | undefined, KubeConfigError> => {
  if (file !== undefined && file !== null && file !== "") return readBytes(source, file)
  if (data !== undefined && data !== null && data !== "") return Effect.succeed(Buffer.from(data, "base64"))
  return Effect.succeed(undefined)
}

const present = (s: string | null | undefined): s is string => s !== undefined && s !== null && s !== ""

/** A token file re-read when older than a minute or after `refresh`. */
const tokenFileHeaders = (source: string, file: string) => {
  let cached: { readonly headers: Readonly<Record<string, string>>; readonly readAt: number } | undefined
  const headers = Effect.suspend(() => {
    const now = Date.now()
    if (cached !== undefined && now - cached.readAt < tokenFileMaxAgeMillis)
      return Effect.succeed(cached.headers)
    return Effect.map(readBytes(source, file), (bytes) => {
      const token = bytes.toString("utf8").trim()
      const result = token === "" ? {} : { Authorization: `Bearer ${token}` }
      cached = { headers: result, readAt: now }
      return result
    })
  })
  const refresh = Effect.sync(() => {
    cached = undefined
  })
  return { headers, refresh }
}

/** Auth providers implemented by client-node (exec, oidc, azure, gcp): ask it, reuse for a few seconds. */
const delegatedHeaders = (source: string, kc: ClientNode.KubeConfig) => {
  let cached: { readonly headers: Readonly<Record<string, string>>; readonly readAt: number } | undefined
  const headers = Effect.suspend(() => {
    const now = Date.now()
    if (cached !== undefined && now - cached.readAt < delegatedMaxAgeMillis)
      return Effect.succeed(cached.headers)
    return Effect.tryPromise({
      try: async () => {
        const options: https.RequestOptions = {}
        await kc.applyToHTTPSOptions(options)
        const result: Record<string, string> = {}
        for (const [name, value] of Object.entries(options.headers ?? {})) {
          if (Predicate.isString(value)) result[name] = value
        }
        cached = { headers: result, readAt: now }
        return result as Readonly<Record<string, string>>
      },
      catch: (error) =>
        fail("Unreadable", source, `credentials: ${error instanceof Error ? error.message : String(error)}`)
    })
  })
  const refresh = Effect.sync(() => {
    cached = undefined
  })
  return { headers, refresh }
}

/**
 * Builds a connection from a loaded client-node `KubeConfig` (its current context). TLS files are
 * read once here; credentials are read per `Connection.headers`.
 */
export const fromClientNode = Effect.fnUntraced(function* (
  kc: ClientNode.KubeConfig,
  source: string
): Effect.fn.Return<Connection, KubeConfigError> {
  const contextName = kc.getCurrentContext()
  const context = present(contextName) ? kc.getContextObject(contextName) : null
  if (context === null) return yield* fail("Invalid", source, "the kubeconfig has no current context")
  const cluster = kc.getCluster(context.cluster)
  if (cluster === null) {
    return yield* fail(
      "Invalid",
      source,
      `context ${context.name} names an unknown cluster ${context.cluster}`
    )
  }
  if (present(cluster.proxyUrl)) {
    return yield* fail("Unsupported", source, `cluster ${cluster.name}: proxy-url is not supported`)
  }
  let server: URL
  try {
    server = new URL(cluster.server)
  } catch {
    return yield* fail("Invalid", source, `cluster ${cluster.name}: server ${cluster.server} is not a URL`)
  }
  if (server.protocol !== "https:" && server.protocol !== "http:") {
    return yield* fail(
      "Invalid",
      source,
      `cluster ${cluster.name}: server must be http(s), got ${cluster.server}`
    )
  }
  server.pathname = server.pathname.replace(/\/+$/, "")
  const user = present(context.user) ? kc.getUser(context.user) : null
  const ca = yield* fileOrData(source, cluster.caFile, cluster.caData)
  const cert = user === null ? undefined : yield* fileOrData(source, user.certFile, user.certData)
  const key = user === null ? undefined : yield* fileOrData(source, user.keyFile, user.keyData)
  const tls: TlsOptions = {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    rejectUnauthorized: cluster.skipTLSVerify !== true,
    ...(present(cluster.tlsServerName) ? { servername: cluster.tlsServerName } : {})
  }

  const tokenFile: unknown = Predicate.hasProperty(user?.authProvider, "config")
    ? Predicate.hasProperty(user.authProvider.config, "tokenFile")
      ? user.authProvider.config.tokenFile
      : undefined
    : undefined
  let auth: { readonly headers: Connection["headers"]; readonly refresh: Effect.Effect<void> }
  if (user === null) {
    auth = { headers: Effect.succeed({}), refresh: Effect.void }
  } else if (Predicate.isString(tokenFile) && tokenFile !== "") {
    auth = tokenFileHeaders(source, tokenFile)
  } else if (
    (user.exec !== undefined && user.exec !== null) ||
    (user.authProvider !== undefined && user.authProvider !== null)
  ) {
    auth = delegatedHeaders(source, kc)
  } else {
    const headers: Record<string, string> = {}
    if (present(user.token)) headers.Authorization = `Bearer ${user.token.trim()}`
    else if (present(user.username)) {
      headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`
    }
    if (present(user.impersonateUser)) headers["Impersonate-User"] = user.impersonateUser
    auth = { headers: Effect.succeed(headers), refresh: Effect.void }
  }
  return {
    server,
    tls,
    headers: auth.headers,
    refresh: auth.refresh,
    namespace: present(context.namespace) ? context.namespace.trim() : "default",
    source
  }
})

const loadFile = (file: string, contextName: string | undefined) =>
  Effect.gen(function* () {
    const source = `file:${file}`
    const absolute = path.resolve(file)
    if (!fs.existsSync(absolute)) return yield* fail("NotFound", source, `no kubeconfig at ${absolute}`)
    const kc = new ClientNode.KubeConfig()
    yield* Effect.try({
      try: () => kc.loadFromFile(absolute),
      catch: (error) => fail("Invalid", source, error instanceof Error ? error.message : String(error))
    })
    if (contextName !== undefined) {
      if (kc.getContextObject(contextName) === null) {
        return yield* fail("Invalid", source, `no context ${contextName}`)
      }
      kc.setCurrentContext(contextName)
    }
    return yield* fromClientNode(kc, `${source} (context ${kc.getCurrentContext()})`)
  })

/** Options for the in-cluster connection; the defaults are what a pod sees. */
export interface InClusterOptions {
  /** Prefix for the service-account directory (tests point it at a temporary directory). */
  readonly root?: string | undefined
  /** Defaults to `KUBERNETES_SERVICE_HOST`. */
  readonly host?: string | undefined
  /** Defaults to `KUBERNETES_SERVICE_PORT`. */
  readonly port?: string | undefined
}

const loadInCluster = (options: InClusterOptions = {}) =>
  Effect.gen(function* () {
    const source = "in-cluster"
    const host = options.host ?? process.env.KUBERNETES_SERVICE_HOST
    const port = options.port ?? process.env.KUBERNETES_SERVICE_PORT
    if (!present(host) || !present(port)) {
      return yield* fail(
        "NotInCluster",
        source,
        "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set"
      )
    }
    const root = options.root ?? ""
    const tokenPath = `${root}${serviceAccountRoot}/token`
    if (!fs.existsSync(tokenPath)) {
      return yield* fail("NotInCluster", source, `no service account token at ${tokenPath}`)
    }
    const caPath = `${root}${serviceAccountRoot}/ca.crt`
    if (!fs.existsSync(caPath))
      return yield* fail("NotInCluster", source, `no service account CA at ${caPath}`)
    const namespacePath = `${root}${serviceAccountRoot}/namespace`
    const namespace = fs.existsSync(namespacePath) ? fs.readFileSync(namespacePath, "utf8").trim() : undefined
    const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`
    const kc = new ClientNode.KubeConfig()
    kc.loadFromOptions({
      clusters: [{ name: "in-cluster", server, caFile: caPath, skipTLSVerify: false }],
      users: [{ name: "in-cluster", authProvider: { name: "tokenFile", config: { tokenFile: tokenPath } } }],
      contexts: [
        { name: "in-cluster", cluster: "in-cluster", user: "in-cluster", ...(namespace ? { namespace } : {}) }
      ],
      currentContext: "in-cluster"
    })
    return yield* fromClientNode(kc, source)
  })

const homeKubeconfig = (): string | undefined => {
  const home = process.env.HOME ?? process.env.USERPROFILE
  if (home === undefined) return undefined
  const file = path.join(home, ".kube", "config")
  return fs.existsSync(file) ? file : undefined
}

const loadDefault = (contextName: string | undefined) =>
  Effect.gen(function* () {
    const env = process.env.KUBECONFIG
    if (present(env)) {
      const files = env.split(path.delimiter).filter((f) => f !== "")
      if (files.length === 1 && files[0] !== undefined) return yield* loadFile(files[0], contextName)
      const source = `KUBECONFIG=${env}`
      const kc = new ClientNode.KubeConfig()
      yield* Effect.try({
        try: () => kc.loadFromDefault(),
        catch: (error) => fail("Invalid", source, error instanceof Error ? error.message : String(error))
      })
      if (contextName !== undefined) kc.setCurrentContext(contextName)
      return yield* fromClientNode(kc, source)
    }
    const home = homeKubeconfig()
    if (home !== undefined) return yield* loadFile(home, contextName)
    return yield* loadInCluster().pipe(
      Effect.mapError((error) =>
        error.reason === "NotInCluster"
          ? fail(
              "NotFound",
              "default",
              `no KUBECONFIG, no ~/.kube/config, and not in a cluster (${error.message})`
            )
          : error
      )
    )
  })

export class KubeConfig extends Context.Service<KubeConfig, Connection>()("@kleff/k8s/KubeConfig") {
  /** From one kubeconfig file (its current context, or `context`). */
  static readonly layerFromFile = (file: string, options?: { readonly context?: string | undefined }) =>
    Layer.effect(KubeConfig, loadFile(file, options?.context))

  /** `KUBECONFIG` (merged like kubectl), else `~/.kube/config`, else the in-cluster service account. */
  static readonly layerFromDefault = (options?: { readonly context?: string | undefined }) =>
    Layer.effect(KubeConfig, loadDefault(options?.context))

  /** The pod's service account: `KUBERNETES_SERVICE_HOST/PORT`, its CA, and its (rotating) token. */
  static readonly layerInCluster = (options?: InClusterOptions) =>
    Layer.effect(KubeConfig, loadInCluster(options))

  /** A connection built elsewhere (e.g. a test cluster helper). */
  static readonly layerFromConnection = (connection: Connection) => Layer.succeed(KubeConfig, connection)
}
