// down.ts owns tearing a cluster down: stop its processes and delete its
// state directory. Idempotent, and refuses to delete a directory holding
// anything this tool did not create.
import { existsSync, rmSync } from "node:fs"
import { info, UserError } from "./log.ts"
import { foreignEntries, resolveStateDir, stateLayout } from "./paths.ts"
import { stopProcess } from "./processes.ts"
import type { ClusterState } from "./state.ts"
import { readState } from "./state.ts"

/**
 * Stop every recorded process, controller-manager first and etcd last, each
 * with graceMs between SIGTERM and SIGKILL.
 */
export async function stopComponents(state: ClusterState, graceMs = 15_000): Promise<void> {
  for (const name of ["kube-controller-manager", "kube-apiserver", "etcd"] as const) {
    const record = state.processes[name]
    if (record === undefined) continue
    const outcome = await stopProcess(record, graceMs)
    if (outcome === "killed") info(`${name} (pid ${record.pid}) did not stop on SIGTERM; killed`)
  }
}

/** Stop the cluster in dir (default state dir when omitted) and remove the directory. */
export async function down(dir?: string): Promise<void> {
  const layout = stateLayout(resolveStateDir(dir))
  if (!existsSync(layout.dir)) {
    info(`no cluster in ${layout.dir}; nothing to do`)
    return
  }
  const foreign = foreignEntries(layout.dir)
  if (foreign.length > 0) {
    throw new UserError(
      `refusing to delete ${layout.dir}: it holds ${foreign.map((n) => `"${n}"`).join(", ")}, which is not cluster state. Choose the right --dir.`
    )
  }
  const state = readState(layout)
  if (state !== undefined) await stopComponents(state)
  rmSync(layout.dir, { recursive: true, force: true })
  info(`cluster in ${layout.dir} stopped and removed`)
}
