/**
 * The usage controller's decision, pure: from a Tenant and its namespace's ResourceQuota to what it
 * writes, and when. Through the planner (`plan`), so the tests see the actions the runtime would
 * execute: a status write or none, and when to look again. Then beside the tenant controller in
 * core's Simulator (server-side apply per field manager): each owns its own part of the status,
 * and neither writes again once the other has.
 */
import { assert, describe, it } from "@effect/vitest"
import { type KubeObject, ManagedFields, type Plan, plan, type Reconciler, Simulator } from "@kleff/core"
import type { StoredTenant, Tenant } from "../src/api/Tenant.ts"
import { makeConfig } from "../src/desired/Config.ts"
import { ownedByTenant } from "../src/desired/Ownership.ts"
import { makeTenantReconciler } from "../src/TenantReconciler.ts"
import {
  makeUsageReconciler,
  type UsageDecision,
  usageControllerName,
  waitBeforeWrite,
  worthWriting
} from "../src/UsageReconciler.ts"
import { samplePlan, sampleTenant, snapshot } from "./fixtures.ts"
import { clusterWith, objectIn, now as simulatedNow, tenantIn, tenantRefOf } from "./simulation.ts"

const periodMillis = 30_000
const usage = makeUsageReconciler(periodMillis)
const namespace = "tenant-example-tenant"
const written = "2025-01-01T00:00:00Z"
const plus = (seconds: number): string => new Date(Date.parse(written) + seconds * 1000).toISOString()

const hard = { "requests.cpu": "1", "requests.memory": "2Gi", pods: "20" }
const idle = { "requests.cpu": "0", "requests.memory": "0", pods: "0" }

/** The sample Tenant after the tenant controller reported its namespace, and `stored` as its status.usage. */
const tenantWith = (stored?: object, status: object = { namespace }): Tenant =>
  ({
    ...sampleTenant(),
    status: { ...status, observedGeneration: 1, ...(stored === undefined ? {} : { usage: stored }) }
  }) as Tenant

/** The tenant's quota, counted by the API server as `status`. */
const quota = (status?: object, owner: KubeObject = sampleTenant()): KubeObject =>
  ownedByTenant(owner, {
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: { name: "tenant-quota", namespace, uid: "uid-quota" },
    spec: { hard },
    ...(status === undefined ? {} : { status })
  })

const planAt = (at: string, tenant: Tenant, objects: ReadonlyArray<KubeObject>): Plan<UsageDecision> =>
  plan(usage, snapshot(tenant, objects), at)

/** The status.usage the plan writes; `undefined` when it writes no status. */
const writtenUsage = (planned: Plan<UsageDecision>): unknown => {
  const write = planned.actions.find((action) => action._tag === "ApplyStatus")
  return write?._tag === "ApplyStatus" ? (write.status.usage ?? "removed") : undefined
}

const requeue = (planned: Plan<UsageDecision>): number | undefined => {
  const action = planned.actions.find((each) => each._tag === "Requeue")
  return action?._tag === "Requeue" ? action.afterMillis : undefined
}

describe("the usage controller's decision", () => {
  it("writes the quota's counts with the time when none is stored, in the API server's form, and nothing else", () => {
    const used = { "requests.cpu": "250m", "requests.memory": "512Mi", pods: "3" }
    const planned = planAt(written, tenantWith(), [quota({ hard, used })])
    assert.strictEqual(planned.decision?._tag, "Write")
    assert.deepStrictEqual(writtenUsage(planned), { hard, used, updatedAt: written })
    assert.deepStrictEqual(
      planned.actions.map((action) => action._tag),
      ["ApplyStatus"]
    )
    assert.deepStrictEqual(planned.report, {
      fields: { usage: { hard, used, updatedAt: written } },
      conditions: []
    })
  })

  it("writes nothing while the namespace is not reported or holds no quota of the tenant's", () => {
    const cases: ReadonlyArray<
      readonly [Tenant, ReadonlyArray<KubeObject>, "NamespaceNotReported" | "QuotaNotFound"]
    > = [
      [tenantWith(undefined, {}), [quota({ hard, used: idle })], "NamespaceNotReported"],
      [tenantWith(), [], "QuotaNotFound"],
      [
        tenantWith(),
        [quota({ hard, used: idle }, sampleTenant({ uid: "uid-another-tenant" }))],
        "QuotaNotFound"
      ]
    ]
    for (const [tenant, objects, reason] of cases) {
      const planned = planAt(written, tenant, objects)
      assert.deepStrictEqual(planned.decision, { _tag: "None", reason })
      assert.deepStrictEqual(planned.actions, [], reason)
    }
  })

  it("keeps what is stored until the API server has counted the quota", () => {
    const stored = { hard, used: idle, updatedAt: written }
    for (const tenant of [tenantWith(), tenantWith(stored)]) {
      const planned = planAt(plus(600), tenant, [quota()])
      assert.strictEqual(planned.decision?._tag, "Keep")
      assert.deepStrictEqual(planned.actions, [])
    }
  })

  it("holds a change back until the period since the last write has passed, and asks to look again then", () => {
    const tenant = tenantWith({ hard, used: idle, updatedAt: written })
    const busy = [quota({ hard, used: { ...idle, pods: "5" } })]
    const soon = planAt(plus(10), tenant, busy)
    assert.deepStrictEqual(soon.decision, { _tag: "Hold", stored: tenant.status?.usage, afterMillis: 20_000 })
    assert.isUndefined(writtenUsage(soon))
    assert.strictEqual(requeue(soon), 20_000)

    const later = planAt(plus(30), tenant, busy)
    assert.deepStrictEqual(writtenUsage(later), {
      hard,
      used: { ...idle, pods: "5" },
      updatedAt: plus(30)
    })
    assert.isUndefined(requeue(later))
  })

  it("does not write a use that moved by less than 1 % of its limit, however late", () => {
    const tenant = tenantWith({ hard, used: idle, updatedAt: written })
    for (const used of [
      { ...idle, "requests.cpu": "9m" },
      { ...idle, "requests.memory": "20Mi" },
      { ...idle, "requests.cpu": "0.009" }
    ]) {
      const planned = planAt(plus(3600), tenant, [quota({ hard, used })])
      assert.strictEqual(planned.decision?._tag, "Keep", JSON.stringify(used))
      assert.deepStrictEqual(planned.actions, [])
    }
    // Small steps add up: each is compared with what was last written.
    const planned = planAt(plus(3600), tenant, [quota({ hard, used: { ...idle, "requests.cpu": "10m" } })])
    assert.strictEqual(planned.decision?._tag, "Write")
  })

  it("writes at once when the stored time is missing, unreadable or in the future", () => {
    const used = { ...idle, pods: "5" }
    for (const updatedAt of [undefined, "yesterday", plus(3600)]) {
      const stored = { hard, used: idle, ...(updatedAt === undefined ? {} : { updatedAt }) }
      const planned = planAt(plus(5), tenantWith(stored), [quota({ hard, used })])
      assert.strictEqual(planned.decision?._tag, "Write", String(updatedAt))
    }
  })

  it("removes the usage it wrote once the quota is gone", () => {
    const stored = { hard, used: idle, updatedAt: written }
    const tenant = tenantWith(stored)
    const owned: KubeObject = {
      ...tenant,
      metadata: {
        ...tenant.metadata,
        managedFields: [
          {
            manager: usageControllerName,
            operation: "Apply",
            subresource: "status",
            fieldsType: "FieldsV1",
            fieldsV1: { "f:status": { "f:usage": {}, "f:observedGeneration": {} } }
          }
        ]
      }
    }
    const planned = plan(usage, snapshot(owned, []), plus(1))
    assert.strictEqual(writtenUsage(planned), "removed")
  })
})

describe("what is worth a write", () => {
  const stored = { hard, used: idle }
  it("a limit that changes, a resource that comes or goes, a use of 1 % of its limit or more", () => {
    assert.isTrue(worthWriting(undefined, stored))
    assert.isTrue(worthWriting(stored, { hard: { ...hard, pods: "30" }, used: idle }))
    assert.isTrue(
      worthWriting(stored, { hard: { ...hard, services: "10" }, used: { ...idle, services: "0" } })
    )
    assert.isTrue(worthWriting(stored, { hard, used: { ...idle, pods: "1" } }))
    assert.isTrue(worthWriting({ hard, used: { ...idle, pods: "1" } }, { hard, used: idle }))
    // A limit of zero: any change counts.
    const none = { hard: { ...hard, pods: "0" }, used: idle }
    assert.isTrue(worthWriting(none, { hard: none.hard, used: { ...idle, pods: "1" } }))
  })

  it("not the same values written another way", () => {
    assert.isFalse(worthWriting(stored, { hard: { ...hard, "requests.cpu": "1000m" }, used: idle }))
    assert.isFalse(worthWriting(stored, { hard, used: { ...idle, "requests.memory": "0Mi" } }))
  })

  it("the period is counted from the stored time", () => {
    assert.strictEqual(waitBeforeWrite(written, plus(12), periodMillis), 18_000)
    assert.strictEqual(waitBeforeWrite(written, plus(30), periodMillis), 0)
    assert.strictEqual(waitBeforeWrite(written, plus(31), periodMillis), 0)
  })
})

describe("the usage controller beside the tenant controller (Simulator)", () => {
  const tenants = makeTenantReconciler(makeConfig())
  const quotaRef = { apiVersion: "v1", kind: "ResourceQuota", name: "tenant-quota", namespace }

  const writesOf = <D>(cluster: Simulator.Cluster, reconciler: Reconciler<StoredTenant, D>, at: string) => {
    const run = Simulator.converge(cluster, tenantRefOf("example-tenant"), reconciler, {
      now: at,
      maxRounds: 8
    })
    assert.isTrue(run.converged, `${reconciler.name} did not converge`)
    return { cluster: run.cluster, rounds: run.rounds.length }
  }

  it("each writes its own part of the status; once both have, neither writes again", () => {
    const provisioned = writesOf(
      clusterWith([samplePlan("basic"), sampleTenant()]),
      tenants,
      simulatedNow
    ).cluster
    const stored = objectIn(provisioned, quotaRef) ?? assert.fail("no quota")
    // The API server's quota controller counts it.
    const counted = Simulator.insert(
      provisioned,
      { ...stored, status: { hard: { pods: "20" }, used: { pods: "2" } } },
      simulatedNow
    )
    const withUsage = writesOf(counted, usage, simulatedNow)
    assert.strictEqual(withUsage.rounds, 1)
    const tenant = tenantIn(withUsage.cluster) ?? assert.fail("no tenant")
    assert.deepStrictEqual(tenant.status?.usage, {
      hard: { pods: "20" },
      used: { pods: "2" },
      updatedAt: simulatedNow
    })
    assert.strictEqual(tenant.status?.namespace, namespace)
    const owned = ManagedFields.appliedFieldsOf(tenant, usageControllerName, "status")?.["f:status"] ?? {}
    assert.deepStrictEqual(Object.keys(owned).sort(), ["f:observedGeneration", "f:usage"])

    assert.strictEqual(writesOf(withUsage.cluster, tenants, simulatedNow).rounds, 0)
    assert.strictEqual(writesOf(withUsage.cluster, usage, plus(3600)).rounds, 0)
    assert.deepStrictEqual(tenantIn(withUsage.cluster)?.status?.usage, tenant.status?.usage)
  })
})
