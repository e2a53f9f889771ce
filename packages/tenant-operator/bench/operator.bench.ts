/**
 * The operator benchmark: speed and memory measured as a ratio in one run, never asserted in a
 * timed test. On a local control plane of its own, in one run:
 *
 * 1. Write floor: a bare `@kleff/k8s` client makes, for N tenants, the writes a perfect operator
 *    would make — the Tenant (as a user creates it), the finalizer, the tenant's children in the
 *    operator's order (rendered by the operator's own pure code), the final status — with the
 *    operator phase's shape: Tenants created as fast as there, C workers each provisioning one
 *    tenant at a time, one tenant's writes in order. Then it cleans up and waits until the
 *    namespace controller is done, so the operator phase starts on a quiet, empty cluster.
 * 2. Operator: `tenant-operator run` as a child process; N Tenants created at once; time until
 *    every one is `TenantReady=True` (watched with our Watcher), its API writes per tenant (its
 *    `rest_client_requests_total`), reconcile latency (its histogram); then a restart over the
 *    converged cluster (every Tenant reconciled again) and the writes that resync makes (target
 *    0); resident memory with the N tenants cached; time to repair drift (a NetworkPolicy
 *    deleted, a ResourceQuota edited).
 * 3. A Markdown table of the figures, the ratio operator/floor first: the machine is shared and
 *    absolute times drift, the ratio much less.
 *
 *   npm run bench                                  (every package's benchmark)
 *   BENCH_TENANTS=200 node packages/tenant-operator/bench/operator.bench.ts
 *
 * Settings (environment or flag): BENCH_TENANTS / --tenants (1000), BENCH_CONCURRENCY /
 * --concurrency (16: the operator's --max-concurrent-reconciles and the floor's workers),
 * BENCH_IN_FLIGHT / --in-flight (32: Tenant creates in flight, in both phases), BENCH_FLOOR=0 /
 * --no-floor (skip phase 1: a memory run at large N), BENCH_FLOOR_WATCHED=1 / --floor-watched
 * (the floor once more with the operator's watches open).
 *
 * Memory is read inside the operator (`MemoryProbe.ts`, on SIGUSR2) after a last-resort GC: RSS
 * read from outside right after a peak includes pages V8 keeps pooled and returns minutes later.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { type Snapshot as CoreSnapshot, type KubeObject, keyOf, keyOfRef, Reconcile } from "@kleff/core"
import { Client, type Errors, Interpreter, Snapshot, Store, Watcher } from "@kleff/k8s"
import { Deferred, Effect, Fiber, ManagedRuntime, References, Result, Stream } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { decodePlan, type Plan, PlanType } from "../src/api/Plan.ts"
import { TenantType } from "../src/api/Tenant.ts"
import { tenantOwnedTypes } from "../src/desired/Children.ts"
import { defaultConfig } from "../src/desired/Config.ts"
import { defaultDenyPolicyName } from "../src/desired/Isolation.ts"
import { resourceQuotaName } from "../src/desired/Quota.ts"
import { NamespaceType, NetworkPolicyType, ResourceQuotaType } from "../src/desired/ResourceTypes.ts"
import { install } from "../src/Install.ts"
import { clientLayer } from "../src/Operator.ts"
import { planRef } from "../src/TenantDecision.ts"
import { makeTenantReconciler, namespaceFinalizer } from "../src/TenantReconciler.ts"
import * as Cpu from "./Cpu.ts"
import { type Memory, type OperatorProcess, sleep, startOperator } from "./OperatorProcess.ts"
import * as Prometheus from "./Prometheus.ts"

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

// ---------------------------------------------------------------------------------------------
// settings

const setting = (flag: string, env: string, fallback: number): number => {
  const raw = process.argv.find((a) => a.startsWith(`--${flag}=`))?.slice(flag.length + 3) ?? process.env[env]
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${env} / --${flag}: a positive integer, not "${raw}"`)
  return value
}

const tenants = setting("tenants", "BENCH_TENANTS", 1000)
const concurrency = setting("concurrency", "BENCH_CONCURRENCY", 16)
const inFlight = setting("in-flight", "BENCH_IN_FLIGHT", 32)
/** `BENCH_FLOOR=0` / `--no-floor`: skip the floor (for a memory run at large N). */
const withFloor = process.env.BENCH_FLOOR !== "0" && !process.argv.includes("--no-floor")
/**
 * `BENCH_FLOOR_WATCHED=1` / `--floor-watched`: run the floor a second time with the operator's
 * watches open (a cache per kind it watches, in this process), to tell the API server's cost of
 * serving those watches from the cost of the controller itself.
 */
const withWatchedFloor = process.env.BENCH_FLOOR_WATCHED === "1" || process.argv.includes("--floor-watched")
const driftSamples = Math.min(5, tenants)

const benchLabel = "bench.kleff.io/phase"
const planNames = ["free", "basic", "pro"] as const

const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`)
const seconds = (millis: number) => (millis / 1000).toFixed(1)
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0)
const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN
}
const percentile = (values: ReadonlyArray<number>, q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
}

const tenantObject = (name: string, index: number, phase: string): KubeObject => ({
  apiVersion: TenantType.group === "" ? TenantType.version : `${TenantType.group}/${TenantType.version}`,
  kind: TenantType.kind,
  metadata: { name, labels: { [benchLabel]: phase } },
  spec: {
    plan: planNames[index % planNames.length],
    userId: `user-${phase}-${index}`,
    username: `user-${index}`
  }
})

const isTenantReady = (object: KubeObject): boolean => {
  const conditions = (
    object.status as { conditions?: ReadonlyArray<{ type: string; status: string }> } | undefined
  )?.conditions
  return conditions?.some((c) => c.type === "TenantReady" && c.status === "True") ?? false
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

// ---------------------------------------------------------------------------------------------
// phase 1: the write floor

/**
 * What a perfect operator writes for one Tenant once it exists, made without any controller
 * machinery (no watch, cache, queue or retry): one reconcile through the operator's own protocol
 * (`Reconcile`: the finalizer and each child in creation order, then the status from a re-plan
 * over the writes' answers), less its Event. The writes go through the operator's `Interpreter`,
 * so each is the very HTTP request the operator makes. Returns the number of writes.
 */
const provisionTenant = (plans: ReadonlyArray<Plan>) => {
  const reconciler = makeTenantReconciler(defaultConfig)
  const types = Interpreter.typeRegistry([TenantType, ...tenantOwnedTypes(defaultConfig)])
  const planObjects = new Map<string, KubeObject>(plans.map((p) => [keyOfRef(planRef(p.metadata.name)), p]))
  const snapshot = (primary: KubeObject, children: ReadonlyArray<KubeObject>): CoreSnapshot => {
    const byKey = new Map(planObjects)
    for (const child of children) byKey.set(keyOf(child), child)
    return { primary, owned: children, get: (ref) => byKey.get(keyOfRef(ref)) }
  }
  return Effect.fnUntraced(function* (created: KubeObject) {
    let primary = created
    const children: Array<KubeObject> = []
    let writes = 0
    const context = (): Interpreter.InterpreterContext => ({
      controller: reconciler.name,
      instance: "kleff-operator-bench",
      types,
      primary,
      now: new Date().toISOString(),
      writeThrough: (object) =>
        Effect.sync(() => {
          if (object.kind === TenantType.kind) primary = object
          else children.push(object)
        })
    })
    yield* Reconcile.reconcile(reconciler, {
      now: new Date().toISOString(),
      snapshot: Effect.sync(() => snapshot(primary, children)),
      execute: (actions) => {
        const needed = actions.filter((action) => action._tag !== "Event" && action._tag !== "Requeue")
        writes += needed.length
        return Interpreter.execute(needed, context())
      }
    })
    if (!isTenantReady(primary)) return yield* Effect.die(new Error("floor: the final status is not ready"))
    return writes
  })
}

/**
 * The floor run, shaped like the operator phase: Tenants are created `inFlight` at a time (as
 * the benchmark creates them for the operator) while `concurrency` workers provision them in
 * creation order, each worker one tenant at a time. Tenants are named `<prefix>-<i>`. Returns the
 * number of writes.
 */
const floor = Effect.fnUntraced(function* (plans: ReadonlyArray<Plan>, prefix: string, count: number) {
  const client = yield* Client.Client
  const provision = provisionTenant(plans)
  const created = yield* Effect.forEach(range(count), () => Deferred.make<KubeObject>())
  const creates = Effect.forEach(
    range(count),
    (index) =>
      client
        .create(TenantType, tenantObject(`${prefix}-${index}`, index, "floor"))
        .pipe(
          Effect.flatMap((tenant) =>
            Deferred.succeed(created[index] as Deferred.Deferred<KubeObject>, tenant)
          )
        ),
    { concurrency: inFlight, discard: true }
  )
  let next = 0
  const worker = Effect.gen(function* () {
    let writes = 0
    for (let index = next++; index < count; index = next++) {
      writes += yield* provision(yield* Deferred.await(created[index] as Deferred.Deferred<KubeObject>))
    }
    return writes
  })
  const [, perWorker] = yield* Effect.all(
    [
      creates,
      Effect.all(
        range(concurrency).map(() => worker),
        { concurrency: "unbounded" }
      )
    ],
    { concurrency: "unbounded" }
  )
  return count + perWorker.reduce((a, b) => a + b, 0)
})

const ignoreNotFound = <A, R>(effect: Effect.Effect<A, Errors.KubeError, R>) =>
  effect.pipe(
    Effect.asVoid,
    Effect.catchTag("NotFound", () => Effect.void)
  )

/** Deletes the floor's namespaces and Tenants (finalizer removed first: no operator runs). */
const deleteFloor = Effect.fnUntraced(function* (names: ReadonlyArray<string>) {
  const client = yield* Client.Client
  yield* Effect.forEach(
    names,
    (name) =>
      Effect.gen(function* () {
        yield* ignoreNotFound(client.delete(NamespaceType, `tenant-${name}`))
        const tenant = yield* client.get(TenantType, name)
        yield* client.removeFinalizer(TenantType, tenant, namespaceFinalizer)
        yield* ignoreNotFound(client.delete(TenantType, name))
      }),
    { concurrency, discard: true }
  )
})

/** How many of the floor's namespaces still exist (terminating or not). */
const floorNamespacesLeft = (prefixes: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const client = yield* Client.Client
    const namespaces = yield* client.list(NamespaceType)
    return namespaces.items.filter((ns) =>
      prefixes.some((prefix) => ns.metadata.name.startsWith(`tenant-${prefix}-`))
    ).length
  })

// ---------------------------------------------------------------------------------------------
// phase 2: the operator

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

/** Deletes a managed child (or edits one), then polls every 10 ms until the operator has put it back. */
const driftRepair = (kind: "delete" | "edit", tenant: string) =>
  Effect.gen(function* () {
    const client = yield* Client.Client
    const namespace = `tenant-${tenant}`
    if (kind === "delete") {
      const before = yield* client.get(NetworkPolicyType, defaultDenyPolicyName, namespace)
      yield* client.delete(NetworkPolicyType, defaultDenyPolicyName, { namespace })
      const start = performance.now()
      for (;;) {
        const now = yield* client
          .get(NetworkPolicyType, defaultDenyPolicyName, namespace)
          .pipe(Effect.catchTag("NotFound", () => Effect.succeed(undefined)))
        if (now !== undefined && now.metadata.uid !== before.metadata.uid) return performance.now() - start
        yield* Effect.sleep("10 millis")
      }
    }
    const pods = (quota: KubeObject) =>
      (quota.spec as { hard?: Record<string, string> } | undefined)?.hard?.pods
    const before = yield* client.get(ResourceQuotaType, resourceQuotaName, namespace)
    yield* client.patch(
      ResourceQuotaType,
      resourceQuotaName,
      { type: "merge", body: { spec: { hard: { pods: "9999" } } } },
      { namespace, fieldManager: "kleff-bench-drift" }
    )
    const start = performance.now()
    for (;;) {
      const now = yield* client.get(ResourceQuotaType, resourceQuotaName, namespace)
      if (pods(now) === pods(before)) return performance.now() - start
      yield* Effect.sleep("10 millis")
    }
  })

/**
 * Phase 1, timed and cleaned up: the floor's Tenants and namespaces are deleted and waited for
 * (the namespace controller takes minutes), so neither the deletions' load nor terminating
 * objects (which the operator would cache) weigh on the operator phase.
 */
const measureFloor = async (
  run: <A, E>(effect: Effect.Effect<A, E, Client.Client>) => Promise<A>,
  plans: ReadonlyArray<Plan>,
  clusterPids: Readonly<Record<string, number>>
): Promise<Floor> => {
  progress(
    `floor: ${tenants} tenants by a bare client, ${inFlight} creates in flight, ${concurrency} workers`
  )
  // Warm the API server's paths (CRD validation, admission, quota) before timing anything.
  const warmUp = Math.min(inFlight, tenants)
  await run(floor(plans, "warm", warmUp))
  const pids = { ...clusterPids, bench: process.pid }
  const requests = async () =>
    Prometheus.writes(Prometheus.parse(await run(PrometheusMetrics.format()))).byMethod
  const requestsBefore = await requests()
  const before = Cpu.sample(pids)
  const start = performance.now()
  const writes = await run(floor(plans, "floor", tenants))
  const millis = performance.now() - start
  const cpu = Cpu.between(before, Cpu.sample(pids))
  const requestsAfter = await requests()
  const byMethod = Object.fromEntries(
    Object.entries(requestsAfter).map(([method, count]) => [method, count - (requestsBefore[method] ?? 0)])
  )
  progress(`floor: ${seconds(millis)} s, ${writes} writes`)

  let watched: Floor["watched"]
  if (withWatchedFloor) {
    const types = Snapshot.kindsOf(makeTenantReconciler(defaultConfig))
    watched = await run(
      Effect.scoped(
        Effect.gen(function* () {
          const stores = yield* Effect.forEach(types, (type) => Store.reflect(type))
          yield* Effect.forEach(stores, (store) => store.ready, { discard: true })
          const before = Cpu.sample(pids)
          const start = performance.now()
          yield* floor(plans, "watched", tenants)
          return { millis: performance.now() - start, cpu: Cpu.between(before, Cpu.sample(pids)) }
        })
      )
    )
    progress(`floor with the operator's ${types.length} watches open: ${seconds(watched.millis)} s`)
  }

  const prefixes = ["warm", "floor", ...(withWatchedFloor ? ["watched"] : [])]
  const cleanupStart = performance.now()
  await run(
    deleteFloor([
      ...range(warmUp).map((i) => `warm-${i}`),
      ...prefixes.slice(1).flatMap((prefix) => range(tenants).map((i) => `${prefix}-${i}`))
    ])
  )
  for (let polls = 0; ; polls++) {
    const left = await run(floorNamespacesLeft(prefixes))
    if (left === 0) break
    if (polls % 6 === 0) progress(`cleanup: ${left} floor namespaces still terminating`)
    await sleep(5000)
  }
  const cleanupMillis = performance.now() - cleanupStart
  progress(`cleanup: ${seconds(cleanupMillis)} s`)
  return { millis, writes, byMethod, cpu, cleanupMillis, watched }
}

// ---------------------------------------------------------------------------------------------
// the run

interface Floor {
  readonly millis: number
  readonly writes: number
  /** The benchmark's own `rest_client_requests_total` over the floor: writes by HTTP method. */
  readonly byMethod: Readonly<Record<string, number>>
  readonly cpu: Cpu.CpuUse
  readonly cleanupMillis: number
  /** The same floor with the operator's watches open (opt-in). */
  readonly watched: { readonly millis: number; readonly cpu: Cpu.CpuUse } | undefined
}

interface Results {
  floor: Floor | undefined
  createMillis: number
  operatorMillis: number
  readyLatencies: ReadonlyArray<number>
  operatorWrites: ReturnType<typeof Prometheus.writes>
  reconcilesCreate: number
  reconcileErrors: number
  reconcileP50: number | undefined
  reconcileP99: number | undefined
  /** From starting the process to `/readyz` (every cache listed). */
  resyncReadyMillis: number
  /** From starting the process to its last resync reconcile (to the 250 ms the metrics are polled at). */
  resyncMillis: number
  resyncReconciles: number
  resyncWrites: ReturnType<typeof Prometheus.writes>
  memoryEmpty: Memory
  memoryAfterCreate: Memory
  memoryCached: Memory
  driftDeleteMillis: ReadonlyArray<number>
  driftEditMillis: ReadonlyArray<number>
  driftWrites: number
  operatorCpu: Cpu.CpuUse
}

const machine = () => {
  const cpu = cpus()[0]?.model ?? "unknown CPU"
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}, node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`
}

const main = async (): Promise<void> => {
  const work = mkdtempSync(join(tmpdir(), "kleff-operator-bench-"))
  const clusterDir = join(work, "cluster")
  progress(
    `N=${tenants} tenants, concurrency ${concurrency}, ${inFlight} creates in flight; work dir ${work}`
  )
  progress(`machine: ${machine()}`)
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
    const run = <A, E>(effect: Effect.Effect<A, E, Client.Client>): Promise<A> => rt.runPromise(effect)
    await run(install({ samples: true }).pipe(Effect.provideService(References.MinimumLogLevel, "Warn")))
    const plans = await run(
      Effect.gen(function* () {
        const client = yield* Client.Client
        const list = yield* client.list(PlanType)
        return list.items.map((item) => Result.getOrThrow(decodePlan(item)))
      })
    )
    const results: Partial<Results> = {}

    // 1. The write floor.
    results.floor = withFloor ? await measureFloor(run, plans, clusterPids) : undefined

    // 2. The operator.
    const log = (n: number) => join(work, `operator-${n}.log`)
    const first = await startOperator({ kubeconfig, concurrency, log: log(1) })
    operators.push(first)
    await first.ready()
    results.memoryEmpty = await first.memory()
    progress(`operator 1 ready (pid ${first.pid}), RSS ${mib(results.memoryEmpty.rss)} MiB with no tenant`)

    const readiness = new Readiness()
    const watch = rt.runFork(
      Watcher.watcher(TenantType, { labelSelector: `${benchLabel}=operator` }).pipe(
        Stream.runForEach((event) => Effect.sync(() => readiness.observe(event)))
      )
    )
    while (!readiness.listed) await sleep(20)

    progress(`operator: creating ${tenants} Tenants, ${inFlight} at a time`)
    const allReady = readiness.all(tenants)
    const operatorPids = { ...clusterPids, operator: first.pid, bench: process.pid }
    const operatorCpu = Cpu.sample(operatorPids)
    const start = performance.now()
    const reporter = setInterval(
      () =>
        progress(
          `operator: ${readiness.readyAt.size}/${tenants} ready after ${seconds(performance.now() - start)} s`
        ),
      10_000
    )
    await run(
      Effect.forEach(
        range(tenants),
        (index) =>
          Effect.gen(function* () {
            const client = yield* Client.Client
            const created = yield* client.create(TenantType, tenantObject(`op-${index}`, index, "operator"))
            readiness.createdAt.set(created.metadata.name, performance.now())
          }),
        { concurrency: inFlight, discard: true }
      )
    )
    results.createMillis = performance.now() - start
    await allReady
    clearInterval(reporter)
    results.operatorMillis = performance.now() - start
    results.operatorCpu = Cpu.between(operatorCpu, Cpu.sample(operatorPids))
    results.readyLatencies = [...readiness.readyAt].map(
      ([name, at]) => at - (readiness.createdAt.get(name) ?? at)
    )
    await run(Fiber.interrupt(watch))
    progress(`operator: all ${tenants} ready in ${seconds(results.operatorMillis)} s`)

    const settled = await quiescent(first)
    results.operatorWrites = Prometheus.writes(settled.samples)
    results.reconcilesCreate = Prometheus.reconciles(settled.samples)
    results.reconcileErrors = Prometheus.reconcileErrors(settled.samples)
    results.reconcileP50 = Prometheus.quantile(
      settled.samples,
      "controller_runtime_reconcile_time_seconds",
      0.5
    )
    results.reconcileP99 = Prometheus.quantile(
      settled.samples,
      "controller_runtime_reconcile_time_seconds",
      0.99
    )
    results.memoryAfterCreate = await first.memory()
    progress(`operator 1: ${results.operatorWrites.total} writes, stopping`)
    await first.stop()

    // Resync: a new process lists everything and reconciles every Tenant once; nothing changed.
    const resyncStart = performance.now()
    const second = await startOperator({ kubeconfig, concurrency, log: log(2) })
    operators.push(second)
    await second.ready()
    results.resyncReadyMillis = performance.now() - resyncStart
    const resynced = await quiescent(second, tenants)
    results.resyncMillis = resynced.lastChange - resyncStart
    results.resyncReconciles = Prometheus.reconciles(resynced.samples)
    results.resyncWrites = Prometheus.writes(resynced.samples)
    results.memoryCached = await second.memory()
    progress(
      `resync: ${results.resyncReconciles} reconciles, ${results.resyncWrites.total} writes, RSS ${mib(results.memoryCached.rss)} MiB`
    )

    // Drift: delete a NetworkPolicy, edit a ResourceQuota; time until the operator repaired it.
    const step = Math.max(1, Math.floor(tenants / driftSamples))
    const targets = range(driftSamples).map((i) => `op-${i * step}`)
    const deletes: Array<number> = []
    const edits: Array<number> = []
    for (const target of targets) {
      deletes.push(await run(driftRepair("delete", target)))
      edits.push(await run(driftRepair("edit", target)))
    }
    results.driftDeleteMillis = deletes
    results.driftEditMillis = edits
    const afterDrift = await quiescent(second)
    results.driftWrites = Prometheus.writes(afterDrift.samples).total - results.resyncWrites.total
    await second.stop()

    report(results as Results)
    ok = true
  } finally {
    for (const operator of operators) await operator.stop(5000).catch(() => undefined)
    await runtime?.dispose().catch(() => undefined)
    await down(clusterDir).catch((error: unknown) => progress(`down failed: ${String(error)}`))
    if (ok) rmSync(work, { recursive: true, force: true })
    else progress(`operator logs kept in ${work}`)
  }
}

// ---------------------------------------------------------------------------------------------
// 3. the table

const report = (r: Results): void => {
  const operatorPerTenant = r.operatorWrites.total / tenants
  const f = r.floor
  const skipped = "– (skipped)"
  /** CPU seconds of the cluster's processes, the operator and the benchmark: not the machine's other load. */
  const ours = (use: Cpu.CpuUse) =>
    Object.entries(use.seconds)
      .filter(([name]) => name !== "other")
      .reduce((total, [, used]) => total + used, 0)
  const ms = (value: number) => value.toFixed(0)
  const perTenantKiB = (bytes: number) => (bytes / tenants / 1024).toFixed(1)
  const cpuRow = (use: Cpu.CpuUse) =>
    `${Object.entries(use.seconds)
      .map(([name, used]) => `${name} ${used.toFixed(1)}`)
      .join(", ")} (of ${(use.wallSeconds * cpus().length).toFixed(0)} available)`
  const rows: ReadonlyArray<readonly [string, string]> = [
    ["tenants (N)", String(tenants)],
    ["concurrency (workers; floor parallelism)", String(concurrency)],
    ["floor: seconds", f === undefined ? skipped : seconds(f.millis)],
    ["operator: seconds to all TenantReady", seconds(r.operatorMillis)],
    ["ratio operator / floor", f === undefined ? skipped : (r.operatorMillis / f.millis).toFixed(2)],
    [
      "ratio of CPU seconds (cluster + operator + benchmark), operator / floor",
      f === undefined ? skipped : (ours(r.operatorCpu) / ours(f.cpu)).toFixed(2)
    ],
    ["operator: tenants / s", (tenants / (r.operatorMillis / 1000)).toFixed(1)],
    ["floor: tenants / s", f === undefined ? skipped : (tenants / (f.millis / 1000)).toFixed(1)],
    // The floor's writes include creating the Tenant, which in the operator phase the user (this
    // benchmark) does: compare the operator with the floor's writes less that one.
    [
      "writes / tenant: floor (less the Tenant create)",
      f === undefined
        ? skipped
        : `${(f.writes / tenants - 1).toFixed(2)} (${Object.entries(f.byMethod)
            .map(([method, count]) => `${method} ${(count / tenants).toFixed(2)}`)
            .join(", ")}, with the create)`
    ],
    [
      "writes / tenant: operator",
      `${operatorPerTenant.toFixed(2)} (${Object.entries(r.operatorWrites.byMethod)
        .map(([method, count]) => `${method} ${(count / tenants).toFixed(2)}`)
        .join(", ")}; ${r.operatorWrites.failed} refused)`
    ],
    [
      "resync of the converged cluster: writes",
      `${r.resyncWrites.total} (${r.resyncReconciles} reconciles; ready ${seconds(r.resyncReadyMillis)} s, done ${seconds(r.resyncMillis)} s after the restart)`
    ],
    ["operator RSS MiB, N tenants cached (after the resync, after GC)", mib(r.memoryCached.rss)],
    [
      "operator RSS MiB: no tenant / after creating N / peak while creating / peak of the restart",
      `${mib(r.memoryEmpty.rss)} / ${mib(r.memoryAfterCreate.rss)} / ${mib(r.memoryAfterCreate.peak)} / ${mib(r.memoryCached.peak)}`
    ],
    [
      "operator memory MiB after GC, V8 heap used / reserved / external: no tenant; N cached",
      `${mib(r.memoryEmpty.heapUsed)} / ${mib(r.memoryEmpty.heapTotal)} / ${mib(r.memoryEmpty.external)}; ${mib(r.memoryCached.heapUsed)} / ${mib(r.memoryCached.heapTotal)} / ${mib(r.memoryCached.external)}`
    ],
    [
      "per tenant cached (10 objects): heap KiB / RSS KiB",
      `${perTenantKiB(r.memoryCached.heapUsed - r.memoryEmpty.heapUsed)} / ${perTenantKiB(r.memoryCached.rss - r.memoryEmpty.rss)}`
    ],
    [
      "drift repair ms, NetworkPolicy deleted (median; all)",
      `${ms(median(r.driftDeleteMillis))} (${r.driftDeleteMillis.map(ms).join(", ")})`
    ],
    [
      "drift repair ms, ResourceQuota edited (median; all)",
      `${ms(median(r.driftEditMillis))} (${r.driftEditMillis.map(ms).join(", ")})`
    ],
    [
      "writes / drift repair",
      (r.driftWrites / (r.driftDeleteMillis.length + r.driftEditMillis.length)).toFixed(1)
    ],
    [
      "create → TenantReady ms, p50 / p99 (per tenant)",
      `${ms(percentile(r.readyLatencies, 0.5))} / ${ms(percentile(r.readyLatencies, 0.99))}`
    ],
    [
      "reconcile ms, p50 / p99 (histogram, creation phase)",
      `${r.reconcileP50 === undefined ? "–" : ms(r.reconcileP50 * 1000)} / ${r.reconcileP99 === undefined ? "–" : ms(r.reconcileP99 * 1000)}`
    ],
    [
      "reconciles / tenant (creation phase); errors",
      `${(r.reconcilesCreate / tenants).toFixed(2)}; ${r.reconcileErrors}`
    ],
    ["CPU seconds in the floor phase", f === undefined ? skipped : cpuRow(f.cpu)],
    ...(f?.watched === undefined
      ? []
      : ([
          [
            "floor with the operator's watches open: seconds (ratio to the floor)",
            `${seconds(f.watched.millis)} (${(f.watched.millis / f.millis).toFixed(2)})`
          ],
          ["CPU seconds in the floor with the operator's watches open", cpuRow(f.watched.cpu)]
        ] as const)),
    ["CPU seconds in the operator phase", cpuRow(r.operatorCpu)],
    ["seconds to create the N Tenants (part of the operator time)", seconds(r.createMillis)],
    [
      "seconds for the floor's namespaces to be deleted (not timed)",
      f === undefined ? skipped : seconds(f.cleanupMillis)
    ]
  ]
  const width = Math.max(...rows.map(([name]) => name.length))
  const valueWidth = Math.max(...rows.map(([, value]) => value.length))
  console.log(`\nOperator benchmark — ${machine()}\n`)
  console.log(`| ${"figure".padEnd(width)} | ${"value".padEnd(valueWidth)} |`)
  console.log(`| ${"-".repeat(width)} | ${"-".repeat(valueWidth)} |`)
  for (const [name, value] of rows) console.log(`| ${name.padEnd(width)} | ${value.padEnd(valueWidth)} |`)
}

await main()
