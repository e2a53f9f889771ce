// cluster.ts is the entry point of the local Kubernetes control plane
// (etcd, kube-apiserver, kube-controller-manager on 127.0.0.1) used for
// development and tests, and its public API for test global setups:
//
//   node tools/cluster/cluster.ts up|down|status [--dir DIR]
//   node tools/cluster/cluster.ts kubectl [--dir DIR] -- KUBECTL-ARGS
//
// `up` prints the absolute admin kubeconfig path as the last line of stdout;
// all progress goes to stderr. DIR defaults to $KLEFF_CLUSTER_DIR, else
// ${XDG_STATE_HOME:-~/.local/state}/kleff/cluster/default. `kubectl` runs the
// kubectl built with the control plane (same version) against that cluster.
import { pathToFileURL } from "node:url"
import { down } from "./down.ts"
import { kubectl } from "./kubectl.ts"
import { UserError } from "./log.ts"
import { formatStatus, status } from "./status.ts"
import { up } from "./up.ts"

export { kubectlPath } from "./binaries.ts"
export { down } from "./down.ts"
export { kubectl } from "./kubectl.ts"
export { resolveStateDir } from "./paths.ts"
export type { ClusterStatus, ComponentStatus } from "./status.ts"
export { status } from "./status.ts"
export { up } from "./up.ts"

const USAGE = `usage: node tools/cluster/cluster.ts <command> [--dir DIR]
       node tools/cluster/cluster.ts kubectl [--dir DIR] -- KUBECTL-ARGS

commands:
  up       start the local control plane (building it the first time) or reuse
           a running one; prints the admin kubeconfig path as the last line
  down     stop the control plane and delete its state directory
  status   show processes, ports, kubeconfig and health; exit 0 only if healthy
  kubectl  run kubectl of the control plane's version (built with it) against
           the cluster, as its admin (KUBECONFIG) unless --kubeconfig is given;
           exits with kubectl's code

options:
  --dir DIR   state directory (default: $KLEFF_CLUSTER_DIR, else
              \${XDG_STATE_HOME:-~/.local/state}/kleff/cluster/default)
`

interface CliArgs {
  command: string
  dir?: string
  /** kubectl's arguments, for the kubectl command. */
  rest?: string[]
}

function parseArgs(argv: string[]): CliArgs | undefined {
  let command: string | undefined
  let dir: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ""
    // kubectl's arguments: everything after `--`, or from the first argument
    // that is not --dir (`cluster.ts kubectl get ns` works too).
    if (command === "kubectl" && (arg === "--" || !(arg === "--dir" || arg.startsWith("--dir=")))) {
      const rest = argv.slice(arg === "--" ? i + 1 : i)
      return dir !== undefined ? { command, dir, rest } : { command, rest }
    }
    if (arg === "--dir") {
      dir = argv[++i]
      if (dir === undefined || dir === "") return undefined
    } else if (arg.startsWith("--dir=")) {
      dir = arg.slice("--dir=".length)
    } else if (arg === "-h" || arg === "--help") {
      return { command: "help" }
    } else if (command === undefined && !arg.startsWith("-")) {
      command = arg
    } else {
      return undefined
    }
  }
  if (command === undefined) return undefined
  return dir !== undefined ? { command, dir } : { command }
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv)
  if (args === undefined) {
    process.stderr.write(USAGE)
    return 2
  }
  try {
    switch (args.command) {
      case "up":
        process.stdout.write(`${await up(args.dir)}\n`)
        return 0
      case "down":
        await down(args.dir)
        return 0
      case "kubectl":
        return await kubectl(args.rest ?? [], args.dir)
      case "status": {
        const result = await status(args.dir)
        process.stdout.write(`${formatStatus(result)}\n`)
        return result.healthy ? 0 : 1
      }
      case "help":
        process.stdout.write(USAGE)
        return 0
      default:
        process.stderr.write(`unknown command "${args.command}"\n\n${USAGE}`)
        return 2
    }
  } catch (error) {
    if (error instanceof UserError) {
      process.stderr.write(`error: ${error.message}\n`)
      return error.exitCode
    }
    process.stderr.write(`error: ${(error as Error).stack ?? String(error)}\n`)
    return 1
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2))
}
