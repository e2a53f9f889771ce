/**
 * Real OPA Gatekeeper for a test: its manager (built by tools/gatekeeper from its Go module) run as
 * a process on loopback against a test's control plane, and registered as that API server's
 * validating admission webhook. `startGatekeeper` installs Gatekeeper's CRDs (tools/crds, the same
 * module version), starts the manager with the operations that enforce constraints (`webhook`,
 * and `generate`: the controller that turns ConstraintTemplates into constraint CRDs) and nothing
 * else (no audit, no status writers, no mutation, no external data, no leader election: there is
 * no Pod, `--debug-use-fake-pod`), serving `/v1/admit` on 127.0.0.1 with a certificate of its own
 * (servingCertificate.ts; Gatekeeper's certificate rotation is off), waits for its `/readyz`,
 * then registers the webhook upstream's deploy/gatekeeper.yaml registers, by URL instead of
 * Service. `stop` removes the registration, then stops the process.
 *
 * Only on a control plane of the test's own (packages/k8s/test/ownCluster.ts): the webhook sees
 * every write in the cluster, which must never reach other test files.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { eventually, Kubectl, runCommand, toYaml } from "./e2e/harness.ts"
import { installMeshCrds } from "./meshCrds.ts"
import { servingCertificate } from "./servingCertificate.ts"

/** Gatekeeper's namespace, as upstream installs it: where it would keep its own objects. */
export const gatekeeperNamespace = "gatekeeper-system"
/** Upstream's names: the configuration, and the webhook that appears in every refusal. */
export const webhookConfigurationName = "gatekeeper-validating-webhook-configuration"
export const validationWebhookName = "validation.gatekeeper.sh"

export interface Gatekeeper {
  /** Where the API server sends admission reviews. */
  readonly webhookUrl: string
  /** What the manager has written (its JSON log), for failure messages. */
  readonly output: () => string
  /** Removes the webhook registration, then stops the manager (SIGTERM, SIGKILL after 30 s). */
  readonly stop: () => Promise<void>
}

/** The cached manager's path (`node tools/gatekeeper/gatekeeper.ts`: built on first use). */
export const gatekeeperBinary = async (): Promise<string> => {
  // A cold build took 18 minutes on a heavily loaded 2-core machine (tools/gatekeeper/README.md);
  // this stays inside an end-to-end suite's 30-minute start.
  const run = await runCommand(process.execPath, ["tools/gatekeeper/gatekeeper.ts"], {
    timeoutMillis: 27 * 60_000
  })
  if (run.code !== 0)
    throw new Error(`node tools/gatekeeper/gatekeeper.ts exited ${run.code}:\n${run.stderr}`)
  return run.stdout.trim()
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() =>
        typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))
      )
    })
  })

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** Upstream's `validation.gatekeeper.sh` webhook (deploy/gatekeeper.yaml of v3.23.1), reached by URL. */
const webhookConfiguration = (url: string, caBundle: string) => ({
  apiVersion: "admissionregistration.k8s.io/v1",
  kind: "ValidatingWebhookConfiguration",
  metadata: { name: webhookConfigurationName, labels: { "gatekeeper.sh/system": "yes" } },
  webhooks: [
    {
      name: validationWebhookName,
      admissionReviewVersions: ["v1", "v1beta1"],
      clientConfig: { url, caBundle: Buffer.from(caBundle).toString("base64") },
      failurePolicy: "Ignore",
      matchPolicy: "Exact",
      namespaceSelector: {
        matchExpressions: [
          { key: "admission.gatekeeper.sh/ignore", operator: "DoesNotExist" },
          { key: "kubernetes.io/metadata.name", operator: "NotIn", values: [gatekeeperNamespace] }
        ]
      },
      rules: [
        {
          apiGroups: ["*"],
          apiVersions: ["*"],
          operations: ["CREATE", "UPDATE"],
          resources: ["*", "pods/ephemeralcontainers"]
        }
      ],
      sideEffects: "None",
      // Upstream says 3; a loaded 2-core test machine needs more.
      timeoutSeconds: 10
    }
  ]
})

const isReady = async (url: string): Promise<boolean> => {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) })
    await response.arrayBuffer()
    return response.ok
  } catch {
    return false
  }
}

/** Managers this test process started and has not stopped: killed if the process exits first. */
const running = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL")
})

/**
 * Starts Gatekeeper for the cluster of `kubeconfig` (administrator's) and registers it as the
 * API server's validating webhook; resolves once it is ready to admit.
 */
export const startGatekeeper = async (kubeconfig: string): Promise<Gatekeeper> => {
  const binary = await gatekeeperBinary()
  const kubectl = new Kubectl(kubeconfig)
  await installMeshCrds(kubeconfig, ["gatekeeper"])
  await kubectl.apply({
    yaml: toYaml([{ apiVersion: "v1", kind: "Namespace", metadata: { name: gatekeeperNamespace } }])
  })

  const directory = mkdtempSync(join(tmpdir(), "kleff-gatekeeper-"))
  const certificate = servingCertificate("kleff-test-gatekeeper", "127.0.0.1")
  writeFileSync(join(directory, "tls.crt"), certificate.certificate)
  writeFileSync(join(directory, "tls.key"), certificate.privateKey, { mode: 0o600 })
  const [port, healthPort, prometheusPort] = [await freePort(), await freePort(), await freePort()]
  const logPath = join(directory, "gatekeeper.log")
  const log = openSync(logPath, "a")
  const child = spawn(
    binary,
    [
      `--kubeconfig=${kubeconfig}`,
      "--operation=webhook",
      "--operation=generate",
      "--host=127.0.0.1",
      `--port=${port}`,
      `--cert-dir=${directory}`,
      "--disable-cert-rotation",
      `--health-addr=127.0.0.1:${healthPort}`,
      "--metrics-addr=0",
      `--prometheus-port=${prometheusPort}`,
      "--debug-use-fake-pod",
      "--enable-external-data=false",
      `--exempt-namespace=${gatekeeperNamespace}`,
      "--shutdown-delay=0",
      "--log-denies"
    ],
    { env: { ...process.env, POD_NAMESPACE: gatekeeperNamespace }, stdio: ["ignore", log, log] }
  )
  closeSync(log)
  running.add(child)
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined
  const exit = new Promise<void>((resolve) =>
    child.on("exit", (code, signal) => {
      exited = { code, signal }
      running.delete(child)
      resolve()
    })
  )
  const output = () => {
    try {
      return readFileSync(logPath, "utf8")
    } catch {
      return "(no log)"
    }
  }
  const webhookUrl = `https://127.0.0.1:${port}/v1/admit`

  const stop = async () => {
    try {
      await kubectl.ok([
        "delete",
        "validatingwebhookconfiguration",
        webhookConfigurationName,
        "--ignore-not-found"
      ])
    } finally {
      if (exited === undefined) {
        child.kill("SIGTERM")
        await Promise.race([exit, sleep(30_000)])
        if (exited === undefined) {
          child.kill("SIGKILL")
          await exit
        }
      }
      rmSync(directory, { recursive: true, force: true })
    }
  }

  try {
    await eventually(
      "Gatekeeper's /readyz",
      async () => exited ?? (await isReady(`http://127.0.0.1:${healthPort}/readyz`)),
      (ready) => ready !== false,
      180_000
    )
    if (exited !== undefined)
      throw new Error(`Gatekeeper exited (${exited.code ?? exited.signal}):\n${output()}`)
    await kubectl.apply({ yaml: toYaml([webhookConfiguration(webhookUrl, certificate.certificate)]) })
  } catch (error) {
    const written = output() // before stop removes the directory
    await stop()
    throw new Error(
      `${error instanceof Error ? error.message : String(error)}\n--- Gatekeeper's log ---\n${written}`
    )
  }
  return { webhookUrl, output, stop }
}
