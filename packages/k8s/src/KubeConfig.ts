/**
 * Where the API server is and how to authenticate to it: a `KubeConfig` service built from a
 * kubeconfig file, from `KUBECONFIG` (several files merged like kubectl) / `~/.kube/config`, or
 * from the in-cluster service account.
 *
 * It owns the TLS material (read once) and the Authorization header: a static token or basic
 * auth, a token file (a projected service-account token, re-read every minute and after a 401, as
 * the kubelet rotates it), or a client-go exec credential plugin (`internal/execCredential.ts`).
 * Files are parsed by `internal/kubeconfigFile.ts`. It must not open connections or make requests:
 * the HTTP agents and every request belong to `Client`.
 *
 * No `@kubernetes/client-node` at run time. Resident memory after importing, node 24.21, from a
 * bare node's 41 MiB: `@kubernetes/client-node` alone 127–130 MiB (+86–88); this module on it, as
 * it was, 162–176 MiB; this module now 114–116 MiB (+73–75, of which effect's own import is ~56).
 * Dropped with it: `auth-provider` plugins other than a plain oidc `id-token` (gcp and azure are
 * gone from kubectl too; an exec plugin replaces them).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Context, Effect, Layer, Predicate, Result, Schema } from "effect"
import * as ExecCredential from "./internal/execCredential.ts"
import * as KubeconfigFile from "./internal/kubeconfigFile.ts"

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

/** Bytes from a `*File` path or a base64 `*Data` field of a kubeconfig entry (the file wins, as in kubectl). */
const fileOrData = (
  source: string,
  file: string | undefined,
  data: string | undefined
): Effect.Effect<Buffer | undefined, KubeConfigError> => {
  if (file !== undefined) return readBytes(source, file)
  if (data !== undefined) return Effect.succeed(Buffer.from(data, "base64"))
  return Effect.succeed(undefined)
}

interface Credentials {
  readonly headers: Connection["headers"]
  readonly refresh: Effect.Effect<void>
}

const fixed = (headers: Readonly<Record<string, string>>): Credentials => ({
  headers: Effect.succeed(headers),
  refresh: Effect.void
})

/** A token file re-read when older than a minute or after `refresh`. */
const tokenFileHeaders = (source: string, file: string): Credentials => {
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

/** The user's credentials, in kubectl's order of precedence: token, token file, exec plugin, oidc, basic. */
const credentialsOf = (
  source: string,
  user: KubeconfigFile.User,
  cluster: KubeconfigFile.Cluster
): Effect.Effect<Credentials, KubeConfigError> => {
  if (user.token !== undefined) return Effect.succeed(fixed({ Authorization: `Bearer ${user.token.trim()}` }))
  if (user.tokenFile !== undefined) return Effect.succeed(tokenFileHeaders(source, user.tokenFile))
  if (user.exec !== undefined) {
    const exec = ExecCredential.make(user.exec, cluster)
    return Effect.succeed({
      headers: Effect.mapError(exec.headers, (error) =>
        fail(
          error.reason === "Unsupported" ? "Unsupported" : "Unreadable",
          source,
          `credentials: ${error.message}`
        )
      ),
      refresh: exec.refresh
    })
  }
  if (user.authProvider !== undefined) {
    const idToken = user.authProvider.config["id-token"]
    if (user.authProvider.name === "oidc" && idToken !== undefined && idToken !== "") {
      return Effect.succeed(fixed({ Authorization: `Bearer ${idToken}` }))
    }
    return Effect.fail(
      fail(
        "Unsupported",
        source,
        `auth-provider ${user.authProvider.name} is not supported; use an exec credential plugin`
      )
    )
  }
  if (user.username !== undefined) {
    const basic = Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")
    return Effect.succeed(fixed({ Authorization: `Basic ${basic}` }))
  }
  return Effect.succeed(fixed({}))
}

/**
 * Builds a connection for a context of a parsed kubeconfig (its current context unless named).
 * TLS files are read once here; credentials are read per `Connection.headers`.
 */
const fromKubeconfig = Effect.fnUntraced(function* (
  config: KubeconfigFile.Kubeconfig,
  origin: string,
  contextName: string | undefined
): Effect.fn.Return<Connection, KubeConfigError> {
  const name = contextName ?? config.currentContext
  if (name === undefined) return yield* fail("Invalid", origin, "the kubeconfig has no current context")
  const context = config.contexts.get(name)
  if (context === undefined) return yield* fail("Invalid", origin, `no context ${name}`)
  const source = `${origin} (context ${name})`
  const cluster = config.clusters.get(context.cluster)
  if (cluster === undefined) {
    return yield* fail("Invalid", source, `context ${name} names an unknown cluster ${context.cluster}`)
  }
  if (cluster.proxyUrl !== undefined) {
    return yield* fail("Unsupported", source, `cluster ${context.cluster}: proxy-url is not supported`)
  }
  let server: URL
  try {
    server = new URL(cluster.server)
  } catch {
    return yield* fail("Invalid", source, `cluster ${context.cluster}: server ${cluster.server} is not a URL`)
  }
  if (server.protocol !== "https:" && server.protocol !== "http:") {
    return yield* fail(
      "Invalid",
      source,
      `cluster ${context.cluster}: server must be http(s), got ${cluster.server}`
    )
  }
  server.pathname = server.pathname.replace(/\/+$/, "")
  const user = context.user === undefined ? undefined : config.users.get(context.user)
  if (context.user !== undefined && user === undefined) {
    return yield* fail("Invalid", source, `context ${name} names an unknown user ${context.user}`)
  }
  const ca = yield* fileOrData(source, cluster.caFile, cluster.caData)
  const cert = user === undefined ? undefined : yield* fileOrData(source, user.certFile, user.certData)
  const key = user === undefined ? undefined : yield* fileOrData(source, user.keyFile, user.keyData)
  const tls: TlsOptions = {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    rejectUnauthorized: !cluster.insecureSkipTlsVerify,
    ...(cluster.tlsServerName === undefined ? {} : { servername: cluster.tlsServerName })
  }
  const credentials = user === undefined ? fixed({}) : yield* credentialsOf(source, user, cluster)
  const impersonate = user?.impersonate
  return {
    server,
    tls,
    headers:
      impersonate === undefined
        ? credentials.headers
        : Effect.map(credentials.headers, (headers) => ({ ...headers, "Impersonate-User": impersonate })),
    refresh: credentials.refresh,
    namespace: context.namespace?.trim() ?? "default",
    source: origin === "in-cluster" ? origin : source
  }
})

/** Reads and parses one file (`NotFound` when it does not exist). */
const readKubeconfig = (file: string) =>
  Effect.gen(function* () {
    const absolute = path.resolve(file)
    const source = `file:${file}`
    const text = yield* readBytes(source, absolute).pipe(
      Effect.mapError((error) =>
        error.reason === "NotFound" ? fail("NotFound", source, `no kubeconfig at ${absolute}`) : error
      )
    )
    const parsed = KubeconfigFile.parse(text.toString("utf8"), absolute)
    if (Result.isFailure(parsed)) return yield* fail("Invalid", source, parsed.failure)
    return parsed.success
  })

const loadFile = (file: string, contextName: string | undefined) =>
  Effect.flatMap(readKubeconfig(file), (config) => fromKubeconfig(config, `file:${file}`, contextName))

/** Options for the in-cluster connection; the defaults are what a pod sees. */
export interface InClusterOptions {
  /** Prefix for the service-account directory (tests point it at a temporary directory). */
  readonly root?: string | undefined
  /** Defaults to `KUBERNETES_SERVICE_HOST`. */
  readonly host?: string | undefined
  /** Defaults to `KUBERNETES_SERVICE_PORT`. */
  readonly port?: string | undefined
}

const present = (s: string | undefined): s is string => s !== undefined && s !== ""

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
    const tokenFile = `${root}${serviceAccountRoot}/token`
    if (!fs.existsSync(tokenFile))
      return yield* fail("NotInCluster", source, `no service account token at ${tokenFile}`)
    const caFile = `${root}${serviceAccountRoot}/ca.crt`
    if (!fs.existsSync(caFile))
      return yield* fail("NotInCluster", source, `no service account CA at ${caFile}`)
    const namespacePath = `${root}${serviceAccountRoot}/namespace`
    const namespace = fs.existsSync(namespacePath) ? fs.readFileSync(namespacePath, "utf8").trim() : undefined
    const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`
    const config: KubeconfigFile.Kubeconfig = {
      clusters: new Map([[source, { server, caFile, insecureSkipTlsVerify: false }]]),
      users: new Map([[source, { tokenFile }]]),
      contexts: new Map([[source, { cluster: source, user: source, namespace }]]),
      currentContext: source
    }
    return yield* fromKubeconfig(config, source, undefined)
  })

const homeKubeconfig = (): string | undefined => {
  const home = process.env.HOME ?? process.env.USERPROFILE
  if (home === undefined) return undefined
  const file = path.join(home, ".kube", "config")
  return fs.existsSync(file) ? file : undefined
}

/** `KUBECONFIG`'s files merged as kubectl merges them; missing files are skipped, as kubectl does. */
const loadMerged = (env: string, files: ReadonlyArray<string>, contextName: string | undefined) =>
  Effect.gen(function* () {
    const configs: Array<KubeconfigFile.Kubeconfig> = []
    for (const file of files) {
      const config = yield* readKubeconfig(file).pipe(
        Effect.map((config) => config as KubeconfigFile.Kubeconfig | undefined),
        Effect.catchIf(
          (error) => error.reason === "NotFound",
          () => Effect.succeed(undefined)
        )
      )
      if (config !== undefined) configs.push(config)
    }
    const source = `KUBECONFIG=${env}`
    if (configs.length === 0) return yield* fail("NotFound", source, "none of the KUBECONFIG files exists")
    return yield* fromKubeconfig(KubeconfigFile.merge(configs), source, contextName)
  })

const loadDefault = (contextName: string | undefined) =>
  Effect.gen(function* () {
    const env = process.env.KUBECONFIG
    if (present(env)) {
      const files = env.split(path.delimiter).filter((f) => f !== "")
      if (files.length === 1 && files[0] !== undefined) return yield* loadFile(files[0], contextName)
      return yield* loadMerged(env, files, contextName)
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
