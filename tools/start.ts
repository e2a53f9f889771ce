// `npm start [-- <flags for tenant-operator run>]`: the operator's main job on an embedded default.
//
// With no cluster given (no `--kubeconfig` flag, no KUBECONFIG), it brings up the local control
// plane (tools/cluster; built the first time), installs the CRDs, the cluster-wide objects and
// the sample Plans, prints how to reach the cluster and what to try, and runs the operator in the
// foreground until Ctrl-C. With `--kubeconfig` or KUBECONFIG it runs against that cluster and
// installs nothing. Flags are passed through to `tenant-operator run`.
//
// Stopping: npm passes a SIGINT or SIGTERM it gets on to its script, and the `start` script execs
// (sh, then tools/toolchain/run.sh) into this process, so the signal arrives here. It is passed on
// to the operator, which drains, releases its leader Lease and exits; this process then exits with
// the operator's status. The operator also stops by itself when this process is
// gone, even killed outright (see packages/tenant-operator/src/cli/ParentLink.ts). The local control
// plane is left running either way: `npm run cluster -- down` stops it.
import { spawn } from "node:child_process"
import { constants } from "node:os"
import { fileURLToPath } from "node:url"
import { resolveStateDir, up } from "./cluster/cluster.ts"

const cli = fileURLToPath(new URL("../packages/tenant-operator/src/bin.ts", import.meta.url))
const samples = fileURLToPath(new URL("../deploy/samples/", import.meta.url))

/** A child's exit as one status, shell style: its code, or 128 + the number of the signal that ended it. */
const exitStatus = (code: number | null, signal: NodeJS.Signals | null): number =>
  code ?? 128 + (signal === null ? 0 : constants.signals[signal])

/**
 * Runs the operator's CLI and resolves with its exit status. While it runs, SIGINT and SIGTERM sent
 * to this process are passed on to it. It holds an IPC channel to this process: when the channel
 * closes (this process died), it stops as on SIGTERM.
 */
const tenantOperator = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env): Promise<number> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      stdio: ["inherit", "inherit", "inherit", "ipc"],
      env
    })
    const forward = (signal: NodeJS.Signals) => child.kill(signal)
    process.on("SIGINT", forward).on("SIGTERM", forward)
    child.on("error", (error) => {
      process.off("SIGINT", forward).off("SIGTERM", forward)
      reject(error)
    })
    child.on("exit", (code, signal) => {
      process.off("SIGINT", forward).off("SIGTERM", forward)
      resolve(exitStatus(code, signal))
    })
  })

const flags = process.argv.slice(2)
const given = flags.some((flag) => flag === "--kubeconfig" || flag.startsWith("--kubeconfig="))
const fromEnv = process.env.KUBECONFIG !== undefined && process.env.KUBECONFIG !== ""

if (given || fromEnv) {
  process.stderr.write(
    `start: running the operator against ${given ? "the given kubeconfig" : "$KUBECONFIG"}\n`
  )
  process.exit(await tenantOperator(["run", ...flags]))
}

process.stderr.write(`start: no cluster given; using the local control plane in ${resolveStateDir()}\n`)
const kubeconfig = await up()
const env = { ...process.env, KUBECONFIG: kubeconfig }
const installed = await tenantOperator(["install", "--samples", "--kubeconfig", kubeconfig], env)
if (installed !== 0) {
  process.stderr.write("start: installing the CRDs and sample plans failed (see above)\n")
  process.exit(installed)
}
process.stdout.write(
  [
    "",
    "The tenant operator is starting on the local control plane. In another shell:",
    "",
    `  export KUBECONFIG=${kubeconfig}`,
    `  kubectl apply -f ${samples}tenant.yaml`,
    "  kubectl wait --for=condition=TenantReady tenant/example-tenant",
    "  kubectl get tenants,ns",
    "",
    "(No kubectl? `npm run cluster -- kubectl -- get tenants` runs the version-matched one.)",
    "",
    "Ctrl-C stops the operator; `npm run cluster -- down` stops the control plane.",
    "",
    ""
  ].join("\n")
)
process.exit(await tenantOperator(["run", "--kubeconfig", kubeconfig, ...flags], env))
