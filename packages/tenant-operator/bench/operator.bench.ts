/**
 * The operator benchmark: the operator's speed and memory measured against the floor of its job,
 * as ratios in one run, never asserted in a timed test. Each run:
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
 * Each phase runs on a fresh control plane of its own (the same build and flags), so none starts on
 * what another left behind. After all runs, `Report.ts` prints the tables: per-tenant wall time and
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
import type { Plan } from "../src/api/Plan.ts"
import { install } from "../src/Install.ts"
import { clientLayer } from "../src/Operator.ts"
import { listPlans, type Run, range } from "./BenchTenants.ts"
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

/** A fresh control plane of a phase's own, with the operator's CRDs and sample Plans installed. */
interface Phase {
  readonly runtime: ManagedRuntime.ManagedRuntime<Client.Client, unknown>
  readonly run: Run
  readonly kubeconfig: string
  readonly clusterPids: Readonly<Record<string, number>>
  readonly plans: ReadonlyArray<Plan>
}

/**
 * `body` on a control plane started for it in `<work>/<name>`, stopped and removed after (with
 * `operators`, the processes `body` started, stopped first). Each phase gets its own, so none
 * inherits what another left: thousands of namespaces being deleted, their objects' tombstones in
 * etcd, a warm watch cache.
 */
const onFreshControlPlane = async <A>(
  work: string,
  name: string,
  body: (phase: Phase) => Promise<A>,
  operators: Array<OperatorProcess> = []
): Promise<A> => {
  const clusterDir = join(work, name)
  let runtime: ManagedRuntime.ManagedRuntime<Client.Client, unknown> | undefined
  try {
    const kubeconfig = await up(clusterDir)
    const cluster = JSON.parse(readFileSync(join(clusterDir, "cluster.json"), "utf8")) as {
      readonly processes: Readonly<Record<string, { readonly pid: number }>>
    }
    const clusterPids = Object.fromEntries(
      Object.entries(cluster.processes).map(([process, record]) => [process, record.pid])
    )
    runtime = ManagedRuntime.make(clientLayer(kubeconfig))
    const rt = runtime
    const run: Run = (effect) => rt.runPromise(effect)
    await run(install({ samples: true }).pipe(Effect.provideService(References.MinimumLogLevel, "Warn")))
    const plans = await run(listPlans)
    return await body({ runtime: rt, run, kubeconfig, clusterPids, plans })
  } finally {
    for (const operator of operators) await operator.stop(5000).catch(() => undefined)
    await runtime?.dispose().catch(() => undefined)
    await down(clusterDir).catch((error: unknown) => progress(`down failed: ${String(error)}`))
  }
}

/** One complete run: each phase on a fresh control plane of its own. */
const oneRun = async (index: number, binary: string | undefined, script: string): Promise<RunResult> => {
  const work = mkdtempSync(join(tmpdir(), "kleff-operator-bench-"))
  progress(`run ${index}/${runs}: work dir ${work}; machine: ${machine()}`)
  const loadStart = loadavg()[0] ?? Number.NaN
  let ok = false
  try {
    const go =
      binary === undefined
        ? undefined
        : await onFreshControlPlane(work, "go-floor", ({ run, kubeconfig, plans, clusterPids }) =>
            measureGoFloor({ run, binary, kubeconfig, work, plans, clusterPids })
          )
    const ts = withTsFloor
      ? await onFreshControlPlane(work, "ts-floor", ({ run, plans, clusterPids }) =>
          measureTsFloor(run, plans, clusterPids)
        )
      : undefined
    const operators: Array<OperatorProcess> = []
    const operator = await onFreshControlPlane(
      work,
      "operator",
      ({ runtime, kubeconfig, clusterPids }) =>
        measureOperator({ runtime, kubeconfig, work, clusterPids, operators, script }),
      operators
    )
    ok = true
    return { go, ts, operator, load: [loadStart, loadavg()[0] ?? Number.NaN] }
  } finally {
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
