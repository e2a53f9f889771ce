/**
 * client-go credential plugins (`users[].user.exec`): run the configured command with
 * `KUBERNETES_EXEC_INFO` in its environment, read the `ExecCredential` it prints, and use its token
 * until `expirationTimestamp` (or until a 401 asks for a fresh one), as kubectl does.
 *
 * The process runs through effect's `ChildProcess` (node's spawner), so an interrupted request
 * kills the plugin instead of leaving it behind; one run at a time, however many requests wait.
 * Only bearer tokens are supported: a plugin that answers with a client certificate fails
 * (`Unsupported`), since the connection's TLS material is fixed when its agents are made. A
 * plugin that must talk to the user (`interactiveMode: Always`) fails too: an operator has no
 * terminal.
 *
 * It must not cache anything but the one credential, nor read files beyond running the command.
 */
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Data, Effect, Layer, Predicate, Result, Schema, Semaphore, Stream } from "effect"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import type { Cluster, Exec } from "./kubeconfigFile.ts"

export class ExecCredentialError extends Data.TaggedError("ExecCredentialError")<{
  readonly reason: "Failed" | "Unsupported"
  readonly message: string
}> {}

export interface ExecCredentials {
  /** `Authorization` for the next request, running the plugin when there is no valid token. */
  readonly headers: Effect.Effect<Readonly<Record<string, string>>, ExecCredentialError>
  /** Forget the token (after a 401): the next `headers` runs the plugin again. */
  readonly refresh: Effect.Effect<void>
}

/** A token this close to its expiry is renewed before use. */
const expirySkewMillis = 10_000

const Credential = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.Literal("ExecCredential"),
  status: Schema.Struct({
    token: Schema.optional(Schema.NullOr(Schema.String)),
    expirationTimestamp: Schema.optional(Schema.NullOr(Schema.String)),
    clientCertificateData: Schema.optional(Schema.NullOr(Schema.String)),
    clientKeyData: Schema.optional(Schema.NullOr(Schema.String))
  })
})
const decodeCredential = Schema.decodeUnknownResult(Schema.fromJsonString(Credential))

const spawnerLayer = NodeChildProcessSpawner.layer.pipe(
  Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
)

const failed = (message: string) => new ExecCredentialError({ reason: "Failed", message })

/** What the plugin is told (`KUBERNETES_EXEC_INFO`): not interactive, and the cluster when asked for. */
const execInfo = (exec: Exec, cluster: Cluster): string =>
  JSON.stringify({
    apiVersion: exec.apiVersion,
    kind: "ExecCredential",
    spec: {
      interactive: false,
      ...(exec.provideClusterInfo
        ? {
            cluster: {
              server: cluster.server,
              ...(cluster.caData === undefined ? {} : { "certificate-authority-data": cluster.caData }),
              "insecure-skip-tls-verify": cluster.insecureSkipTlsVerify,
              ...(cluster.tlsServerName === undefined ? {} : { "tls-server-name": cluster.tlsServerName })
            }
          }
        : {})
    }
  })

const collect = <E>(bytes: Stream.Stream<Uint8Array, E>) => Stream.mkString(Stream.decodeText(bytes))

/** Runs the plugin once; its token and when it expires (undefined: until a 401). */
const run = (exec: Exec, cluster: Cluster) =>
  Effect.scoped(
    Effect.gen(function* () {
      const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
      const env: Record<string, string> = { KUBERNETES_EXEC_INFO: execInfo(exec, cluster) }
      for (const { name, value } of exec.env) env[name] = value
      const handle = yield* spawner.spawn(
        ChildProcess.make(exec.command, exec.args, { env, extendEnv: true, stdin: "ignore" })
      )
      const [stdout, stderr, exitCode] = yield* Effect.all(
        [collect(handle.stdout), collect(handle.stderr), handle.exitCode],
        { concurrency: "unbounded" }
      )
      return { stdout, stderr, exitCode }
    })
  ).pipe(
    Effect.provide(spawnerLayer),
    Effect.mapError((error) =>
      failed(
        `${exec.command}: ${error.message}${exec.installHint === undefined ? "" : ` (${exec.installHint})`}`
      )
    ),
    Effect.flatMap(({ stdout, stderr, exitCode }) => {
      if (exitCode !== 0)
        return Effect.fail(failed(`${exec.command} exited with ${exitCode}: ${stderr.trim()}`))
      const decoded = decodeCredential(stdout)
      if (Result.isFailure(decoded)) {
        return Effect.fail(failed(`${exec.command} printed no ExecCredential: ${decoded.failure.message}`))
      }
      const { apiVersion, status } = decoded.success
      if (apiVersion !== exec.apiVersion) {
        return Effect.fail(
          failed(`${exec.command} answered ${apiVersion}, the kubeconfig asks for ${exec.apiVersion}`)
        )
      }
      const token = status.token ?? ""
      if (token === "") {
        const certificate = Predicate.isString(status.clientCertificateData)
        return Effect.fail(
          certificate
            ? new ExecCredentialError({
                reason: "Unsupported",
                message: `${exec.command} answered with a client certificate; only tokens are supported`
              })
            : failed(`${exec.command} answered without a token`)
        )
      }
      const expires = Predicate.isString(status.expirationTimestamp)
        ? Date.parse(status.expirationTimestamp)
        : Number.NaN
      return Effect.succeed({ token, expiresAt: Number.isFinite(expires) ? expires : undefined })
    })
  )

/** Credentials from `exec` for `cluster`; the plugin first runs on the first request. */
export const make = (exec: Exec, cluster: Cluster): ExecCredentials => {
  let cached:
    | { readonly headers: Readonly<Record<string, string>>; readonly expiresAt: number | undefined }
    | undefined
  const fresh = () =>
    cached !== undefined &&
    (cached.expiresAt === undefined || cached.expiresAt - expirySkewMillis > Date.now())
  const lock = Semaphore.makeUnsafe(1)
  const headers = Effect.suspend(() => {
    const known = cached
    if (known !== undefined && fresh()) return Effect.succeed(known.headers)
    return lock.withPermit(
      Effect.suspend(() => {
        // Another request may have run the plugin while this one waited.
        if (cached !== undefined && fresh()) return Effect.succeed(cached.headers)
        if (exec.interactiveMode === "Always") {
          return Effect.fail(
            new ExecCredentialError({
              reason: "Unsupported",
              message: `${exec.command} needs a terminal (interactiveMode: Always)`
            })
          )
        }
        return Effect.map(run(exec, cluster), ({ token, expiresAt }) => {
          cached = { headers: { Authorization: `Bearer ${token}` }, expiresAt }
          return cached.headers
        })
      })
    )
  })
  const refresh = Effect.sync(() => {
    cached = undefined
  })
  return { headers, refresh }
}
