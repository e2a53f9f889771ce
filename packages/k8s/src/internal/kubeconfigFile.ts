/**
 * Kubeconfig files as kubectl reads them: YAML (the `yaml` package) decoded by a Schema into
 * clusters, users and contexts by name; relative file paths (CA, client certificate and key, token
 * file, an exec command with a path separator) resolved against the directory of the file that
 * names them; several files (`KUBECONFIG=a:b`) merged so that the first file to define a name, or
 * the current context, wins.
 *
 * Hand-written rather than `@kubernetes/client-node`'s `KubeConfig`: importing that package costs
 * about 90 MiB of resident memory for what is a YAML document of three lists, and its merge rejects
 * duplicate names (kubectl keeps the first).
 *
 * Pure: it parses text it is given. It must not read files, build connections or run credential
 * plugins (`KubeConfig` does).
 */
import * as path from "node:path"
import { Result, Schema } from "effect"
import * as YAML from "yaml"

export interface Cluster {
  readonly server: string
  readonly caFile?: string | undefined
  /** Base64, as in the file. */
  readonly caData?: string | undefined
  readonly insecureSkipTlsVerify: boolean
  readonly tlsServerName?: string | undefined
  readonly proxyUrl?: string | undefined
}

/** A client-go credential plugin (`users[].user.exec`). */
export interface Exec {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: ReadonlyArray<{ readonly name: string; readonly value: string }>
  /** `client.authentication.k8s.io/v1` or `…/v1beta1`: the ExecCredential version it speaks. */
  readonly apiVersion: string
  readonly provideClusterInfo: boolean
  /** `Never`, `IfAvailable` or `Always`. */
  readonly interactiveMode?: string | undefined
  readonly installHint?: string | undefined
}

export interface User {
  readonly token?: string | undefined
  readonly tokenFile?: string | undefined
  readonly certFile?: string | undefined
  /** Base64, as in the file. */
  readonly certData?: string | undefined
  readonly keyFile?: string | undefined
  /** Base64, as in the file. */
  readonly keyData?: string | undefined
  readonly username?: string | undefined
  readonly password?: string | undefined
  /** `as`: the user to impersonate. */
  readonly impersonate?: string | undefined
  readonly exec?: Exec | undefined
  readonly authProvider?:
    | { readonly name: string; readonly config: Readonly<Record<string, string>> }
    | undefined
}

export interface Context {
  readonly cluster: string
  readonly user?: string | undefined
  readonly namespace?: string | undefined
}

export interface Kubeconfig {
  readonly clusters: ReadonlyMap<string, Cluster>
  readonly users: ReadonlyMap<string, User>
  readonly contexts: ReadonlyMap<string, Context>
  readonly currentContext: string | undefined
}

export const empty: Kubeconfig = {
  clusters: new Map(),
  users: new Map(),
  contexts: new Map(),
  currentContext: undefined
}

// ---------------------------------------------------------------------------------------------
// The file's shape (kubectl's field names; YAML nulls count as absent)

const OptionalString = Schema.optional(Schema.NullOr(Schema.String))
const OptionalBoolean = Schema.optional(Schema.NullOr(Schema.Boolean))
const OptionalList = <S extends Schema.Constraint>(item: S) =>
  Schema.optional(Schema.NullOr(Schema.Array(item)))

const ClusterFields = Schema.Struct({
  server: Schema.String,
  "certificate-authority": OptionalString,
  "certificate-authority-data": OptionalString,
  "insecure-skip-tls-verify": OptionalBoolean,
  "tls-server-name": OptionalString,
  "proxy-url": OptionalString
})

const ExecFields = Schema.Struct({
  command: Schema.String,
  args: OptionalList(Schema.String),
  env: OptionalList(Schema.Struct({ name: Schema.String, value: Schema.String })),
  apiVersion: Schema.String,
  provideClusterInfo: OptionalBoolean,
  interactiveMode: OptionalString,
  installHint: OptionalString
})

const UserFields = Schema.Struct({
  token: OptionalString,
  tokenFile: OptionalString,
  "client-certificate": OptionalString,
  "client-certificate-data": OptionalString,
  "client-key": OptionalString,
  "client-key-data": OptionalString,
  username: OptionalString,
  password: OptionalString,
  as: OptionalString,
  exec: Schema.optional(Schema.NullOr(ExecFields)),
  "auth-provider": Schema.optional(
    Schema.NullOr(
      Schema.Struct({
        name: Schema.String,
        config: Schema.optional(Schema.NullOr(Schema.Record(Schema.String, Schema.String)))
      })
    )
  )
})

const Document = Schema.Struct({
  clusters: OptionalList(Schema.Struct({ name: Schema.String, cluster: ClusterFields })),
  users: OptionalList(
    Schema.Struct({ name: Schema.String, user: Schema.optional(Schema.NullOr(UserFields)) })
  ),
  contexts: OptionalList(
    Schema.Struct({
      name: Schema.String,
      context: Schema.Struct({ cluster: Schema.String, user: OptionalString, namespace: OptionalString })
    })
  ),
  "current-context": OptionalString
})

const decodeDocument = Schema.decodeUnknownResult(Document)

/** `undefined` for absent, null and empty values, as kubectl treats them. */
const present = (value: string | null | undefined): string | undefined =>
  value === undefined || value === null || value === "" ? undefined : value

/** Keeps the first entry of each name (kubectl: the first definition wins, later ones are ignored). */
const byName = <A, B>(
  entries: ReadonlyArray<A> | null | undefined,
  name: (a: A) => string,
  to: (a: A) => B
) => {
  const map = new Map<string, B>()
  for (const entry of entries ?? []) if (!map.has(name(entry))) map.set(name(entry), to(entry))
  return map
}

/**
 * Parses one kubeconfig file's text. `file` (its absolute path) anchors relative paths. Fails with
 * a message on YAML that does not parse or a document that is not a kubeconfig.
 */
export const parse = (text: string, file: string): Result.Result<Kubeconfig, string> => {
  let parsed: unknown
  try {
    parsed = YAML.parse(text)
  } catch (error) {
    return Result.fail(`not YAML: ${error instanceof Error ? error.message : String(error)}`)
  }
  // An empty file is an empty kubeconfig (kubectl agrees).
  if (parsed === null || parsed === undefined) return Result.succeed(empty)
  const decoded = decodeDocument(parsed, { errors: "all" })
  if (Result.isFailure(decoded)) return Result.fail(`not a kubeconfig: ${decoded.failure.message}`)
  const document = decoded.success
  const dir = path.dirname(file)
  const resolve = (p: string | null | undefined) => {
    const value = present(p)
    return value === undefined ? undefined : path.resolve(dir, value)
  }
  return Result.succeed({
    clusters: byName(
      document.clusters,
      (c) => c.name,
      ({ cluster }): Cluster => ({
        server: cluster.server,
        caFile: resolve(cluster["certificate-authority"]),
        caData: present(cluster["certificate-authority-data"]),
        insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
        tlsServerName: present(cluster["tls-server-name"]),
        proxyUrl: present(cluster["proxy-url"])
      })
    ),
    users: byName(
      document.users,
      (u) => u.name,
      ({ user }): User => ({
        token: present(user?.token),
        tokenFile: resolve(user?.tokenFile),
        certFile: resolve(user?.["client-certificate"]),
        certData: present(user?.["client-certificate-data"]),
        keyFile: resolve(user?.["client-key"]),
        keyData: present(user?.["client-key-data"]),
        username: present(user?.username),
        password: present(user?.password),
        impersonate: present(user?.as),
        exec:
          user?.exec === undefined || user.exec === null
            ? undefined
            : {
                // Only a command with a path separator is a path; a bare name is looked up in PATH.
                command: user.exec.command.includes("/")
                  ? path.resolve(dir, user.exec.command)
                  : user.exec.command,
                args: user.exec.args ?? [],
                env: user.exec.env ?? [],
                apiVersion: user.exec.apiVersion,
                provideClusterInfo: user.exec.provideClusterInfo === true,
                interactiveMode: present(user.exec.interactiveMode),
                installHint: present(user.exec.installHint)
              },
        authProvider:
          user?.["auth-provider"] === undefined || user["auth-provider"] === null
            ? undefined
            : { name: user["auth-provider"].name, config: user["auth-provider"].config ?? {} }
      })
    ),
    contexts: byName(
      document.contexts,
      (c) => c.name,
      ({ context }): Context => ({
        cluster: context.cluster,
        user: present(context.user),
        namespace: present(context.namespace)
      })
    ),
    currentContext: present(document["current-context"])
  })
}

/** kubectl's merge of `KUBECONFIG` files: the first file to define a name or the current context wins. */
export const merge = (configs: ReadonlyArray<Kubeconfig>): Kubeconfig => {
  const clusters = new Map<string, Cluster>()
  const users = new Map<string, User>()
  const contexts = new Map<string, Context>()
  let currentContext: string | undefined
  for (const config of configs) {
    for (const [name, cluster] of config.clusters) if (!clusters.has(name)) clusters.set(name, cluster)
    for (const [name, user] of config.users) if (!users.has(name)) users.set(name, user)
    for (const [name, context] of config.contexts) if (!contexts.has(name)) contexts.set(name, context)
    currentContext ??= config.currentContext
  }
  return { clusters, users, contexts, currentContext }
}
