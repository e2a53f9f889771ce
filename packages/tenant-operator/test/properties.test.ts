/**
 * Properties of the tenant reconciler on core's planner and Simulator, for random valid Tenants
 * and Plans generated from their own schemas (Effect's Arbitrary): it converges, a converged
 * tenant costs no write, deletion releases the finalizer only when nothing is left, and a foreign
 * namespace at the tenant's name is never written.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  type Action,
  controllerUidOf,
  isWrite,
  type KubeObject,
  keyOf,
  keyOfRef,
  managedByLabel,
  plan,
  Simulator
} from "@kleff/core"
import { Arbitrary, Result, Schema } from "effect"
import { Dns1123Label, isDns1123Label } from "../src/api/Names.ts"
import { decodePlan, type Plan, PlanName, PlanSpec } from "../src/api/Plan.ts"
import { Quantity } from "../src/api/Quantity.ts"
import { decodeTenant, type Tenant, TenantSpec } from "../src/api/Tenant.ts"
import { makeConfig, type TenantOperatorConfig } from "../src/desired/Config.ts"
import { renderNamespaceTemplate } from "../src/desired/Namespace.ts"
import { managedBy } from "../src/desired/Ownership.ts"
import { makeTenantReconciler } from "../src/TenantReconciler.ts"
import { foreignNamespace } from "./fixtures.ts"
import { clusterWith, deleteTenant, now, tenantRefOf } from "./simulation.ts"

/** Quota keys a plan really uses; the schema's own key generator rarely hits a valid resource name. */
const quotaResources = [
  "requests.cpu",
  "requests.memory",
  "limits.cpu",
  "limits.memory",
  "pods",
  "services",
  "persistentvolumeclaims",
  "requests.storage",
  "count/jobs.batch"
] as const
const Quota = Schema.Struct(
  Object.fromEntries(quotaResources.map((name) => [name, Schema.optionalKey(Quantity)]))
)

const templates = ["tenant-{name}", "{username}", "u-{userId}", "{name}-{username}"] as const

interface Scenario {
  readonly tenant: Tenant
  readonly plan: Plan
  readonly config: TenantOperatorConfig
}

const scenario: Arbitrary.Arbitrary<Scenario> = Arbitrary.all({
  name: Arbitrary.schema(Dns1123Label),
  spec: Arbitrary.schema(TenantSpec),
  planName: Arbitrary.schema(PlanName),
  planSpec: Arbitrary.schema(PlanSpec),
  quota: Arbitrary.schema(Quota),
  planResolves: Arbitrary.schema(Schema.Boolean),
  template: Arbitrary.schema(Schema.Literals(templates)),
  mesh: Arbitrary.schema(Schema.Boolean),
  gatekeeper: Arbitrary.schema(Schema.Boolean)
}).pipe(
  Arbitrary.map((values) => ({
    tenant: {
      apiVersion: "kleff.kleff.io/v1",
      kind: "Tenant",
      metadata: { name: values.name, uid: "uid-tenant", generation: 1 },
      // Most tenants name an existing plan; some name one that does not exist.
      spec: { ...values.spec, plan: values.planResolves ? values.planName : `${values.planName}-gone` }
    } satisfies Tenant,
    plan: {
      apiVersion: "kleff.kleff.io/v1",
      kind: "Plan",
      metadata: { name: values.planName },
      spec: { ...values.planSpec, quota: values.quota as Readonly<Record<string, string>> }
    } satisfies Plan,
    config: makeConfig({
      namespaceTemplate: values.template,
      mesh: { enabled: values.mesh },
      gatekeeper: { enabled: values.gatekeeper }
    })
  }))
)

const options = { timeout: 60_000, arbitrary: { runs: 150 } }

const converge = (cluster: Simulator.Cluster, { tenant, config }: Scenario) =>
  Simulator.converge(cluster, tenantRefOf(tenant.metadata.name), makeTenantReconciler(config), {
    now,
    maxRounds: 8
  })

const writes = (run: Simulator.Convergence): ReadonlyArray<Action> =>
  run.rounds.flatMap((round) => round.plan.actions.filter(isWrite))

const touches = (action: Action, key: string): boolean =>
  (action._tag === "Apply" && keyOf(action.object) === key) ||
  (action._tag === "Delete" && keyOfRef(action.ref) === key)

/** The namespace name the template gives, when it gives a valid one. */
const namespaceOf = ({ tenant, config }: Scenario): string | undefined => {
  const name = renderNamespaceTemplate(config.namespaceTemplate, tenant)
  return isDns1123Label(name) ? name : undefined
}

describe("tenant reconciler properties", () => {
  it.prop(
    "converges without a failed write, and a converged tenant plans no write",
    { s: scenario },
    ({ s }) => {
      const run = converge(clusterWith([s.plan, s.tenant]), s)
      assert.isTrue(run.converged)
      for (const round of run.rounds) assert.isUndefined(round.failure, JSON.stringify(round.failure?.error))
      const observed = Simulator.observe(
        run.cluster,
        tenantRefOf(s.tenant.metadata.name),
        makeTenantReconciler(s.config)
      )
      if (observed === undefined) return assert.fail("tenant gone")
      const resync = plan(makeTenantReconciler(s.config), observed, "2031-06-01T00:00:00Z")
      assert.deepStrictEqual(resync.actions.filter(isWrite), [])
    },
    options
  )

  it.prop(
    "writes only children it controls, each labelled as managed by the operator",
    { s: scenario },
    ({ s }) => {
      const run = converge(clusterWith([s.plan, s.tenant]), s)
      for (const action of writes(run)) {
        if (action._tag !== "Apply") continue
        const object: KubeObject = action.object
        assert.strictEqual(controllerUidOf(object), "uid-tenant")
        assert.strictEqual(object.metadata.labels?.[managedByLabel], managedBy)
      }
    },
    options
  )

  it.prop(
    "never writes a foreign namespace at the tenant's name, nor anything else for that tenant",
    { s: scenario },
    ({ s }) => {
      const name = namespaceOf(s)
      if (name === undefined) return
      const foreign = foreignNamespace(name)
      const start = clusterWith([s.plan, foreign, s.tenant])
      const before = Simulator.get(start, { apiVersion: "v1", kind: "Namespace", name })
      const run = converge(start, s)
      assert.isTrue(run.converged)
      const childWrites = writes(run).filter((action) => action._tag === "Apply" || action._tag === "Delete")
      assert.deepStrictEqual(childWrites, [])
      const removal = converge(deleteTenant(run.cluster, s.tenant.metadata.name), s)
      assert.isTrue(removal.converged)
      assert.isFalse([...writes(run), ...writes(removal)].some((action) => touches(action, keyOf(foreign))))
      assert.deepStrictEqual(
        Simulator.get(removal.cluster, { apiVersion: "v1", kind: "Namespace", name }),
        before
      )
      assert.isUndefined(Simulator.get(removal.cluster, tenantRefOf(s.tenant.metadata.name)))
    },
    options
  )

  it.prop(
    "deletion removes every child and releases the finalizer only once none remains",
    { s: scenario },
    ({ s }) => {
      const created = converge(clusterWith([s.plan, s.tenant]), s)
      const removal = converge(deleteTenant(created.cluster, s.tenant.metadata.name), s)
      assert.isTrue(removal.converged)
      assert.isUndefined(Simulator.get(removal.cluster, tenantRefOf(s.tenant.metadata.name)))
      assert.isFalse(
        Simulator.objects(removal.cluster).some((object) => controllerUidOf(object) === "uid-tenant")
      )
      for (const round of removal.rounds) {
        if (round.plan.actions.some((action) => action._tag === "RemoveFinalizer")) {
          assert.deepStrictEqual(round.plan.outcome.remaining, [])
        }
      }
    },
    options
  )

  it.prop(
    "every generated Tenant and Plan decodes (the arbitraries stay inside the schemas)",
    { s: scenario },
    ({ s }) => {
      assert.isTrue(Result.isSuccess(decodeTenant(s.tenant)))
      assert.isTrue(Result.isSuccess(decodePlan(s.plan)))
    },
    options
  )
})
