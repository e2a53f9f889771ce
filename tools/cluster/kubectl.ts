// kubectl.ts owns `cluster.ts kubectl`: running the version-matched kubectl
// (built with the control plane) against a local cluster, with its admin
// kubeconfig unless the arguments name a kubeconfig themselves.
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { constants } from "node:os"
import { kubectlPath } from "./binaries.ts"
import { UserError } from "./log.ts"
import { resolveStateDir, stateLayout } from "./paths.ts"
import { readState } from "./state.ts"

/** Whether kubectl's own arguments choose a kubeconfig (`--kubeconfig X` or `--kubeconfig=X`). */
function namesKubeconfig(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === "--") return false // what follows belongs to a command run by kubectl (exec, debug)
    if (arg === "--kubeconfig" || arg.startsWith("--kubeconfig=")) return true
  }
  return false
}

/** The admin kubeconfig of the cluster in dir (default state dir when omitted). */
function clusterKubeconfig(dir?: string): string {
  const layout = stateLayout(resolveStateDir(dir))
  const kubeconfig = readState(layout)?.kubeconfig ?? layout.adminKubeconfig
  if (!existsSync(kubeconfig)) {
    throw new UserError(
      `no cluster in ${layout.dir} (no ${kubeconfig}); start one with \`node tools/cluster/cluster.ts up${dir !== undefined ? ` --dir ${dir}` : ""}\`, or pass --kubeconfig`
    )
  }
  return kubeconfig
}

/**
 * Run kubectl with args (stdio inherited), with KUBECONFIG set to the admin
 * kubeconfig of the cluster in dir unless args hold --kubeconfig. Resolves to
 * kubectl's exit code (128 + signal number when a signal ended it).
 */
export async function kubectl(args: readonly string[], dir?: string): Promise<number> {
  const env = namesKubeconfig(args) ? process.env : { ...process.env, KUBECONFIG: clusterKubeconfig(dir) }
  const program = await kubectlPath()
  return new Promise<number>((resolve, reject) => {
    const child = spawn(program, [...args], { env, stdio: "inherit" })
    // Ctrl-C reaches kubectl directly (same process group); wait for it to
    // exit (e.g. `get --watch`, `port-forward`) rather than die first.
    // SIGTERM sent to this process alone is passed on.
    const onSigint = (): void => {}
    const onSigterm = (): void => {
      child.kill("SIGTERM")
    }
    process.on("SIGINT", onSigint)
    process.on("SIGTERM", onSigterm)
    const cleanup = (): void => {
      process.off("SIGINT", onSigint)
      process.off("SIGTERM", onSigterm)
    }
    child.on("error", (error) => {
      cleanup()
      reject(error)
    })
    child.on("exit", (code, signal) => {
      cleanup()
      resolve(code ?? 128 + (signal !== null ? constants.signals[signal] : 0))
    })
  })
}
