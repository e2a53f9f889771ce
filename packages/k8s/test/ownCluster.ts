/**
 * A control plane of a test's own, for tests that break the cluster on purpose (restart its
 * kube-apiserver) and so cannot share the run's: `up` in a temporary directory with the built
 * binaries (tools/cluster), `down` to remove it, and `restartApiServer`: SIGTERM to kube-apiserver's
 * process group and the same program started again with the same flags, as recorded by
 * tools/cluster in `cluster.json` (whose pid is updated, so `down` still stops it).
 */
import { execFile, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const clusterCli = path.join(repoRoot, "tools/cluster/cluster.ts")

interface ProcessRecord {
  pid: number
  program: string
  args: Array<string>
  log: string
  startedAt: string
}

export interface OwnCluster {
  readonly dir: string
  readonly kubeconfig: string
}

const cli = (command: "up" | "down", dir: string): string => {
  const result = spawnSync(process.execPath, [clusterCli, command, "--dir", dir], {
    encoding: "utf8",
    timeout: 20 * 60_000
  })
  if (result.status !== 0) throw new Error(`cluster ${command} failed: ${result.stderr}`)
  return result.stdout.trim().split("\n").pop() ?? ""
}

/** Starts a control plane in a new temporary directory (`prefix` names it). */
export const up = (prefix: string): OwnCluster => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`))
  fs.rmSync(dir, { recursive: true })
  return { dir, kubeconfig: cli("up", dir) }
}

/** Stops it and removes its directory. */
export const down = (cluster: OwnCluster): void => {
  cli("down", cluster.dir)
}

/** Alive and not a zombie (an orphaned component may never be reaped in a container). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch {
    return process.platform !== "linux"
  }
}

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

const waitUntilGone = async (pid: number, millis: number): Promise<boolean> => {
  const deadline = Date.now() + millis
  while (alive(pid)) {
    if (Date.now() > deadline) return false
    await sleep(100)
  }
  return true
}

/**
 * Stops kube-apiserver (SIGTERM to its process group, SIGKILL after 15 s, as `cluster down` does)
 * and starts it again with the same program and flags. Resolves once it is started, not ready.
 */
export const restartApiServer = async (cluster: OwnCluster): Promise<void> => {
  const stateFile = path.join(cluster.dir, "cluster.json")
  const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as {
    processes: Record<string, ProcessRecord | undefined>
  }
  const record = state.processes["kube-apiserver"]
  if (record === undefined) throw new Error(`no kube-apiserver in ${stateFile}`)
  process.kill(-record.pid, "SIGTERM")
  if (!(await waitUntilGone(record.pid, 15_000))) {
    process.kill(-record.pid, "SIGKILL")
    if (!(await waitUntilGone(record.pid, 10_000))) throw new Error("kube-apiserver survived SIGKILL")
  }
  const log = fs.openSync(record.log, "a")
  const child = spawn(record.program, record.args, { detached: true, stdio: ["ignore", log, log] })
  child.unref()
  fs.closeSync(log)
  if (child.pid === undefined) throw new Error("could not restart kube-apiserver")
  state.processes["kube-apiserver"] = { ...record, pid: child.pid, startedAt: new Date().toISOString() }
  fs.writeFileSync(`${stateFile}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
  fs.renameSync(`${stateFile}.tmp`, stateFile)
}

/**
 * Resolves once the cluster's kube-apiserver answers `/readyz` (after `restartApiServer`: the old
 * process may take its whole 15 s grace to go, and the new one a few seconds more to serve).
 */
export const waitUntilServing = async (cluster: OwnCluster, millis = 90_000): Promise<void> => {
  const kubectl = process.env.KLEFF_KUBECTL ?? "kubectl"
  const deadline = Date.now() + millis
  for (;;) {
    const ready = await new Promise<boolean>((resolve) =>
      execFile(
        kubectl,
        ["--kubeconfig", cluster.kubeconfig, "get", "--raw", "/readyz"],
        { timeout: 10_000 },
        (error) => resolve(error === null)
      )
    )
    if (ready) return
    if (Date.now() > deadline)
      throw new Error(`kube-apiserver of ${cluster.dir} not ready after ${millis} ms`)
    await sleep(250)
  }
}
