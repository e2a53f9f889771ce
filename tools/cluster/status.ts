// status.ts owns the health view of a cluster: which recorded processes are
// alive and whether etcd, kube-apiserver and kube-controller-manager answer
// their health endpoints. Used by `status` and by `up` to decide on reuse.
import { existsSync } from "node:fs"
import type { ComponentName } from "./components.ts"
import { COMPONENTS } from "./components.ts"
import type { ProbeResult } from "./health.ts"
import { clientTLS, probeEtcd, probeHTTPS } from "./health.ts"
import type { StateLayout } from "./paths.ts"
import { resolveStateDir, stateLayout } from "./paths.ts"
import { isRunning } from "./processes.ts"
import type { ClusterState } from "./state.ts"
import { readState } from "./state.ts"

export interface ComponentStatus {
  name: ComponentName
  pid?: number
  running: boolean
  endpoint?: string
  health: ProbeResult
  log?: string
}

export interface ClusterStatus {
  dir: string
  /** Whether a cluster state file exists in dir. */
  exists: boolean
  healthy: boolean
  kubeconfig?: string
  kubernetesVersion?: string
  envtestAssets?: string
  components: ComponentStatus[]
}

const NOT_RUNNING: ProbeResult = { ok: false, detail: "process not running" }

function probeFor(
  name: ComponentName,
  state: ClusterState,
  layout: StateLayout
): { endpoint: string; probe: () => Promise<ProbeResult> } {
  const { ports } = state
  switch (name) {
    case "etcd":
      return {
        endpoint: `http://127.0.0.1:${ports.etcdClient}/health`,
        probe: () => probeEtcd(ports.etcdClient)
      }
    case "kube-apiserver":
      return {
        endpoint: `https://127.0.0.1:${ports.apiserver}/readyz`,
        probe: () => probeHTTPS(ports.apiserver, "/readyz", clientTLS(layout.pkiDir))
      }
    case "kube-controller-manager":
      return {
        endpoint: `https://127.0.0.1:${ports.controllerManager}/healthz`,
        probe: () => probeHTTPS(ports.controllerManager, "/healthz", clientTLS(layout.pkiDir))
      }
  }
}

export async function inspect(state: ClusterState, layout: StateLayout): Promise<ClusterStatus> {
  const components = await Promise.all(
    COMPONENTS.map(async (name): Promise<ComponentStatus> => {
      const record = state.processes[name]
      const { endpoint, probe } = probeFor(name, state, layout)
      const running = record !== undefined && isRunning(record)
      let health = NOT_RUNNING
      if (running) {
        try {
          health = await probe()
        } catch (error) {
          health = { ok: false, detail: (error as Error).message }
        }
      }
      return {
        name,
        running,
        endpoint,
        health,
        ...(record !== undefined ? { pid: record.pid, log: record.log } : {})
      }
    })
  )
  return {
    dir: layout.dir,
    exists: true,
    healthy: components.every((c) => c.running && c.health.ok),
    kubeconfig: state.kubeconfig,
    kubernetesVersion: state.kubernetesVersion,
    ...(state.envtestAssets !== undefined ? { envtestAssets: state.envtestAssets } : {}),
    components
  }
}

/** The status of the cluster in dir (default state dir when omitted). Never throws for a missing cluster. */
export async function status(dir?: string): Promise<ClusterStatus> {
  const layout = stateLayout(resolveStateDir(dir))
  const state = readState(layout)
  if (state === undefined) {
    return { dir: layout.dir, exists: existsSync(layout.stateFile), healthy: false, components: [] }
  }
  return inspect(state, layout)
}

export function formatStatus(s: ClusterStatus): string {
  if (s.components.length === 0) {
    return s.exists
      ? `cluster state in ${s.dir} is unreadable; run \`down\` then \`up\``
      : `no cluster in ${s.dir}`
  }
  const lines = [
    `cluster     ${s.dir}`,
    `kubernetes  ${s.kubernetesVersion ?? "unknown"}${s.envtestAssets !== undefined ? ` for kube-controller-manager; etcd and kube-apiserver from KUBEBUILDER_ASSETS=${s.envtestAssets}` : ""}`,
    `kubeconfig  ${s.kubeconfig ?? "-"}`
  ]
  const width = Math.max(...s.components.map((c) => c.name.length))
  for (const c of s.components) {
    const pid = c.pid !== undefined ? `pid ${c.pid}` : "no pid"
    const state = c.running ? "running" : "dead"
    const health = c.health.ok ? "ok" : `NOT OK (${c.health.detail})`
    lines.push(
      `${c.name.padEnd(width)}  ${pid.padEnd(10)} ${state.padEnd(7)}  ${c.endpoint ?? ""}  ${health}`
    )
  }
  lines.push(s.healthy ? "healthy" : "NOT healthy")
  return lines.join("\n")
}
