/**
 * The per-tenant series, pure: from Tenants and their quotas (as the caches hold them) to gauge
 * families and their samples. (How families are written to `/metrics`: the k8s HealthServer's tests.)
 */
import { assert, describe, it } from "@effect/vitest"
import { type KubeObject, keyOf, keyOfRef } from "@kleff/core"
import { ownedByTenant } from "../src/desired/Ownership.ts"
import { samplesOf as flatten, type Sample, tenantFamilies } from "../src/TenantMetrics.ts"
import { sampleTenant } from "./fixtures.ts"

const tenant = (name: string, plan: string, status?: object): KubeObject => {
  const sample = sampleTenant({ uid: `uid-${name}` })
  return {
    ...sample,
    metadata: { ...sample.metadata, name },
    spec: { ...sample.spec, plan },
    ...(status === undefined ? {} : { status })
  }
}

const quota = (owner: KubeObject, namespace: string, status?: object): KubeObject =>
  ownedByTenant(owner, {
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: { name: "tenant-quota", namespace },
    spec: {},
    ...(status === undefined ? {} : { status })
  })

const condition = (type: string, status: string) => ({ type, status, reason: "R", message: "" })

const samplesOf = (tenants: ReadonlyArray<KubeObject>, quotas: ReadonlyArray<KubeObject>) => {
  const byKey = new Map(quotas.map((object) => [keyOf(object), object]))
  return flatten(
    tenantFamilies(
      () => tenants,
      (ref) => byKey.get(keyOfRef(ref))
    )
  )
}

const show = (samples: ReadonlyArray<Sample>): ReadonlyArray<string> =>
  samples.map(
    (sample) =>
      `${sample.name}{${Object.entries(sample.labels)
        .map(([key, value]) => `${key}=${value}`)
        .join(",")}} ${sample.value}`
  )

describe("the per-tenant series", () => {
  const acme = tenant("acme", "basic", {
    namespace: "tenant-acme",
    phase: "Active",
    conditions: [condition("TenantReady", "True"), condition("MeshReady", "False")]
  })
  const zeta = tenant("zeta", "basic", { namespace: "tenant-zeta", phase: "Active" })
  const fresh = tenant("fresh", "free")
  const quotas = [
    quota(acme, "tenant-acme", {
      hard: { "requests.cpu": "1", "requests.memory": "2Gi", pods: "20" },
      used: { "requests.cpu": "250m", "requests.memory": "512Mi" }
    }),
    // Not counted yet by the API server.
    quota(zeta, "tenant-zeta")
  ]

  it("a tenant's quota used and hard by resource, in base units; its conditions; tenants by plan and phase", () => {
    assert.deepStrictEqual(show(samplesOf([acme, zeta, fresh], quotas)), [
      "kleff_tenant_condition{tenant=acme,type=TenantReady,status=True} 1",
      "kleff_tenant_condition{tenant=acme,type=MeshReady,status=False} 1",
      "kleff_tenant_resource_hard{tenant=acme,namespace=tenant-acme,plan=basic,resource=requests.cpu} 1",
      "kleff_tenant_resource_hard{tenant=acme,namespace=tenant-acme,plan=basic,resource=requests.memory} 2147483648",
      "kleff_tenant_resource_hard{tenant=acme,namespace=tenant-acme,plan=basic,resource=pods} 20",
      "kleff_tenant_resource_used{tenant=acme,namespace=tenant-acme,plan=basic,resource=requests.cpu} 0.25",
      "kleff_tenant_resource_used{tenant=acme,namespace=tenant-acme,plan=basic,resource=requests.memory} 536870912",
      "kleff_tenant_resource_used{tenant=acme,namespace=tenant-acme,plan=basic,resource=pods} 0",
      "kleff_tenants{plan=basic,phase=Active} 2",
      "kleff_tenants{plan=free,phase=Pending} 1"
    ])
  })

  it("a tenant that is gone has no series; a quota not the tenant's is not its usage", () => {
    const others = samplesOf(
      [zeta],
      [quota(acme, "tenant-zeta", { hard: { pods: "1" }, used: { pods: "1" } })]
    )
    assert.deepStrictEqual(show(others), ["kleff_tenants{plan=basic,phase=Active} 1"])
  })

  it("walks the Tenants again each time a family is written: a scrape sees the caches as they are then", () => {
    const listed: Array<KubeObject> = [acme]
    const families = tenantFamilies(
      () => listed,
      () => undefined
    )
    const conditions = families[0]
    assert.strictEqual(conditions?.name, "kleff_tenant_condition")
    assert.lengthOf([...(conditions?.samples() ?? [])], 2)
    listed.pop()
    assert.lengthOf([...(conditions?.samples() ?? [])], 0)
  })
})
