/**
 * The operator phase of one run: `tenant-operator run` as a child process; N Tenants created
 * `inFlight` at a time; the time until a Watcher has seen every one `TenantReady=True`, the CPU of
 * every process over it, its writes (its own `rest_client_requests_total`) and reconcile latency;
 * then a restart over the converged cluster (every Tenant reconciled again) and the writes that
 * resync makes (target 0); memory with the N tenants cached; drift repair. Owns driving and reading
 * the operator; the table is `Report.ts`'s.
 */
import { join } from "node:path"
import type { KubeObject } from "@kleff/core"
import { Client, Watcher } from "@kleff/k8s"
import { Effect, Fiber, type ManagedRuntime, Stream } from "effect"
import { TenantType } from "../src/api/Tenant.ts"
import { benchLabel, isTenantReady, range, tenantObject } from "./BenchTenants.ts"
import * as Cpu from "./Cpu.ts"
import { driftRepair } from "./Drift.ts"
import * as MemoryCgroup from "./MemoryCgroup.ts"
import { type Memory, type OperatorProcess, sleep, startOperator } from "./OperatorProcess.ts"
import * as Prometheus from "./Prometheus.ts"
import {
  concurrency,
  driftSamples,
  inFlight,
  memoryLimitMiB,
  progress,
  tenants,
  withUsage
} from "./Settings.ts"

const prefix = "op"

/** Which bench Tenants have been seen `TenantReady=True`, and when; fed by a Watcher. */
class Readiness {
  readonly createdAt = new Map<string, number>()
  readonly readyAt = new Map<string, number>()
  listed = false
  private waiter: (() => void) | undefined
  private target = Number.POSITIVE_INFINITY

  observe(event: Watcher.WatcherEvent<KubeObject>): void {
    if (event._tag === "Restarted") {
      this.listed = true
      for (const object of event.objects) this.check(object)
    } else if (event._tag === "Applied") this.check(event.object)
  }

  private check(object: KubeObject): void {
    const name = object.metadata.name
    if (this.readyAt.has(name) || !isTenantReady(object)) return
    this.readyAt.set(name, performance.now())
    if (this.readyAt.size >= this.target) this.waiter?.()
  }

  all(target: number): Promise<void> {
    this.target = target
    return this.readyAt.size >= target ? Promise.resolve() : new Promise((resolve) => (this.waiter = resolve))
  }
}

/** Until the operator's queue is empty, no worker is busy and the reconcile count has not moved for 2 s. */
const quiescent = async (
  operator: OperatorProcess,
  atLeastReconciles = 0,
  timeoutMillis = 600_000
): Promise<{ readonly samples: ReadonlyArray<Prometheus.Sample>; readonly lastChange: number }> => {
  const deadline = Date.now() + timeoutMillis
  let previous = -1
  let lastChange = performance.now()
  let stableSince = Date.now()
  for (;;) {
    const samples = await Prometheus.scrape(operator.metricsPort)
    const done = Prometheus.reconciles(samples)
    if (done !== previous) {
      previous = done
      lastChange = performance.now()
      stableSince = Date.now()
    }
    const idle = Prometheus.queueDepth(samples) === 0 && Prometheus.activeWorkers(samples) === 0
    if (idle && done >= atLeastReconciles && Date.now() - stableSince >= 2000) return { samples, lastChange }
    if (Date.now() > deadline) throw new Error(`the operator did not settle; see ${operator.log}`)
    await sleep(250)
  }
}

export interface OperatorRun {
  /** The memory cgroups of the first process (creation) and the restarted one, with a limit set. */
  readonly cgroupCreate: CgroupUse | undefined
  readonly cgroupRestart: CgroupUse | undefined
  readonly createMillis: number
  /** From the first create to the last `TenantReady`. */
  readonly millis: number
  readonly readyLatencies: ReadonlyArray<number>
  readonly writes: ReturnType<typeof Prometheus.writes>
  readonly reconcilesCreate: number
  readonly reconcileErrors: number
  readonly reconcileP50: number | undefined
  readonly reconcileP99: number | undefined
  /** From starting the process to `/readyz` (every cache listed). */
  readonly resyncReadyMillis: number
  /** From starting the process to its last resync reconcile (to the 250 ms the metrics are polled at). */
  readonly resyncMillis: number
  readonly resyncReconciles: number
  readonly resyncWrites: ReturnType<typeof Prometheus.writes>
  readonly memoryEmpty: Memory
  readonly memoryAfterCreate: Memory
  readonly memoryCached: Memory
  readonly driftDeleteMillis: ReadonlyArray<number>
  readonly driftEditMillis: ReadonlyArray<number>
  readonly driftWrites: number
  readonly cpu: Cpu.CpuUse
}

/** The flags of the operator under benchmark besides its ports and concurrency. */
const operatorArgs = withUsage ? [] : ["--enable-usage=false"]

/** The operator phase of one run. `operators` collects the processes started, for the caller to stop on failure. */
export const measureOperator = async (options: {
  readonly runtime: ManagedRuntime.ManagedRuntime<Client.Client, unknown>
  readonly kubeconfig: string
  readonly work: string
  readonly clusterPids: Readonly<Record<string, number>>
  readonly operators: Array<OperatorProcess>
  /** The operator's entry point (the production bundle). */
  readonly script: string
}): Promise<OperatorRun> => {
  const { runtime, kubeconfig, work, operators } = options
  const run = <A, E>(effect: Effect.Effect<A, E, Client.Client>): Promise<A> => runtime.runPromise(effect)
  const cgroups: Array<MemoryCgroup.MemoryCgroup> = []
  const start = (n: number) => {
    const cgroup =
      memoryLimitMiB === undefined
        ? undefined
        : MemoryCgroup.create(`kleff-bench-${process.pid}-${n}`, memoryLimitMiB * 2 ** 20)
    if (cgroup !== undefined) cgroups.push(cgroup)
    return startOperator({
      kubeconfig,
      concurrency,
      log: join(work, `operator-${n}.log`),
      extraArgs: operatorArgs,
      script: options.script,
      ...(cgroup === undefined ? {} : { cgroup })
    })
  }
  try {
    return await phase(options, run, start, cgroups)
  } finally {
    for (const operator of operators) await operator.stop(5000).catch(() => undefined)
    for (const cgroup of cgroups) cgroup.remove()
  }
}

/** What the kernel counted in a process's memory cgroup. */
export interface CgroupUse {
  readonly limitBytes: number
  readonly peakBytes: number
  readonly oomKills: number
}

const cgroupUse = (cgroup: MemoryCgroup.MemoryCgroup | undefined): CgroupUse | undefined =>
  cgroup === undefined
    ? undefined
    : { limitBytes: cgroup.limitBytes, peakBytes: cgroup.peakBytes(), oomKills: cgroup.oomKills() }

const phase = async (
  options: Parameters<typeof measureOperator>[0],
  run: <A, E>(effect: Effect.Effect<A, E, Client.Client>) => Promise<A>,
  start: (n: number) => Promise<OperatorProcess>,
  cgroups: ReadonlyArray<MemoryCgroup.MemoryCgroup>
): Promise<OperatorRun> => {
  const { runtime, operators } = options
  const first = await start(1)
  operators.push(first)
  await first.ready()
  const memoryEmpty = await first.memory()
  progress(
    `operator 1 ready (pid ${first.pid}), RSS ${(memoryEmpty.rss / 2 ** 20).toFixed(0)} MiB with no tenant`
  )

  const readiness = new Readiness()
  const watch = runtime.runFork(
    Watcher.watcher(TenantType, { labelSelector: `${benchLabel}=${prefix}` }).pipe(
      Stream.runForEach((event) => Effect.sync(() => readiness.observe(event)))
    )
  )
  while (!readiness.listed) await sleep(20)

  progress(`operator: creating ${tenants} Tenants, ${inFlight} at a time`)
  const allReady = readiness.all(tenants)
  const pids = { ...options.clusterPids, operator: first.pid, bench: process.pid }
  const cpuBefore = Cpu.sample(pids)
  const startedAt = performance.now()
  const reporter = setInterval(
    () =>
      progress(
        `operator: ${readiness.readyAt.size}/${tenants} ready after ${((performance.now() - startedAt) / 1000).toFixed(0)} s`
      ),
    10_000
  )
  await run(
    Effect.forEach(
      range(tenants),
      (index) =>
        Effect.gen(function* () {
          const client = yield* Client.Client
          const created = yield* client.create(TenantType, tenantObject(prefix, index))
          readiness.createdAt.set(created.metadata.name, performance.now())
        }),
      { concurrency: inFlight, discard: true }
    )
  )
  const createMillis = performance.now() - startedAt
  await allReady
  clearInterval(reporter)
  const millis = performance.now() - startedAt
  const cpu = Cpu.between(cpuBefore, Cpu.sample(pids))
  const readyLatencies = [...readiness.readyAt].map(
    ([name, at]) => at - (readiness.createdAt.get(name) ?? at)
  )
  await runtime.runPromise(Fiber.interrupt(watch))
  progress(`operator: all ${tenants} ready in ${(millis / 1000).toFixed(1)} s`)

  const settled = await quiescent(first)
  const writes = Prometheus.writes(settled.samples)
  const histogram = "controller_runtime_reconcile_time_seconds"
  const created = {
    writes,
    reconcilesCreate: Prometheus.reconciles(settled.samples),
    reconcileErrors: Prometheus.reconcileErrors(settled.samples),
    reconcileP50: Prometheus.quantile(settled.samples, histogram, 0.5),
    reconcileP99: Prometheus.quantile(settled.samples, histogram, 0.99)
  }
  const memoryAfterCreate = await first.memory()
  progress(`operator 1: ${writes.total} writes, stopping`)
  await first.stop()

  // Resync: a new process lists everything and reconciles every Tenant once; nothing changed.
  const resyncStart = performance.now()
  const second = await start(2)
  operators.push(second)
  await second.ready()
  const resyncReadyMillis = performance.now() - resyncStart
  const resynced = await quiescent(second, tenants)
  const resyncReconciles = Prometheus.reconciles(resynced.samples)
  const resyncWrites = Prometheus.writes(resynced.samples)
  const memoryCached = await second.memory()
  progress(
    `resync: ${resyncReconciles} reconciles, ${resyncWrites.total} writes, RSS ${(memoryCached.rss / 2 ** 20).toFixed(0)} MiB`
  )

  // Drift: delete a NetworkPolicy, edit a ResourceQuota; time until the operator repaired it.
  const step = Math.max(1, Math.floor(tenants / driftSamples))
  const driftDeleteMillis: Array<number> = []
  const driftEditMillis: Array<number> = []
  for (const target of range(driftSamples).map((i) => `${prefix}-${i * step}`)) {
    driftDeleteMillis.push(await run(driftRepair("delete", target)))
    driftEditMillis.push(await run(driftRepair("edit", target)))
  }
  const afterDrift = await quiescent(second)
  await second.stop()
  return {
    cgroupCreate: cgroupUse(cgroups[0]),
    cgroupRestart: cgroupUse(cgroups[1]),
    createMillis,
    millis,
    readyLatencies,
    ...created,
    resyncReadyMillis,
    resyncMillis: resynced.lastChange - resyncStart,
    resyncReconciles,
    resyncWrites,
    memoryEmpty,
    memoryAfterCreate,
    memoryCached,
    driftDeleteMillis,
    driftEditMillis,
    driftWrites: Prometheus.writes(afterDrift.samples).total - resyncWrites.total,
    cpu
  }
}
