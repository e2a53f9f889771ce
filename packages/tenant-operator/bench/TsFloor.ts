/**
 * The TypeScript floor, a second line beside the Go floor: a bare `@kleff/k8s` client in this
 * process makes, for N tenants, the writes a perfect operator would make — the Tenant (as a user
 * creates it), the finalizer, the children in the operator's order, the final status — through
 * the operator's own `Reconcile` protocol and `Interpreter` (so each write is the operator's very
 * request), with no watch, cache, queue or retry, in the operator phase's shape: Tenants created
 * `inFlight` at a time while `concurrency` workers provision them in creation order, one tenant's
 * writes in order. A warm-up batch first; optionally once more with the operator's watches open;
 * then its Tenants and namespaces are removed and waited for. Owns the TypeScript floor only.
 */
import { type Snapshot as CoreSnapshot, type KubeObject, keyOf, keyOfRef, Reconcile } from "@kleff/core"
import { Client, Interpreter, Snapshot, Store } from "@kleff/k8s"
import { Deferred, Effect } from "effect"
import { PrometheusMetrics } from "effect/observability"
import type { Plan } from "../src/api/Plan.ts"
import { TenantType } from "../src/api/Tenant.ts"
import { tenantOwnedTypes } from "../src/desired/Children.ts"
import { defaultConfig } from "../src/desired/Config.ts"
import { planRef } from "../src/TenantDecision.ts"
import { makeTenantReconciler } from "../src/TenantReconciler.ts"
import { isTenantReady, type Run, range, tenantObject } from "./BenchTenants.ts"
import * as Cpu from "./Cpu.ts"
import type { FloorRun } from "./GoFloor.ts"
import * as Prometheus from "./Prometheus.ts"
import { concurrency, inFlight, progress, tenants, withWatchedFloor } from "./Settings.ts"

/**
 * What a perfect operator writes for one Tenant once it exists: one reconcile through the
 * operator's own protocol, less its Event. Returns the number of writes.
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
        }),
      // A first provision deletes nothing.
      deleteThrough: () => Effect.void
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

/** Tenants `<prefix>-<i>` created and provisioned in the operator phase's shape. Returns the writes, creates not included. */
const floor = Effect.fnUntraced(function* (plans: ReadonlyArray<Plan>, prefix: string, count: number) {
  const client = yield* Client.Client
  const provision = provisionTenant(plans)
  const created = yield* Effect.forEach(range(count), () => Deferred.make<KubeObject>())
  const creates = Effect.forEach(
    range(count),
    (index) =>
      client
        .create(TenantType, tenantObject(prefix, index))
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
  return perWorker.reduce((a, b) => a + b, 0)
})

export interface TsFloorRun extends FloorRun {
  /** This process's `rest_client_requests_total` over the timed run: writes by HTTP method, creates included. */
  readonly byMethod: Readonly<Record<string, number>>
  /** The same floor with the operator's watches open (opt-in). */
  readonly watched: { readonly millis: number; readonly cpu: Cpu.CpuUse } | undefined
}

/** The TypeScript floor of one run: warm-up, the timed run (and the watched one). */
export const measureTsFloor = async (
  run: Run,
  plans: ReadonlyArray<Plan>,
  clusterPids: Readonly<Record<string, number>>
): Promise<TsFloorRun> => {
  progress(
    `TS floor: ${tenants} tenants by a bare client, ${inFlight} creates in flight, ${concurrency} workers`
  )
  // Warm the API server's paths (CRD validation, admission, quota) before timing anything.
  const warmUp = Math.min(inFlight, tenants)
  await run(floor(plans, "tswarm", warmUp))
  const pids = { ...clusterPids, client: process.pid }
  const requests = async () =>
    Prometheus.writes(Prometheus.parse(await run(PrometheusMetrics.format()))).byMethod
  const requestsBefore = await requests()
  const before = Cpu.sample(pids)
  const start = performance.now()
  const writes = await run(floor(plans, "ts", tenants))
  const millis = performance.now() - start
  const cpu = Cpu.between(before, Cpu.sample(pids))
  const requestsAfter = await requests()
  const byMethod = Object.fromEntries(
    Object.entries(requestsAfter).map(([method, count]) => [method, count - (requestsBefore[method] ?? 0)])
  )
  progress(`TS floor: ${(millis / 1000).toFixed(1)} s, ${writes} writes besides the creates`)

  let watched: TsFloorRun["watched"]
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
    progress(
      `TS floor with the operator's ${types.length} watches open: ${(watched.millis / 1000).toFixed(1)} s`
    )
  }

  return { millis, writes, byMethod, cpu, watched }
}
