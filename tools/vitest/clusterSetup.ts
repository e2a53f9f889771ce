// Vitest global setup: one real local control plane for the whole test run, shared by every
// integration test (tests isolate themselves by unique names). Its admin kubeconfig reaches the
// tests as `KLEFF_TEST_KUBECONFIG` (vitest builds the workers' environment from this process's
// after the global setup has run). Set `KLEFF_TEST_KUBECONFIG` yourself to test against another
// cluster instead.
//
// It also sets `KLEFF_KUBECTL` (unless set) to a kubectl of the control plane's exact version, built
// with it (`process.env.KLEFF_KUBECTL ?? "kubectl"` in tests): a system kubectl may be missing or
// outside the ±1 minor version skew kubectl supports. Set `KLEFF_KUBECTL=kubectl` to use the one on
// PATH instead (e.g. with `KLEFF_TEST_KUBECONFIG` for a cluster of another version).
//
// Each run gets a cluster of its own, in `<state>/kleff/cluster/test-<pid>`, removed when the run
// ends: concurrent runs (two terminals, an editor's runner) must not share one, or the first to
// finish would tear it down under the others. Clusters left by runs that died are removed at the
// next start. Set `KLEFF_TEST_KEEP_CLUSTER=1` to use (and leave running) the shared
// `<state>/kleff/cluster/test` instead: the next such run reuses it in a second or two.
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { down, kubectlPath, resolveStateDir, up } from "../cluster/cluster.ts"

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Tears down the per-run clusters of runs that are no longer alive (killed before their teardown). */
const removeAbandoned = async (root: string): Promise<void> => {
  let entries: Array<string>
  try {
    entries = readdirSync(root)
  } catch {
    return
  }
  for (const entry of entries) {
    const match = /^test-(\d+)$/.exec(entry)
    const pid = Number(match?.[1])
    if (match === null || pid === process.pid || alive(pid)) continue
    process.stderr.write(`test cluster: removing ${join(root, entry)}, left by a run that is gone\n`)
    await down(join(root, entry)).catch((error: unknown) => {
      process.stderr.write(`test cluster: could not remove ${join(root, entry)}: ${String(error)}\n`)
    })
  }
}

/** Sets `KLEFF_KUBECTL` to the version-matched kubectl unless set; returns whether it did. */
const provideKubectl = async (): Promise<boolean> => {
  if (process.env.KLEFF_KUBECTL) return false
  process.env.KLEFF_KUBECTL = await kubectlPath()
  return true
}

export default async function clusterSetup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.KLEFF_TEST_KUBECONFIG) {
    const setKubectl = await provideKubectl()
    return async () => {
      if (setKubectl) delete process.env.KLEFF_KUBECTL
    }
  }
  const root = join(resolveStateDir(), "..")
  const keep = process.env.KLEFF_TEST_KEEP_CLUSTER === "1"
  const dir = join(root, keep ? "test" : `test-${process.pid}`)
  await removeAbandoned(root)
  const started = performance.now()
  process.stderr.write(`test cluster: starting the local control plane in ${dir}\n`)
  const kubeconfig = await up(dir)
  process.stderr.write(`test cluster: ready in ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
  process.env.KLEFF_TEST_KUBECONFIG = kubeconfig
  const setKubectl = await provideKubectl() // built by `up`: instant
  return async () => {
    delete process.env.KLEFF_TEST_KUBECONFIG
    if (setKubectl) delete process.env.KLEFF_KUBECTL
    if (keep) return
    await down(dir)
  }
}
