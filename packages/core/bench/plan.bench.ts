/**
 * How long `plan` takes per primary as its number of children grows: 10, 100 and 1,000 children,
 * (i) converged (the resync hot path: every child present and matching, status current, so the
 * plan is empty; the objects read back from JSON, as the operator's caches hold them) and (ii) from
 * scratch (nothing exists yet: every child is created).
 *
 * Run from packages/core: `node bench/plan.bench.ts` (or `pnpm run bench`). Reads the clock, so it
 * lives outside src/. Prints one table; the README records a run with the machine it ran on.
 *
 * `BENCH_BASELINE=<another checkout>/packages/core/src/index.ts` also times that checkout's `plan`
 * on the same snapshots, in alternating rounds of one process, and prints the ratio: on a machine
 * whose speed drifts by 2× from run to run, the ratio in one run is the figure to compare.
 */
import {
  type KubeObject,
  ownedBy,
  plan,
  type Reconciler,
  type ResourceType,
  refOf,
  Simulator,
  type Snapshot
} from "../src/index.ts"
import { parsedSnapshot } from "./ParsedSnapshot.ts"
import { alternating, table } from "./Rounds.ts"

interface Owner extends KubeObject {
  readonly spec: { readonly children: number }
}

const ownerType: ResourceType<Owner> = {
  group: "bench.kleff.io",
  version: "v1",
  kind: "Owner",
  plural: "owners",
  namespaced: false
}
const types: ReadonlyArray<ResourceType> = [
  { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false },
  { group: "", version: "v1", kind: "ResourceQuota", plural: "resourcequotas", namespaced: true },
  { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true }
]

/** A Namespace, a ResourceQuota (non-canonical quantities, compared by value) and ConfigMaps: `children` in all. */
const reconciler: Reconciler<Owner, Owner> = {
  name: "bench",
  primary: ownerType,
  owned: types,
  finalizer: "bench.kleff.io/cleanup",
  decide: (observed) => observed.primary,
  desired: (owner) => {
    const namespace = `o-${owner.metadata.name}`
    const objects: Array<KubeObject> = [
      ownedBy(
        owner,
        {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: namespace, labels: { owner: owner.metadata.name } }
        },
        "bench"
      ),
      ownedBy(
        owner,
        {
          apiVersion: "v1",
          kind: "ResourceQuota",
          metadata: { name: "quota", namespace },
          spec: {
            hard: { "requests.cpu": "1000m", "requests.memory": "1024Mi", "limits.cpu": "2", pods: "20" }
          }
        },
        "bench"
      )
    ]
    for (let i = 0; i < owner.spec.children - 2; i++) {
      objects.push(
        ownedBy(
          owner,
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: `config-${i}`, namespace },
            data: { index: String(i), owner: owner.metadata.name }
          },
          "bench"
        )
      )
    }
    return { objects }
  },
  status: (_owner, outcome) => ({
    fields: { phase: outcome.conflicts.length === 0 ? "Ready" : "Conflict" },
    conditions: [
      {
        type: "Ready",
        status: outcome.conflicts.length === 0 ? "True" : "False",
        reason: "Reconciled",
        message: ""
      }
    ]
  })
}

const now = "2024-06-01T12:00:00Z"

const owner = (children: number): Owner => ({
  apiVersion: "bench.kleff.io/v1",
  kind: "Owner",
  metadata: { name: "acme", uid: "uid-owner", generation: 1 },
  spec: { children }
})

/** What the bench uses of a planner's package: this checkout's, or the baseline's. */
interface Core {
  readonly plan: typeof plan
  readonly Simulator: Pick<typeof Simulator, "converge" | "insert" | "emptyCluster" | "observe" | "objects">
}

/**
 * A converged snapshot, made by `core`'s Simulator (and so by its planner, which converging runs):
 * with a baseline, each planner builds its snapshots the same way, so neither meets the timed
 * plans with type feedback the other was spared.
 */
const convergedSnapshotBy =
  (core: Core) =>
  (children: number): Snapshot => {
    const primary = owner(children)
    const result = core.Simulator.converge(
      core.Simulator.insert(core.Simulator.emptyCluster, primary),
      refOf(primary),
      reconciler,
      { now }
    )
    const observed = core.Simulator.observe(result.cluster, refOf(primary), reconciler)
    if (!result.converged || observed === undefined) throw new Error("the bench state does not converge")
    const parsed = parsedSnapshot(observed, core.Simulator.objects(result.cluster))
    if (core.plan(reconciler, parsed, now).actions.length !== 0)
      throw new Error("the converged state plans actions")
    return parsed
  }

const scratchSnapshot = (children: number): Snapshot => ({
  primary: owner(children),
  owned: [],
  get: () => undefined
})

type Planner = (observed: Snapshot) => unknown

const planner: Planner = (observed) => plan(reconciler, observed, now)

/** The baseline's package, when `BENCH_BASELINE` names one. */
const baselineCore: Core | undefined = await (async () => {
  const path = process.env.BENCH_BASELINE
  if (path === undefined || path === "") return undefined
  return (await import(path)) as Core
})()
const baseline: Planner | undefined =
  baselineCore === undefined ? undefined : (observed) => baselineCore.plan(reconciler, observed, now)

const convergedSnapshot = (children: number): Snapshot => {
  if (baselineCore !== undefined) convergedSnapshotBy(baselineCore)(children)
  return convergedSnapshotBy({ plan, Simulator })(children)
}

const sizes = [10, 100, 1000]
const planners = baseline === undefined ? [planner] : [baseline, planner]
const rows: Array<Array<string>> = []
for (const [label, snapshot] of [
  ["converged", convergedSnapshot],
  ["from scratch", scratchSnapshot]
] as const) {
  let base = Number.NaN
  for (const children of sizes) {
    const observed = snapshot(children)
    const { perCall: times, ratio } = alternating(planners.map((run) => () => run(observed)))
    const perPlan = times[times.length - 1] ?? Number.NaN
    if (children === sizes[0]) base = perPlan
    rows.push([
      label,
      String(children),
      perPlan.toFixed(1),
      (perPlan / children).toFixed(2),
      `${(perPlan / base).toFixed(1)}× (${children / (sizes[0] ?? 1)}× children)`,
      ...(baseline === undefined ? [] : [((times[0] ?? Number.NaN) / children).toFixed(2), ratio.toFixed(2)])
    ])
  }
}

const header = [
  "state",
  "children",
  "µs per plan",
  "µs per child",
  "vs 10 children",
  ...(baseline === undefined ? [] : ["baseline µs per child", "ratio to baseline"])
]
console.log(table(header, rows))

const converged10Snapshot = convergedSnapshot(10)
const converged10 = alternating([() => planner(converged10Snapshot)]).perCall[0] ?? Number.NaN
const memory = process.memoryUsage()
console.log(
  `\nA converged resync of 10,000 primaries with 10 children each: ~${((converged10 * 10_000) / 1000).toFixed(0)} ms of planning.`
)
console.log(
  `Node ${process.version}; heap used ${(memory.heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(memory.rss / 2 ** 20).toFixed(0)} MiB.`
)
