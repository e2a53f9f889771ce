import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { decodePlan, Plan, PlanType } from "../src/api/Plan.ts"
import { decodeTenant, StoredTenant, TenantType } from "../src/api/Tenant.ts"
import { readYaml } from "./fixtures.ts"

const tenantManifest = () => readYaml("deploy/samples/tenant.yaml") as Record<string, unknown>
const planManifest = () => readYaml("deploy/samples/plan-basic.yaml") as Record<string, unknown>

const failure = <A>(result: Result.Result<A, string>): string => {
  if (Result.isSuccess(result))
    assert.fail(`expected a decode failure, got ${JSON.stringify(result.success)}`)
  return result.failure
}

const withTenantSpec = (spec: Record<string, unknown>) => {
  const manifest = tenantManifest()
  return { ...manifest, spec: { ...(manifest.spec as object), ...spec } }
}

describe("Tenant schema", () => {
  it("accepts the platform's original manifest unchanged", () => {
    const manifest = tenantManifest()
    assert.deepStrictEqual(manifest, {
      apiVersion: "kleff.kleff.io/v1",
      kind: "Tenant",
      metadata: { name: "example-tenant" },
      spec: { plan: "basic", userId: "user-12345", username: "exampleuser" }
    })
    const decoded = decodeTenant(manifest)
    assert.isTrue(Result.isSuccess(decoded))
    assert.deepStrictEqual(Result.getOrUndefined(decoded), manifest)
  })

  it("keeps displayName and a status it wrote", () => {
    const status = {
      namespace: "tenant-example-tenant",
      phase: "Active",
      observedGeneration: 2,
      conditions: [
        {
          type: "TenantReady",
          status: "True",
          reason: "Ready",
          message: "ok",
          lastTransitionTime: "2025-01-01T00:00:00Z"
        }
      ]
    }
    const decoded = decodeTenant({ ...withTenantSpec({ displayName: "Example Co." }), status })
    assert.strictEqual(Result.getOrUndefined(decoded)?.spec.displayName, "Example Co.")
    assert.deepStrictEqual<unknown>(Result.getOrUndefined(decoded)?.status, status)
  })

  it("takes deletionProtection as an optional boolean", () => {
    const decoded = decodeTenant(withTenantSpec({ deletionProtection: true }))
    assert.strictEqual(Result.getOrUndefined(decoded)?.spec.deletionProtection, true)
    assert.include(failure(decodeTenant(withTenantSpec({ deletionProtection: "yes" }))), "deletionProtection")
  })

  it("rejects a username that is not a DNS-1123 label, saying where and why", () => {
    const message = failure(decodeTenant(withTenantSpec({ username: "Bad_Name" })))
    assert.include(message, `["spec"]["username"]`)
    assert.include(message, "DNS-1123 label")
  })

  it("rejects a username longer than 63 characters", () => {
    assert.include(failure(decodeTenant(withTenantSpec({ username: "a".repeat(64) }))), "at most 63")
  })

  it("reports every missing required field", () => {
    const message = failure(decodeTenant({ ...tenantManifest(), spec: { plan: "basic" } }))
    assert.include(message, `["spec"]["userId"]`)
    assert.include(message, `["spec"]["username"]`)
  })

  it("rejects a plan name that is not a DNS-1123 subdomain", () => {
    assert.include(failure(decodeTenant(withTenantSpec({ plan: "Basic Plan" }))), `["spec"]["plan"]`)
  })

  it("rejects an empty userId and a Tenant name that cannot be a label value", () => {
    assert.include(failure(decodeTenant(withTenantSpec({ userId: "" }))), `["spec"]["userId"]`)
    assert.include(
      failure(decodeTenant({ ...tenantManifest(), metadata: { name: "example.tenant" } })),
      `["metadata"]["name"]`
    )
  })

  it("names the kind it describes, and decodes by the stored-Tenant schema", () => {
    const { schema, ...names } = TenantType
    assert.deepStrictEqual(names, {
      group: "kleff.kleff.io",
      version: "v1",
      kind: "Tenant",
      plural: "tenants",
      namespaced: false
    })
    assert.strictEqual(schema, StoredTenant)
  })
})

describe("Plan schema", () => {
  const withPlanSpec = (spec: Record<string, unknown>) => {
    const manifest = planManifest()
    return { ...manifest, spec: { ...(manifest.spec as object), ...spec } }
  }

  it("accepts the TENANT-API example, quantities as strings", () => {
    const decoded = decodePlan(planManifest())
    assert.isTrue(Result.isSuccess(decoded))
    const plan = Result.getOrThrow(decoded)
    assert.include(plan.spec.quota, {
      "requests.cpu": "1",
      "limits.memory": "4Gi",
      "requests.ephemeral-storage": "4Gi",
      pods: "20",
      "services.nodeports": "0",
      "count/secrets": "50",
      "count/rolebindings.rbac.authorization.k8s.io": "20"
    })
    assert.deepStrictEqual(plan.spec.limitRange?.max, { cpu: "1", memory: "1Gi", "ephemeral-storage": "2Gi" })
    assert.deepStrictEqual(plan.spec.allowedRegistries, ["registry.kleff.io/", "docker.io/library/"])
    assert.isUndefined(plan.spec.services)
  })

  it("takes which Services may leave the cluster as optional booleans", () => {
    const services = { nodePorts: true, loadBalancers: false }
    assert.deepStrictEqual(
      Result.getOrUndefined(decodePlan(withPlanSpec({ services })))?.spec.services,
      services
    )
    assert.include(
      failure(decodePlan(withPlanSpec({ services: { externalIPs: "yes" } }))),
      `["spec"]["services"]["externalIPs"]`
    )
  })

  it("decodes integer quantities (as the CRD's int-or-string admits them) to strings", () => {
    const manifest = planManifest()
    const spec = manifest.spec as Record<string, unknown>
    const decoded = decodePlan({ ...manifest, spec: { ...spec, quota: { pods: 20, "requests.cpu": 2 } } })
    assert.deepStrictEqual(Result.getOrUndefined(decoded)?.spec.quota, { pods: "20", "requests.cpu": "2" })
  })

  it("rejects a quantity that is not one", () => {
    const message = failure(decodePlan(withPlanSpec({ quota: { "requests.memory": "2GB" } })))
    assert.include(message, `["spec"]["quota"]["requests.memory"]`)
    assert.include(message, "quantity")
  })

  it("rejects negative quantities", () => {
    assert.include(failure(decodePlan(withPlanSpec({ quota: { pods: -1 } }))), `["spec"]["quota"]["pods"]`)
    assert.include(failure(decodePlan(withPlanSpec({ quota: { pods: "-1" } }))), `["spec"]["quota"]["pods"]`)
  })

  it("rejects a quota key that is not a resource name", () => {
    assert.include(failure(decodePlan(withPlanSpec({ quota: { "requests cpu": "1" } }))), "resource name")
  })

  it("rejects an unknown Pod Security level", () => {
    const message = failure(decodePlan(withPlanSpec({ podSecurity: "privileged" })))
    assert.include(message, `["spec"]["podSecurity"]`)
    assert.include(message, `"restricted" | "baseline"`)
  })

  it("accepts every sample plan", () => {
    for (const name of ["free", "basic", "pro"]) {
      assert.isTrue(Result.isSuccess(decodePlan(readYaml(`deploy/samples/plan-${name}.yaml`))), name)
    }
  })

  it("names the kind it describes, and decodes by the Plan schema", () => {
    assert.strictEqual(PlanType.plural, "plans")
    assert.isFalse(PlanType.namespaced)
    assert.strictEqual(PlanType.schema, Plan)
  })
})
