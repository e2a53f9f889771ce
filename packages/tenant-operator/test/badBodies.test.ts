/**
 * The bad bodies of the end-to-end fuzz (`e2e/badBodies.ts`) against the operator's pure code:
 * every generated Tenant decodes exactly when its expected reason says so, no generated Plan
 * decodes, and the reconciler, run on core's Simulator, gives each Tenant that reason and
 * creates nothing. The end-to-end fuzz then holds the operator process to the same answers.
 */
import { assert, describe, it } from "@effect/vitest"
import { decodeObject, Simulator } from "@kleff/core"
import { Result } from "effect"
import { PlanType } from "../src/api/Plan.ts"
import { TenantType } from "../src/api/Tenant.ts"
import { defaultConfig } from "../src/desired/Config.ts"
import { namespaceFinalizer } from "../src/TenantReconciler.ts"
import { batch, materialize } from "./e2e/badBodies.ts"
import { samplePlan } from "./fixtures.ts"
import { clusterWith, conditionsIn, reconcile, tenantIn } from "./simulation.ts"

const controlPlan = { ...samplePlan("basic"), metadata: { name: "control" } }

describe("the fuzz's bad Tenants and Plans", () => {
  it.prop(
    "are as bad as they say: each Tenant gets its expected reason on every report, and nothing is created",
    { cases: batch },
    ({ cases }) => {
      const { plans, tenants } = materialize(cases, { run: "0000", batch: 0, controlPlan: "control" })
      for (const plan of plans)
        assert.isTrue(Result.isFailure(decodeObject(PlanType, plan)), plan.metadata.name)
      const start = clusterWith([controlPlan, ...plans, ...tenants.map(({ object }) => object)])
      for (const { object, expected, why } of tenants) {
        const name = object.metadata.name
        const decodes = Result.isSuccess(decodeObject(TenantType, object))
        assert.strictEqual(decodes, expected !== "InvalidSpec", `${name}: ${why}`)
        const cluster = reconcile(start, defaultConfig, name).cluster
        const conditions = conditionsIn(cluster, name)
        assert.lengthOf(conditions, 6, why)
        assert.strictEqual(
          conditions.find((condition) => condition.type === "TenantReady")?.reason,
          expected,
          why
        )
        if (expected === "InvalidSpec") {
          assert.isTrue(
            conditions.every((condition) => condition.reason === "InvalidSpec"),
            why
          )
        }
        assert.strictEqual(
          tenantIn(cluster, name)?.metadata.finalizers?.includes(namespaceFinalizer) === true,
          decodes,
          `a finalizer only on a Tenant that decodes: ${why}`
        )
        assert.isFalse(
          Simulator.objects(cluster).some((stored) => stored.kind === "Namespace"),
          `nothing is created: ${why}`
        )
      }
    },
    { timeout: 120_000, arbitrary: { runs: 200 } }
  )
})
