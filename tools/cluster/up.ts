// up.ts owns starting a cluster: reuse a healthy one, otherwise clean up what
// is left, build or locate binaries, generate the PKI, pick ports, and start
// etcd, kube-apiserver and kube-controller-manager in order, each waited for
// until healthy. Resolves to the absolute admin kubeconfig path, and tells
// (on stderr) where the version-matched kubectl is.
import { spawnSync } from "node:child_process"
import { mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import type { Binaries, Command } from "./binaries.ts"
import { builtKubectl, currentBuildDir, ensureBinaries } from "./binaries.ts"
import type { ComponentName, Ports } from "./components.ts"
import {
  apiserverURL,
  etcdArgs,
  KUBERNETES_SERVICE_IP,
  kubeApiserverArgs,
  kubeControllerManagerArgs,
  PORT_NAMES
} from "./components.ts"
import { stopComponents } from "./down.ts"
import type { ProbeResult } from "./health.ts"
import { clientTLS, probeEtcd, probeHTTPS, waitUntilHealthy } from "./health.ts"
import { formatDuration, info, tailFile, UserError } from "./log.ts"
import type { StateLayout } from "./paths.ts"
import { foreignEntries, resolveStateDir, stateLayout } from "./paths.ts"
import { assertPortFree, pickPorts } from "./ports.ts"
import { isRunning, startDetached } from "./processes.ts"
import type { ClusterState } from "./state.ts"
import { acquireUpLock, readState, writeState } from "./state.ts"
import { inspect } from "./status.ts"

const TIMEOUTS_MS: Record<ComponentName, number> = {
  etcd: 30_000,
  "kube-apiserver": 180_000,
  "kube-controller-manager": 90_000
}

const UNHEALTHY_STOP_GRACE_MS = 3_000

function generatePKI(pki: Command, layout: StateLayout, ports: Ports): void {
  const result = spawnSync(
    pki.program,
    [
      ...pki.prefixArgs,
      `--dir=${layout.pkiDir}`,
      `--server=${apiserverURL(ports)}`,
      `--service-ip=${KUBERNETES_SERVICE_IP}`
    ],
    { encoding: "utf8" }
  )
  if (result.error !== undefined || result.status !== 0) {
    throw new UserError(
      `generating the PKI in ${layout.pkiDir} failed: ${result.error?.message ?? result.stderr.trim()}`
    )
  }
}

/** Remove what a previous cluster left, except the PKI (kept so copied kubeconfigs stay valid). */
function clearPreviousRun(layout: StateLayout): void {
  for (const path of [layout.stateFile, layout.etcdDataDir, layout.logDir]) {
    rmSync(path, { recursive: true, force: true })
  }
}

interface StartStep {
  name: ComponentName
  command: Command
  args: string[]
  port: number
  purpose: string
  probe: () => Promise<ProbeResult>
}

function startSteps(binaries: Binaries, layout: StateLayout, ports: Ports): StartStep[] {
  let tls: ReturnType<typeof clientTLS> | undefined
  const lazyTLS = (): ReturnType<typeof clientTLS> => (tls ??= clientTLS(layout.pkiDir))
  return [
    {
      name: "etcd",
      command: binaries.etcd,
      args: etcdArgs(layout, ports),
      port: ports.etcdClient,
      purpose: "etcd clients",
      probe: () => probeEtcd(ports.etcdClient)
    },
    {
      name: "kube-apiserver",
      command: binaries.kubeApiserver,
      args: kubeApiserverArgs(layout, ports),
      port: ports.apiserver,
      purpose: "kube-apiserver",
      probe: () => probeHTTPS(ports.apiserver, "/readyz", lazyTLS())
    },
    {
      name: "kube-controller-manager",
      command: binaries.kubeControllerManager,
      args: kubeControllerManagerArgs(layout, ports),
      port: ports.controllerManager,
      purpose: "kube-controller-manager",
      probe: () => probeHTTPS(ports.controllerManager, "/healthz", lazyTLS())
    }
  ]
}

function failureReport(name: ComponentName, logPath: string, cause: string): string {
  const tail = tailFile(logPath, 40)
  const hint = /address already in use/i.test(tail)
    ? "\nhint: a port was taken by another process after it was chosen; run `up` again to pick new ports."
    : ""
  return `${cause}\n--- last lines of the ${name} log, ${logPath} ---\n${tail}\n---${hint}\nlogs are kept in ${join(logPath, "..")}; \`down\` removes them.`
}

async function startFresh(layout: StateLayout, previous: ClusterState | undefined): Promise<string> {
  const binaries = await ensureBinaries()
  // Keep the previous API server port when free, so kubeconfigs stay valid.
  const preferred = previous !== undefined ? { apiserver: previous.ports.apiserver } : {}
  const ports = await pickPorts(PORT_NAMES, preferred)
  mkdirSync(layout.logDir, { recursive: true, mode: 0o700 })
  mkdirSync(layout.etcdDataDir, { recursive: true, mode: 0o700 })
  generatePKI(binaries.pki, layout, ports)

  const state: ClusterState = {
    schema: 1,
    kubernetesVersion: binaries.kubernetesVersion,
    buildDir: binaries.buildDir,
    ...(binaries.envtestAssets !== undefined ? { envtestAssets: binaries.envtestAssets } : {}),
    ports,
    kubeconfig: layout.adminKubeconfig,
    processes: {},
    createdAt: new Date().toISOString()
  }
  writeState(layout, state)

  const started = Date.now()
  const timings: string[] = []
  for (const step of startSteps(binaries, layout, ports)) {
    const logPath = join(layout.logDir, `${step.name}.log`)
    try {
      await assertPortFree(step.port, step.purpose)
    } catch (error) {
      await stopComponents(state, UNHEALTHY_STOP_GRACE_MS)
      throw error
    }
    info(`starting ${step.name} on 127.0.0.1:${step.port}…`)
    const record = startDetached(step.command, step.args, logPath)
    state.processes[step.name] = record
    writeState(layout, state) // recorded before waiting, so `down` can always stop it
    try {
      const took = await waitUntilHealthy({
        label: step.name,
        timeoutMs: TIMEOUTS_MS[step.name],
        probe: step.probe,
        died: () => (isRunning(record) ? undefined : "process is gone")
      })
      timings.push(`${step.name} ${formatDuration(took)}`)
    } catch (error) {
      await stopComponents(state, UNHEALTHY_STOP_GRACE_MS)
      throw new UserError(
        failureReport(
          step.name,
          logPath,
          `cluster in ${layout.dir} failed to start: ${(error as Error).message}`
        )
      )
    }
  }
  info(`cluster ready in ${formatDuration(Date.now() - started)} (${timings.join(", ")})`)
  info(`kubectl: ${binaries.kubectl}`)
  return layout.adminKubeconfig
}

/**
 * Ensure a healthy cluster runs in dir (default state dir when omitted) and
 * return the absolute path of its admin kubeconfig.
 */
export async function up(dir?: string): Promise<string> {
  const layout = stateLayout(resolveStateDir(dir))
  mkdirSync(layout.dir, { recursive: true, mode: 0o700 })
  const foreign = foreignEntries(layout.dir)
  if (foreign.length > 0) {
    throw new UserError(
      `${layout.dir} holds ${foreign.map((n) => `"${n}"`).join(", ")}, which is not cluster state; choose an empty or dedicated --dir`
    )
  }
  const release = await acquireUpLock(layout)
  try {
    const previous = readState(layout)
    if (previous !== undefined) {
      const current = await inspect(previous, layout)
      if (current.healthy) {
        info(`cluster in ${layout.dir} is already running; reusing it`)
        if (previous.buildDir !== currentBuildDir()) {
          info("note: it runs an older build of tools/control-plane; `down` then `up` to use the current one")
        }
        const kubectl = builtKubectl(previous.buildDir)
        info(
          kubectl !== undefined
            ? `kubectl: ${kubectl}`
            : "kubectl: `node tools/cluster/cluster.ts kubectl -- ARGS` (builds it first)"
        )
        return previous.kubeconfig
      }
      const problems = current.components
        .filter((c) => !c.running || !c.health.ok)
        .map((c) => `${c.name} ${c.running ? "unhealthy" : "not running"}`)
      info(
        `previous cluster in ${layout.dir} is not healthy (${problems.join(", ")}); cleaning up and starting fresh`
      )
      // Short grace: an API server whose etcd is gone never finishes a graceful shutdown.
      await stopComponents(previous, UNHEALTHY_STOP_GRACE_MS)
    }
    clearPreviousRun(layout)
    return await startFresh(layout, previous)
  } finally {
    release()
  }
}
