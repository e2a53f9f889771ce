// The in-cluster connection against the real API server: a service-account token (from the
// TokenRequest API) and the cluster CA laid out as a pod sees them; RBAC denies what the account
// may not do; a rotated token is picked up after the old one stops working (401 → re-read → retry).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Client } from "../src/Client.ts"
import { KubeConfig } from "../src/KubeConfig.ts"
import {
  ConfigMaps,
  clusterLayer,
  describeCluster,
  eventually,
  ServiceAccounts,
  testNamespace
} from "./cluster.ts"

const tokenFor = (client: Client["Service"], namespace: string, serviceAccount: string) =>
  Effect.gen(function* () {
    const response = yield* client.request({
      method: "POST",
      path: `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600 } }
    })
    return (JSON.parse(response.body) as { status: { token: string } }).status.token
  })

const whoAmI = Effect.gen(function* () {
  const client = yield* Client
  const response = yield* client.request({
    method: "POST",
    path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }
  })
  return (JSON.parse(response.body) as { status: { userInfo: { username: string } } }).status.userInfo
    .username
})

describeCluster("KubeConfig.layerInCluster (real API server)", () => {
  it.live(
    "authenticates with the mounted service-account token, and follows its rotation",
    () =>
      Effect.gen(function* () {
        const admin = yield* Client
        const adminConnection = yield* KubeConfig
        const ns = yield* testNamespace("in-cluster")
        for (const name of ["first", "second"]) {
          yield* admin.create(ServiceAccounts, {
            apiVersion: "v1",
            kind: "ServiceAccount",
            metadata: { name, namespace: ns }
          })
        }
        const root = yield* Effect.acquireRelease(
          Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "kleff-sa-"))),
          (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
        )
        const dir = path.join(root, "var/run/secrets/kubernetes.io/serviceaccount")
        fs.mkdirSync(dir, { recursive: true })
        fs.writeFileSync(path.join(dir, "token"), yield* tokenFor(admin, ns, "first"))
        fs.writeFileSync(path.join(dir, "ca.crt"), adminConnection.tls.ca ?? "")
        fs.writeFileSync(path.join(dir, "namespace"), ns)

        const podLayer = Client.layer.pipe(
          Layer.provideMerge(
            KubeConfig.layerInCluster({
              root,
              host: adminConnection.server.hostname,
              port: adminConnection.server.port
            })
          )
        )
        yield* Effect.gen(function* () {
          const pod = yield* KubeConfig
          assert.strictEqual(pod.namespace, ns)
          assert.strictEqual(yield* whoAmI, `system:serviceaccount:${ns}:first`)

          // No RBAC for this account: a typed Forbidden naming the call.
          const client = yield* Client
          const denied = yield* Effect.flip(client.list(ConfigMaps, { namespace: ns }))
          assert.strictEqual(denied._tag, "Forbidden")
          assert.strictEqual(denied.verb, "list")
          assert.include(denied.message, `system:serviceaccount:${ns}:first`)

          // The kubelet rotates the token file; the old token then stops working (here: its
          // account is deleted; the server may honour its authentication cache for ~10 s). The
          // first request answered 401 re-reads the file and is retried with the new token, well
          // before the one-minute periodic re-read.
          fs.writeFileSync(path.join(dir, "token"), yield* tokenFor(admin, ns, "second"))
          yield* admin.delete(ServiceAccounts, "first", { namespace: ns })
          yield* eventually(
            whoAmI,
            (user) => user === `system:serviceaccount:${ns}:second`,
            30_000,
            "the new token"
          )
        }).pipe(Effect.provide(podLayer))
      }).pipe(Effect.provide(clusterLayer())),
    60_000
  )

  it.live(
    "authenticates with the token of an exec credential plugin",
    () =>
      Effect.gen(function* () {
        const admin = yield* Client
        const adminConnection = yield* KubeConfig
        const ns = yield* testNamespace("exec-plugin")
        yield* admin.create(ServiceAccounts, {
          apiVersion: "v1",
          kind: "ServiceAccount",
          metadata: { name: "plugged", namespace: ns }
        })
        const dir = yield* Effect.acquireRelease(
          Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "kleff-exec-"))),
          (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
        )
        fs.writeFileSync(path.join(dir, "token"), yield* tokenFor(admin, ns, "plugged"))
        // The plugin prints an ExecCredential carrying the token it reads.
        fs.writeFileSync(
          path.join(dir, "plugin.mjs"),
          `import * as fs from "node:fs"
const token = fs.readFileSync(process.argv[2], "utf8")
const { apiVersion } = JSON.parse(process.env.KUBERNETES_EXEC_INFO)
process.stdout.write(JSON.stringify({ apiVersion, kind: "ExecCredential", status: { token } }))
`
        )
        const file = path.join(dir, "config")
        fs.writeFileSync(
          file,
          JSON.stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [
              {
                name: "test",
                cluster: {
                  server: adminConnection.server.toString(),
                  "certificate-authority-data": (adminConnection.tls.ca ?? Buffer.alloc(0)).toString("base64")
                }
              }
            ],
            users: [
              {
                name: "plugged",
                user: {
                  exec: {
                    apiVersion: "client.authentication.k8s.io/v1",
                    command: process.execPath,
                    args: [path.join(dir, "plugin.mjs"), path.join(dir, "token")],
                    interactiveMode: "Never"
                  }
                }
              }
            ],
            contexts: [{ name: "test", context: { cluster: "test", user: "plugged", namespace: ns } }],
            "current-context": "test"
          })
        )
        const user = yield* whoAmI.pipe(
          Effect.provide(Client.layer.pipe(Layer.provide(KubeConfig.layerFromFile(file))))
        )
        assert.strictEqual(user, `system:serviceaccount:${ns}:plugged`)
      }).pipe(Effect.provide(clusterLayer())),
    60_000
  )
})
