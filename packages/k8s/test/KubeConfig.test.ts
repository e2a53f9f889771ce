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

/** Runs `effect` with `KUBECONFIG` set to `value`, then restores it. */
const withKubeconfigEnv = <A, E>(value: string, effect: Effect.Effect<A, E>) =>
  Effect.suspend(() => {
    const previous = process.env.KUBECONFIG
    process.env.KUBECONFIG = value
    return effect.pipe(
      Effect.ensuring(
        Effect.sync(() => {
          if (previous === undefined) delete process.env.KUBECONFIG
          else process.env.KUBECONFIG = previous
        })
      )
    )
  })

describe("KubeConfig.layerFromDefault", () => {
  it.effect("follows KUBECONFIG", () =>
    Effect.gen(function* () {
      const dir = tmp()
      const file = path.join(dir, "config")
      fs.writeFileSync(file, kubeconfig("https://from-env:6443", "    token: env"))
      const connection = yield* withKubeconfigEnv(file, connect(KubeConfig.layerFromDefault()))
      assert.strictEqual(connection.server.hostname, "from-env")
    })
  )

  it.effect(
    "merges several KUBECONFIG files like kubectl: the first to define a name or the context wins",
    () =>
      Effect.gen(function* () {
        const first = tmp()
        fs.writeFileSync(
          path.join(first, "config"),
          `clusters:
- { name: c, cluster: { server: "https://first:6443" } }
users:
- { name: u, user: { token: first } }
contexts:
- { name: ctx, context: { cluster: c, user: u, namespace: a } }
`
        )
        const second = tmp()
        fs.writeFileSync(path.join(second, "token"), "from-second-file\n")
        fs.writeFileSync(
          path.join(second, "config"),
          `clusters:
- { name: c, cluster: { server: "https://second:6443" } }
- { name: c2, cluster: { server: "https://only-second:6443" } }
users:
- { name: u, user: { token: second } }
- { name: u2, user: { tokenFile: token } }
contexts:
- { name: ctx, context: { cluster: c, user: u, namespace: b } }
- { name: ctx2, context: { cluster: c2, user: u2 } }
current-context: ctx2
`
        )
        const files = [path.join(first, "config"), path.join(first, "missing"), path.join(second, "config")]
        const merged = files.join(path.delimiter)
        // The first file sets no current context; the second's is used, with its token file
        // resolved next to it.
        const current = yield* withKubeconfigEnv(merged, connect(KubeConfig.layerFromDefault()))
        assert.strictEqual(current.server.hostname, "only-second")
        assert.deepStrictEqual(yield* current.headers, { Authorization: "Bearer from-second-file" })
        assert.strictEqual(current.namespace, "default")
        // A name both files define comes from the first.
        const named = yield* withKubeconfigEnv(
          merged,
          connect(KubeConfig.layerFromDefault({ context: "ctx" }))
        )
        assert.strictEqual(named.server.hostname, "first")
        assert.deepStrictEqual(yield* named.headers, { Authorization: "Bearer first" })
        assert.strictEqual(named.namespace, "a")
        const reversed = [path.join(second, "config"), path.join(first, "config")].join(path.delimiter)
        const other = yield* withKubeconfigEnv(
          reversed,
          connect(KubeConfig.layerFromDefault({ context: "ctx" }))
        )
        assert.strictEqual(other.server.hostname, "second")
        assert.strictEqual(other.namespace, "b")
        const none = [path.join(first, "nope"), path.join(second, "nope")].join(path.delimiter)
        const missing = yield* Effect.flip(withKubeconfigEnv(none, connect(KubeConfig.layerFromDefault())))
        assert.strictEqual(missing.reason, "NotFound")
      })
  )
})

describe("KubeConfig users", () => {
  const withUser = (user: string) => {
    const file = path.join(tmp(), "config")
    fs.writeFileSync(file, kubeconfig("https://k:6443", user))
    return connect(KubeConfig.layerFromFile(file))
  }

  it.effect("impersonation, basic auth, an oidc id-token; other auth providers are refused", () =>
    Effect.gen(function* () {
      const impersonating = yield* withUser("    token: t\n    as: someone")
      assert.deepStrictEqual(yield* impersonating.headers, {
        Authorization: "Bearer t",
        "Impersonate-User": "someone"
      })
      const basic = yield* withUser("    username: me\n    password: secret")
      assert.deepStrictEqual(yield* basic.headers, {
        Authorization: `Basic ${Buffer.from("me:secret").toString("base64")}`
      })
      const oidc = yield* withUser("    auth-provider: { name: oidc, config: { id-token: idt } }")
      assert.deepStrictEqual(yield* oidc.headers, { Authorization: "Bearer idt" })
      const gcp = yield* Effect.flip(withUser("    auth-provider: { name: gcp, config: {} }"))
      assert.strictEqual(gcp.reason, "Unsupported")
      assert.include(gcp.message, "gcp")
    })
  )

  /** A credential plugin: counts its runs in `runs`, answers as `PLUGIN_MODE` says. */
  const plugin = `import * as fs from "node:fs"
const runs = process.argv[2]
const n = Number(fs.existsSync(runs) ? fs.readFileSync(runs, "utf8") : "0") + 1
fs.writeFileSync(runs, String(n))
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO)
const mode = process.env.PLUGIN_MODE
if (mode === "fail") {
  process.stderr.write("no credentials here")
  process.exit(3)
}
const status =
  mode === "certificate"
    ? { clientCertificateData: "CERT", clientKeyData: "KEY" }
    : {
        token: "token-" + n + "@" + info.spec.cluster.server + (info.spec.interactive ? "!" : ""),
        ...(mode === "expired" ? { expirationTimestamp: new Date(Date.now() - 1000).toISOString() } : {})
      }
process.stdout.write(JSON.stringify({ apiVersion: info.apiVersion, kind: "ExecCredential", status }))
`

  const execUser = (mode: string) => {
    const dir = tmp()
    fs.writeFileSync(path.join(dir, "plugin.mjs"), plugin)
    const runs = path.join(dir, "runs")
    const user = `    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ${JSON.stringify(process.execPath)}
      args: [${JSON.stringify(path.join(dir, "plugin.mjs"))}, ${JSON.stringify(runs)}]
      env: [{ name: PLUGIN_MODE, value: ${mode} }]
      provideClusterInfo: true
      interactiveMode: Never`
    return { user, runs: () => Number(fs.readFileSync(runs, "utf8")) }
  }

  it.live("an exec plugin's token is used until it expires or a 401 asks for a fresh one", () =>
    Effect.gen(function* () {
      const ok = execUser("ok")
      const connection = yield* withUser(ok.user)
      // Concurrent first requests share one run.
      const first = yield* Effect.all([connection.headers, connection.headers, connection.headers], {
        concurrency: 3
      })
      assert.deepStrictEqual(first[2], { Authorization: "Bearer token-1@https://k:6443" })
      assert.deepStrictEqual(yield* connection.headers, { Authorization: "Bearer token-1@https://k:6443" })
      assert.strictEqual(ok.runs(), 1)
      yield* connection.refresh
      assert.deepStrictEqual(yield* connection.headers, { Authorization: "Bearer token-2@https://k:6443" })

      const expiring = execUser("expired")
      const expired = yield* withUser(expiring.user)
      assert.deepStrictEqual(yield* expired.headers, { Authorization: "Bearer token-1@https://k:6443" })
      assert.deepStrictEqual(yield* expired.headers, { Authorization: "Bearer token-2@https://k:6443" })
    })
  )

  it.live("a failing plugin, or one that answers with a certificate, is a typed error", () =>
    Effect.gen(function* () {
      const failing = yield* Effect.flip(Effect.flatMap(withUser(execUser("fail").user), (c) => c.headers))
      assert.strictEqual(failing.reason, "Unreadable")
      assert.include(failing.message, "exited with 3")
      assert.include(failing.message, "no credentials here")
      const certificate = yield* Effect.flip(
        Effect.flatMap(withUser(execUser("certificate").user), (c) => c.headers)
      )
      assert.strictEqual(certificate.reason, "Unsupported")
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
