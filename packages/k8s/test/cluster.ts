// Shared helpers for tests against the real local API server (started by the workspace's vitest
// global setup, which sets KLEFF_TEST_KUBECONFIG; or by hand: `node tools/cluster/cluster.ts up`).
// Nothing here imitates the API: these are ways to reach it, name things uniquely, and break the
// network between the client and the server on purpose.
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as net from "node:net"
import { Transform } from "node:stream"
import { fileURLToPath } from "node:url"
import { describe, it } from "@effect/vitest"
import { Kinds, type KubeObject, type ResourceType } from "@kleff/core"
import { Deferred, Effect, Fiber, Layer, type Scope } from "effect"
import { Client, type ClientOptions } from "../src/Client.ts"
import type { KubeError } from "../src/Errors.ts"
import { type Connection, KubeConfig } from "../src/KubeConfig.ts"
import type { Runnable } from "../src/Manager.ts"

export const kubeconfigPath: string | undefined =
  process.env.KLEFF_TEST_KUBECONFIG === "" ? undefined : process.env.KLEFF_TEST_KUBECONFIG

/**
 * A suite that needs the cluster. Without one it is skipped with the reason in its name, except in
 * CI where a missing cluster is a failure (nothing that needs the cluster is silently skipped there).
 */
export const describeCluster = (name: string, suite: () => void): void => {
  if (kubeconfigPath !== undefined) describe(name, suite)
  else if (process.env.CI !== undefined && process.env.CI !== "") {
    describe(name, () => {
      it("has a cluster", () => {
        throw new Error("KLEFF_TEST_KUBECONFIG is not set: the cluster global setup did not run")
      })
    })
  } else {
    describe.skip(
      `${name} [skipped: KLEFF_TEST_KUBECONFIG is not set; run tools/cluster/cluster.ts up]`,
      suite
    )
  }
}

const requirePath = (): string => {
  if (kubeconfigPath === undefined) throw new Error("KLEFF_TEST_KUBECONFIG is not set")
  return kubeconfigPath
}

// ---------------------------------------------------------------------------------------------
// A control plane of a test's own

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))

export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs a command to completion in the repository's root, feeding it `input`; killed (and
 * reported) after `timeoutMillis`. Never rejects for a non-zero exit: see `code`.
 */
export const runCommand = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly input?: string | undefined; readonly timeoutMillis?: number | undefined } = {}
): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd: repoRoot, stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMillis ?? 180_000)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin.on("error", () => {})
    child.stdin.end(options.input ?? "")
  })

/** `tools/cluster/cluster.ts <command> --dir <dir>`; resolves to the last line it prints (`up`: the kubeconfig). */
export const kubeConfigLayer = (): Layer.Layer<KubeConfig, unknown> => KubeConfig.layerFromFile(requirePath())

/** An admin client (and its KubeConfig) for the test cluster. */
export const clusterLayer = (options: ClientOptions = {}): Layer.Layer<Client | KubeConfig, unknown> =>
  Client.layerWith(options).pipe(Layer.provideMerge(kubeConfigLayer()))

/** The admin connection's server and CA, authenticated only by a bearer token (no client certificate). */
export const tokenConnection = (admin: Connection, token: string): Connection => ({
  server: admin.server,
  tls: {
    ...(admin.tls.ca === undefined ? {} : { ca: admin.tls.ca }),
    rejectUnauthorized: admin.tls.rejectUnauthorized,
    ...(admin.tls.servername === undefined ? {} : { servername: admin.tls.servername })
  },
  headers: Effect.succeed({ Authorization: `Bearer ${token}` }),
  refresh: Effect.void,
  namespace: admin.namespace,
  source: "bearer token"
})

/** A bound token for a ServiceAccount (TokenRequest), minted by the API server. */
export const serviceAccountToken = (namespace: string, serviceAccount: string) =>
  Effect.gen(function* () {
    const client = yield* Client
    const response = yield* client.request({
      method: "POST",
      path: `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 3600 }
      }
    })
    const token = (JSON.parse(response.body) as { status?: { token?: string } }).status?.token
    return token ?? (yield* Effect.die(new Error(`no token for ${namespace}/${serviceAccount}`)))
  })

/** A client that reaches the API server through `proxy` (same TLS and credentials). */
export const proxiedClientLayer = (
  proxy: TcpProxy,
  options: ClientOptions = {}
): Layer.Layer<Client, unknown> =>
  Client.layerWith(options).pipe(
    Layer.provide(
      Layer.effect(
        KubeConfig,
        Effect.gen(function* () {
          const direct = yield* KubeConfig
          const server = new URL(direct.server.toString())
          server.port = String(proxy.port)
          return { ...direct, server }
        })
      ).pipe(Layer.provide(kubeConfigLayer()))
    )
  )

export const uniqueName = (prefix: string): string => `${prefix}-${crypto.randomBytes(4).toString("hex")}`

export const Namespaces: ResourceType = Kinds.Namespace
export const ConfigMaps: ResourceType = Kinds.ConfigMap
export const ServiceAccounts: ResourceType = Kinds.ServiceAccount
export const Events: ResourceType = Kinds.Event
export const CustomResourceDefinitions: ResourceType = Kinds.CustomResourceDefinition

export const configMap = (
  namespace: string,
  name: string,
  data: Readonly<Record<string, string>> = {},
  metadata: Partial<KubeObject["metadata"]> = {}
): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { ...metadata, name, namespace },
  data
})

/** A fresh namespace for one test, deleted (in the background) when the test's scope closes. */
export const testNamespace = (prefix: string): Effect.Effect<string, KubeError, Client | Scope.Scope> =>
  Effect.gen(function* () {
    const client = yield* Client
    const name = uniqueName(prefix)
    yield* Effect.acquireRelease(
      client.create(Namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name } }),
      () => client.delete(Namespaces, name).pipe(Effect.ignore)
    )
    return name
  })

/** Polls `effect` until `done` holds for its result, or fails after `timeoutMillis`. */
export const eventually = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  timeoutMillis = 20_000,
  what = "condition"
): Effect.Effect<A, E | Error, R> =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMillis
    for (;;) {
      const value = yield* effect
      if (done(value)) return value
      if (Date.now() > deadline) return yield* Effect.fail(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("100 millis")
    }
  })

/** A TCP forwarder to the API server that can cut every connection on demand. */
export interface TcpProxy {
  readonly port: number
  /** Connections currently open through the proxy. */
  readonly open: () => number
  /** Resets (RST) every open connection: in-flight requests and watches fail with ECONNRESET. */
  readonly resetAll: () => void
  /**
   * Resets every connection open now when the client next sends on it, before a byte reaches the
   * server: what a client meets when it reuses a kept-alive socket the server had closed.
   */
  readonly resetOnNextSend: () => void
  /** How many connections `resetOnNextSend` has reset so far. */
  readonly resetsOnSend: () => number
  /** While `true`, the server's answers on every connection are dropped: requests go out, nothing comes back. */
  readonly withholdAnswers: (withhold: boolean) => void
}

export const tcpProxy = (target: URL): Effect.Effect<TcpProxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<{ proxy: TcpProxy; server: net.Server; sockets: Set<net.Socket> }>((resolve) => {
          const sockets = new Set<net.Socket>()
          const doomed = new WeakSet<net.Socket>()
          let resetsOnSend = 0
          let withholding = false
          const server = net.createServer((downstream) => {
            const upstream = net.connect(Number(target.port), target.hostname)
            for (const socket of [downstream, upstream]) {
              sockets.add(socket)
              socket.on("close", () => sockets.delete(socket))
              socket.on("error", () => {
                downstream.destroy()
                upstream.destroy()
              })
            }
            const gate = new Transform({
              transform(chunk, _encoding, done) {
                if (!doomed.has(downstream)) return done(null, chunk)
                resetsOnSend += 1
                downstream.resetAndDestroy()
                upstream.destroy()
              }
            })
            const answers = new Transform({
              transform(chunk, _encoding, done) {
                done(null, withholding ? undefined : chunk)
              }
            })
            downstream.pipe(gate).pipe(upstream)
            upstream.pipe(answers).pipe(downstream)
          })
          server.listen(0, "127.0.0.1", () => {
            const address = server.address()
            const port = typeof address === "object" && address !== null ? address.port : 0
            resolve({
              server,
              sockets,
              proxy: {
                port,
                open: () => sockets.size / 2,
                resetAll: () => {
                  for (const socket of sockets) socket.resetAndDestroy()
                },
                resetOnNextSend: () => {
                  for (const socket of sockets) doomed.add(socket)
                },
                resetsOnSend: () => resetsOnSend,
                withholdAnswers: (withhold) => {
                  withholding = withhold
                }
              }
            })
          })
        })
    ),
    ({ server, sockets }) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => resolve())
          })
      )
  ).pipe(Effect.map(({ proxy }) => proxy))

/** The Gadget kind of a group of one test's own (a fresh CRD: a kind no other test has served). */
export const gadgetsOf = (group: string): ResourceType => ({
  group,
  version: "v1",
  kind: "Gadget",
  plural: "gadgets",
  namespaced: true
})

/** The namespaced CRD serving `gadgetsOf(group)` at v1 with this schema. */
export const gadgetCrd = (group: string, openAPIV3Schema: object): KubeObject => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `gadgets.${group}` },
  spec: {
    group,
    scope: "Namespaced",
    names: { plural: "gadgets", singular: "gadget", kind: "Gadget", listKind: "GadgetList" },
    versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema } }]
  }
})

// A custom resource type for tests that need a status subresource or a fresh watch cache.

export const Widgets: ResourceType = {
  group: "test.kleff.io",
  version: "v1",
  kind: "Widget",
  plural: "widgets",
  namespaced: true
}

/** A namespaced CRD with a status subresource, applied idempotently (shared by concurrent test files). */
export const ensureWidgetCrd = Effect.gen(function* () {
  const client = yield* Client
  const schema = { type: "object", "x-kubernetes-preserve-unknown-fields": true }
  yield* client.apply(CustomResourceDefinitions, {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "widgets.test.kleff.io" },
    spec: {
      group: "test.kleff.io",
      scope: "Namespaced",
      names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: {
                spec: schema,
                status: {
                  ...schema,
                  properties: {
                    // The API conventions' conditions: one per type, each owned by the manager that applies it.
                    conditions: {
                      type: "array",
                      "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["type"],
                      items: { ...schema, required: ["type"], properties: { type: { type: "string" } } }
                    }
                  }
                }
              }
            }
          }
        }
      ]
    }
  })
  yield* eventually(
    client.get(CustomResourceDefinitions, "widgets.test.kleff.io"),
    (crd) =>
      (crd.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions?.some(
        (c) => c.type === "Established" && c.status === "True"
      ) === true,
    30_000,
    "the Widget CRD to be established"
  )
  // Discovery of a new CRD can lag its Established condition by a moment.
  yield* untilServed(Widgets, "default", "the Widget API to be served")
})

/** Waits (30 s at most) until `type` can be listed in `namespace`: its CRD's API is served. */
export const untilServed = (type: ResourceType, namespace: string, what: string) =>
  Effect.gen(function* () {
    const client = yield* Client
    yield* eventually(
      client.list(type, { namespace }).pipe(
        Effect.as(true),
        Effect.orElseSucceed(() => false)
      ),
      (ok) => ok,
      30_000,
      what
    )
  })

export const widget = (namespace: string, name: string, spec: object): KubeObject => ({
  apiVersion: "test.kleff.io/v1",
  kind: "Widget",
  metadata: { name, namespace },
  spec
})

/**
 * Runs a controller's runnable in the scope, as the Manager would; the effect it returns stops it
 * (a shutdown, in-flight reconciles drained) and waits for it to end, failing if it failed.
 */
export const runUntilStopped = <E, R>(
  runnable: Runnable<E, R>
): Effect.Effect<Effect.Effect<void, E>, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const stop = yield* Deferred.make<void>()
    const running = yield* Effect.forkScoped(
      runnable.run({ await: Deferred.await(stop), isShuttingDown: Deferred.isDone(stop) })
    )
    return Deferred.succeed(stop, undefined).pipe(Effect.andThen(Fiber.join(running)), Effect.asVoid)
  })
