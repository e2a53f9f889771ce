/**
 * How long the tenant controller plans one converged Tenant: the work of every resync and of
 * every reconcile that finds nothing to write (decide, desired children, the planner's diff of
 * each child, the status and its comparison). Core's `bench/plan.bench.ts` times the planner on
 * ConfigMaps; this times it on a real tenant's ten children (NetworkPolicies with nested lists,
 * a ResourceQuota and a LimitRange with quantities, a RoleBinding, admission policy bindings).
 *
 * The tenant converges in core's Simulator, with the sample Tenant and Plans of `deploy/samples`
 * and the default configuration; its objects are then read back from JSON and ingested by a
 * `Store.Cache`, as the operator's caches hold them (managed fields cut to the controller's entry,
 * their parts interned and frozen). `BENCH_LAYOUT=parsed` leaves them as parsed
 * (`@kleff/core/bench/ParsedSnapshot`).
 *
 * Run: `node packages/tenant-operator/bench/plan.bench.ts` (from any directory). Reads the clock,
 * so it lives outside src/. `test/deoptimisation.test.ts` runs it under `--trace-deopt-verbose`.
 *
 * `BENCH_BASELINE=<another checkout's root>` (with its dependencies installed) also times that
 * checkout's tenant controller and planner on the same objects, in alternating rounds of one
 * process, and prints the ratio.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type * as CoreModule from "@kleff/core"
import { type KubeObject, keyOf, plan, refOf, Simulator, type Snapshot } from "@kleff/core"
import { parsedSnapshot } from "@kleff/core/bench/ParsedSnapshot"
import { alternating, table } from "@kleff/core/bench/Rounds"
import { Store } from "@kleff/k8s"
import { parse } from "yaml"
import type * as CrdsModule from "../src/api/crds.ts"
import { tenantCrd } from "../src/api/crds.ts"
import type * as ConfigModule from "../src/desired/Config.ts"
import { defaultConfig } from "../src/desired/Config.ts"
import type * as ReconcilerModule from "../src/TenantReconciler.ts"
import { makeTenantReconciler } from "../src/TenantReconciler.ts"

const now = "2025-01-01T00:00:00Z"

const sample = (name: string): KubeObject =>
  parse(readFileSync(fileURLToPath(new URL(`../../../deploy/samples/${name}`, import.meta.url)), "utf8"))

const tenant = sample("tenant.yaml")
const plans = [sample("plan-basic.yaml"), sample("plan-pro.yaml"), sample("plan-free.yaml")]

/** What the bench uses of one checkout. */
interface Checkout {
  readonly core: Pick<typeof CoreModule, "plan" | "refOf" | "Simulator">
  readonly makeTenantReconciler: typeof ReconcilerModule.makeTenantReconciler
  readonly tenantCrd: typeof CrdsModule.tenantCrd
  readonly defaultConfig: typeof ConfigModule.defaultConfig
}

/**
 * How the snapshot's objects are laid out: `cached` (the default), as the operator's caches hold
 * them; `parsed`, as read from JSON and nothing more (how any other consumer of core would hold
 * them).
 */
const layout = process.env.BENCH_LAYOUT === "parsed" ? "parsed" : "cached"

const here: Checkout = {
  core: { plan, refOf, Simulator },
  makeTenantReconciler,
  tenantCrd,
  defaultConfig
}

const baseline: Checkout | undefined = await (async () => {
  const root = process.env.BENCH_BASELINE
  if (root === undefined || root === "") return undefined
  const from = (path: string) => import(`${root}/${path}`)
  const reconciler = (await from(
    "packages/tenant-operator/src/TenantReconciler.ts"
  )) as typeof ReconcilerModule
  return {
    core: (await from("packages/core/src/index.ts")) as typeof CoreModule,
    makeTenantReconciler: reconciler.makeTenantReconciler,
    tenantCrd: ((await from("packages/tenant-operator/src/api/crds.ts")) as typeof CrdsModule).tenantCrd,
    defaultConfig: ((await from("packages/tenant-operator/src/desired/Config.ts")) as typeof ConfigModule)
      .defaultConfig
  }
})()

/**
 * The snapshot as the operator's caches hold it: every object parsed from its JSON and ingested
 * by a `Store.Cache` that keeps the controller's own managed-fields entry, its parts interned and
 * frozen.
 */
const cachedSnapshot = (observed: Snapshot, cluster: Iterable<KubeObject>, manager: string): Snapshot => {
  const cache = new Store.Cache({ managers: new Set([manager]) })
  return parsedSnapshot(observed, cluster, (object) => {
    cache.apply({ _tag: "Applied", object })
    return cache.get(keyOf(object)) ?? object
  })
}

/**
 * The converged tenant's snapshot, built with `checkout`'s Simulator and planner (so neither
 * planner meets the timed plans with type feedback the other was spared), and a plan of it.
 */
const convergedBy = (checkout: Checkout): { readonly snapshot: Snapshot; readonly run: () => unknown } => {
  const { core } = checkout
  const reconciler = checkout.makeTenantReconciler(checkout.defaultConfig)
  const start = core.Simulator.insertAll(
    core.Simulator.emptyCluster,
    [checkout.tenantCrd(), ...plans, tenant],
    now
  )
  const result = core.Simulator.converge(start, core.refOf(tenant), reconciler, { now, maxRounds: 8 })
  const observed = core.Simulator.observe(result.cluster, core.refOf(tenant), reconciler)
  if (!result.converged || observed === undefined) throw new Error("the sample tenant does not converge")
  const objects = core.Simulator.objects(result.cluster)
  const snapshot =
    layout === "parsed"
      ? parsedSnapshot(observed, objects)
      : cachedSnapshot(observed, objects, reconciler.name)
  const actions = core.plan(reconciler, snapshot, now).actions
  if (actions.length !== 0)
    throw new Error(`the converged tenant plans ${actions.map((action) => action._tag).join(", ")}`)
  return { snapshot, run: () => core.plan(reconciler, snapshot, now) }
}

const checkouts = baseline === undefined ? [here] : [baseline, here]
const runs = checkouts.map(convergedBy)
const children = runs[runs.length - 1]?.snapshot.owned.length ?? 0
const rounds = [1, 2, 3].map(() =>
  alternating(
    runs.map((run) => run.run),
    300
  )
)

const rows = rounds.map((measured, i) => {
  const perPlan = measured.perCall[measured.perCall.length - 1] ?? Number.NaN
  return [
    String(i + 1),
    perPlan.toFixed(1),
    (perPlan / children).toFixed(2),
    ...(baseline === undefined
      ? []
      : [(measured.perCall[0] ?? Number.NaN).toFixed(1), measured.ratio.toFixed(2)])
  ]
})
console.log(
  `A converged Tenant with ${children} children, the default configuration, objects laid out as ${layout === "cached" ? "the operator's caches hold them" : "parsed from JSON"}:\n`
)
console.log(
  table(
    [
      "run",
      "µs per plan",
      "µs per child",
      ...(baseline === undefined ? [] : ["baseline µs per plan", "ratio to baseline"])
    ],
    rows
  )
)
const memory = process.memoryUsage()
console.log(
  `\nNode ${process.version}; heap used ${(memory.heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(memory.rss / 2 ** 20).toFixed(0)} MiB.`
)
