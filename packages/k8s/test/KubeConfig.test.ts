// Loading connections from kubeconfig files and from a service-account directory (local files only;
// the same layers are exercised against the real API server in the integration tests).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, type Layer } from "effect"
import { KubeConfig } from "../src/KubeConfig.ts"

const created: Array<string> = []
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kleff-kubeconfig-"))
  created.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true })
})

const kubeconfig = (server: string, user: string) => `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: ${server}
    certificate-authority-data: ${Buffer.from("CA-PEM").toString("base64")}
    tls-server-name: kube.local
users:
- name: u
  user:
${user}
contexts:
- name: ctx
  context: { cluster: c, user: u, namespace: team-a }
- name: other
  context: { cluster: c, user: u }
current-context: ctx
`

const connect = <E>(layer: Layer.Layer<KubeConfig, E>) =>
  Effect.gen(function* () {
    return yield* KubeConfig
  }).pipe(Effect.provide(layer))

describe("KubeConfig.layerFromFile", () => {
  it.effect("reads server, CA, token and namespace of the current context", () =>
    Effect.gen(function* () {
      const dir = tmp()
      const file = path.join(dir, "config")
      fs.writeFileSync(file, kubeconfig("https://127.0.0.1:6443/", "    token: abc123"))
      const connection = yield* connect(KubeConfig.layerFromFile(file))
      assert.strictEqual(connection.server.toString(), "https://127.0.0.1:6443/")
      assert.strictEqual(connection.tls.ca?.toString(), "CA-PEM")
      assert.strictEqual(connection.tls.servername, "kube.local")
      assert.isTrue(connection.tls.rejectUnauthorized)
      assert.deepStrictEqual(yield* connection.headers, { Authorization: "Bearer abc123" })
      assert.strictEqual(connection.namespace, "team-a")
      const other = yield* connect(KubeConfig.layerFromFile(file, { context: "other" }))
      assert.strictEqual(other.namespace, "default")
    })
  )

  it.effect("reads client certificates from files relative to the kubeconfig", () =>
    Effect.gen(function* () {
      const dir = tmp()
      fs.writeFileSync(path.join(dir, "client.crt"), "CERT")
      fs.writeFileSync(path.join(dir, "client.key"), "KEY")
      const file = path.join(dir, "config")
      fs.writeFileSync(
        file,
        kubeconfig("https://k:6443", "    client-certificate: client.crt\n    client-key: client.key")
      )
      const connection = yield* connect(KubeConfig.layerFromFile(file))
      assert.strictEqual(connection.tls.cert?.toString(), "CERT")
      assert.strictEqual(connection.tls.key?.toString(), "KEY")
      assert.deepStrictEqual(yield* connection.headers, {})
    })
  )

  it.effect("fails with typed reasons: missing file, bad YAML, unknown context, missing cert file", () =>
    Effect.gen(function* () {
      const dir = tmp()
      const missing = yield* Effect.flip(connect(KubeConfig.layerFromFile(path.join(dir, "nope"))))
      assert.strictEqual(missing.reason, "NotFound")
      const bad = path.join(dir, "bad")
      fs.writeFileSync(bad, "clusters: [ {")
      assert.strictEqual((yield* Effect.flip(connect(KubeConfig.layerFromFile(bad)))).reason, "Invalid")
      const good = path.join(dir, "good")
      fs.writeFileSync(good, kubeconfig("https://k:6443", "    token: t"))
      const context = yield* Effect.flip(connect(KubeConfig.layerFromFile(good, { context: "nope" })))
      assert.strictEqual(context.reason, "Invalid")
      const certless = path.join(dir, "certless")
      fs.writeFileSync(certless, kubeconfig("https://k:6443", "    client-certificate: /nonexistent/c.crt"))
      const cert = yield* Effect.flip(connect(KubeConfig.layerFromFile(certless)))
      assert.strictEqual(cert.reason, "NotFound")
      assert.include(cert.message, "/nonexistent/c.crt")
    })
  )
})

describe("KubeConfig.layerFromDefault", () => {
  it.effect("follows KUBECONFIG", () =>
    Effect.gen(function* () {
      const dir = tmp()
      const file = path.join(dir, "config")
      fs.writeFileSync(file, kubeconfig("https://from-env:6443", "    token: env"))
      const previous = process.env.KUBECONFIG
      process.env.KUBECONFIG = file
      const connection = yield* connect(KubeConfig.layerFromDefault()).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            if (previous === undefined) delete process.env.KUBECONFIG
            else process.env.KUBECONFIG = previous
          })
        )
      )
      assert.strictEqual(connection.server.hostname, "from-env")
    })
  )
})

describe("KubeConfig.layerInCluster", () => {
  const serviceAccount = () => {
    const root = tmp()
    const dir = path.join(root, "var/run/secrets/kubernetes.io/serviceaccount")
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, "token"), "token-1\n")
    fs.writeFileSync(path.join(dir, "ca.crt"), "SA-CA")
    fs.writeFileSync(path.join(dir, "namespace"), "operators")
    return { root, dir }
  }

  it.effect(
    "uses the service account's CA, namespace and token, and re-reads a rotated token on refresh",
    () =>
      Effect.gen(function* () {
        const { root, dir } = serviceAccount()
        const connection = yield* connect(KubeConfig.layerInCluster({ root, host: "10.0.0.1", port: "443" }))
        assert.strictEqual(connection.server.toString(), "https://10.0.0.1/")
        assert.strictEqual(connection.tls.ca?.toString(), "SA-CA")
        assert.strictEqual(connection.namespace, "operators")
        assert.deepStrictEqual(yield* connection.headers, { Authorization: "Bearer token-1" })
        fs.writeFileSync(path.join(dir, "token"), "token-2")
        // Cached for a minute (as client-go does)…
        assert.deepStrictEqual(yield* connection.headers, { Authorization: "Bearer token-1" })
        // …and re-read at once after a 401.
        yield* connection.refresh
        assert.deepStrictEqual(yield* connection.headers, { Authorization: "Bearer token-2" })
        const ipv6 = yield* connect(KubeConfig.layerInCluster({ root, host: "fd00::1", port: "6443" }))
        assert.strictEqual(ipv6.server.toString(), "https://[fd00::1]:6443/")
      })
  )

  it.effect("outside a pod it fails with NotInCluster", () =>
    Effect.gen(function* () {
      const { root } = serviceAccount()
      const noEnv = yield* Effect.flip(connect(KubeConfig.layerInCluster({ root, host: "", port: "" })))
      assert.strictEqual(noEnv.reason, "NotInCluster")
      const noToken = yield* Effect.flip(
        connect(KubeConfig.layerInCluster({ root: tmp(), host: "h", port: "1" }))
      )
      assert.strictEqual(noToken.reason, "NotInCluster")
    })
  )
})
