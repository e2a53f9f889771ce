// state.ts owns the cluster state file (cluster.json: ports, pids, paths) and
// the lock that serialises concurrent `up` runs on one state directory.
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs"
import type { ComponentName, Ports } from "./components.ts"
import { formatDuration, info, UserError } from "./log.ts"
import type { StateLayout } from "./paths.ts"
import type { ProcessRecord } from "./processes.ts"

export interface ClusterState {
  schema: 1
  kubernetesVersion: string
  /** Directory of the kleff-control-plane build used. */
  buildDir: string
  /** Set when etcd and kube-apiserver came from $KUBEBUILDER_ASSETS. */
  envtestAssets?: string
  ports: Ports
  kubeconfig: string
  processes: Partial<Record<ComponentName, ProcessRecord>>
  createdAt: string
}

/** The recorded state, or undefined when there is none (or it is unreadable). */
export function readState(layout: StateLayout): ClusterState | undefined {
  let text: string
  try {
    text = readFileSync(layout.stateFile, "utf8")
  } catch {
    return undefined
  }
  try {
    const parsed = JSON.parse(text) as ClusterState
    return parsed.schema === 1 ? parsed : undefined
  } catch {
    return undefined
  }
}

export function writeState(layout: StateLayout, state: ClusterState): void {
  const tmp = `${layout.stateFile}.tmp`
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
  renameSync(tmp, layout.stateFile)
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

const LOCK_WAIT_MS = 30 * 60_000 // a concurrent first build can take a while

/**
 * Take the `up` lock of a state directory (a file holding the owner's pid).
 * Waits while another live process holds it; a lock left by a dead process is
 * taken over. Returns the release function.
 */
export async function acquireUpLock(layout: StateLayout): Promise<() => void> {
  const started = Date.now()
  let announced = false
  // The lock appears complete or not at all: write the pid to a private file,
  // then hard-link it to the lock name (link fails atomically if it exists).
  const candidate = `${layout.lockFile}.${process.pid}`
  writeFileSync(candidate, `${process.pid}\n`, { mode: 0o600 })
  try {
    for (;;) {
      try {
        linkSync(candidate, layout.lockFile)
        return () => {
          try {
            unlinkSync(layout.lockFile)
          } catch {
            // already removed (e.g. by `down`)
          }
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
      }
      let owner: number
      try {
        owner = Number.parseInt(readFileSync(layout.lockFile, "utf8").trim(), 10)
      } catch {
        continue // released in the meantime
      }
      if (!Number.isInteger(owner) || owner <= 0 || !pidAlive(owner)) {
        try {
          unlinkSync(layout.lockFile) // stale: its owner is gone
        } catch {
          // another waiter removed it first
        }
        continue
      }
      if (Date.now() - started > LOCK_WAIT_MS) {
        throw new UserError(
          `another \`up\` (pid ${owner}) has held ${layout.lockFile} for over ${formatDuration(LOCK_WAIT_MS)}; stop it or remove the file`
        )
      }
      if (!announced) {
        info(`waiting for another \`up\` (pid ${owner}) on ${layout.dir} to finish…`)
        announced = true
      }
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  } finally {
    unlinkSync(candidate)
  }
}
