/**
 * The operator benchmark: the operator's speed and memory measured against the floor of its job,
 * as ratios in one run, never asserted in a timed test. Each run, on a local control plane of its
 * own:
 *
 * 1. Go floor (`GoFloor.ts`): tools/writefloor, a client-go program, makes for N tenants exactly the
 *    writes the operator makes (the Tenant as a user creates it, the finalizer, the children, the
 *    status), rendered by the operator's own code, at the operator phase's concurrency; timed from
 *    the first create to the last status.
 * 2. TS floor (`TsFloor.ts`, a second line): the same writes by a bare `@kleff/k8s` client in this
 *    process.
 * 3. Operator (`OperatorPhase.ts`): `tenant-operator run`, the production bundle (`bundle.ts`), as
 *    a child process (in a memory cgroup with BENCH_MEMORY_LIMIT_MIB); N Tenants created;
 *    time until every one is `TenantReady=True`; its writes, reconcile latency, a restart over the
 *    converged cluster (target: no write), memory, drift repair (`Drift.ts`).
 *
 * Each floor removes its Tenants and waits for their namespaces, so the next phase starts on a
 * quiet, empty cluster. After all runs, `Report.ts` prints the tables: per-tenant wall time and
 * CPU (kube-apiserver, etcd, client) of each, the ratios operator / Go floor first (the machine is
 * shared and absolute times drift, the ratios much less), the median and range over runs.
 *
 *   npm run bench                                  (every package's benchmark)
 *   BENCH_TENANTS=200 node packages/tenant-operator/bench/operator.bench.ts
 *
 * Settings: `Settings.ts`. This file owns the sequence of a run and nothing measured.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import type { Client } from "@kleff/k8s"
import { Effect, ManagedRuntime, References } from "effect"
import { bundle } from "../bundle.ts"
import { install } from "../src/Install.ts"
import { clientLayer } from "../src/Operator.ts"
import { listPlans, range } from "./BenchTenants.ts"
import { measureGoFloor, writefloorBinary } from "./GoFloor.ts"
import { measureOperator } from "./OperatorPhase.ts"
import type { OperatorProcess } from "./OperatorProcess.ts"
import { machine, type RunResult, report } from "./Report.ts"
import { concurrency, inFlight, progress, runs, tenants, withGoFloor, withTsFloor } from "./Settings.ts"
import { measureTsFloor } from "./TsFloor.ts"

/**
 * The local control plane (tools/cluster). Imported by URL because tools/ is a TypeScript project
 * of its own, which this package's project does not reference.
 */
interface ControlPlane {
  /** Starts (or reuses) the control plane in `dir`; resolves to its admin kubeconfig. */
  readonly up: (dir: string) => Promise<string>
  /** Stops it and deletes `dir`. */
  readonly down: (dir: string) => Promise<void>
}
const { up, down } = (await import(
  new URL("../../../tools/cluster/cluster.ts", import.meta.url).href
)) as ControlPlane

/** One complete run on a fresh control plane. */
const oneRun = async (index: number, binary: string | undefined, script: string): Promise<RunResult> => {
  const work = mkdtempSync(join(tmpdir(), "kleff-operator-bench-"))
  const clusterDir = join(work, "cluster")
  progress(`run ${index}/${runs}: work dir ${work}; machine: ${machine()}`)
  const loadStart = loadavg()[0] ?? Number.NaN
  const operators: Array<OperatorProcess> = []
  let runtime: ManagedRuntime.ManagedRuntime<Client.Client, unknown> | undefined
  let ok = false
  try {
    const kubeconfig = await up(clusterDir)
    const cluster = JSON.parse(readFileSync(join(clusterDir, "cluster.json"), "utf8")) as {
      readonly processes: Readonly<Record<string, { readonly pid: number }>>
    }
    const clusterPids = Object.fromEntries(
      Object.entries(cluster.processes).map(([name, record]) => [name, record.pid])
    )
    runtime = ManagedRuntime.make(clientLayer(kubeconfig))
    const rt = runtime
    const run = <A, Err>(effect: Effect.Effect<A, Err, Client.Client>): Promise<A> => rt.runPromise(effect)
    await run(install({ samples: true }).pipe(Effect.provideService(References.MinimumLogLevel, "Warn")))
    const plans = await run(listPlans)
    const go =
      binary === undefined
        ? undefined
        : await measureGoFloor({ run, binary, kubeconfig, work, plans, clusterPids })
    const ts = withTsFloor ? await measureTsFloor(run, plans, clusterPids) : undefined
    const operator = await measureOperator({ runtime: rt, kubeconfig, work, clusterPids, operators, script })
    ok = true
    return { go, ts, operator, load: [loadStart, loadavg()[0] ?? Number.NaN] }
  } finally {
    for (const operator of operators) await operator.stop(5000).catch(() => undefined)
    await runtime?.dispose().catch(() => undefined)
    await down(clusterDir).catch((error: unknown) => progress(`down failed: ${String(error)}`))
    if (ok) rmSync(work, { recursive: true, force: true })
    else progress(`operator logs kept in ${work}`)
  }
}

progress(`N=${tenants} tenants, concurrency ${concurrency}, ${inFlight} creates in flight, ${runs} run(s)`)
const binary = withGoFloor ? await writefloorBinary() : undefined
// The operator as the image runs it: the production bundle, built for this benchmark.
const bundleDir = mkdtempSync(join(tmpdir(), "kleff-operator-bundle-"))
const script = await bundle(join(bundleDir, "tenant-operator.mjs"))
const results: Array<RunResult> = []
try {
  for (const index of range(runs)) results.push(await oneRun(index + 1, binary, script))
} finally {
  rmSync(bundleDir, { recursive: true, force: true })
}
console.log(report(results))
