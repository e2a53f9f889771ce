import { assert, describe, it } from "@effect/vitest"
import { controllerReference, type KubeObject } from "@kleff/core"
import { adoptionPatch, adoptionVerdict } from "../src/Adoption.ts"
import { sampleTenant } from "./fixtures.ts"

const tenant: KubeObject = { ...sampleTenant(), metadata: { name: "example-tenant", uid: "uid-new" } }
const marks = { "app.kubernetes.io/managed-by": "kleff-tenant-operator", "kleff.io/tenant": "example-tenant" }

/** The tenant's namespace as an orphaning delete of its previous Tenant left it. */
const orphaned = (metadata: Partial<KubeObject["metadata"]> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: {
    name: "tenant-example-tenant",
    uid: "uid-ns",
    resourceVersion: "42",
    labels: marks,
    ...metadata
  }
})

const why = (object: KubeObject): string | undefined => {
  const verdict = adoptionVerdict(tenant, object)
  return verdict.adopt ? undefined : verdict.why
}

describe("adoptionVerdict: what a re-created Tenant may take back", () => {
  it("takes what the operator made for a Tenant of its name and nothing controls", () => {
    assert.deepStrictEqual(adoptionVerdict(tenant, orphaned()), { adopt: true })
    const otherOwner = { apiVersion: "v1", kind: "ConfigMap", name: "x", uid: "uid-x" }
    assert.deepStrictEqual(adoptionVerdict(tenant, orphaned({ ownerReferences: [otherOwner] })), {
      adopt: true
    })
  })

  it("leaves alone anything controlled, made by someone else, made for another tenant, or going", () => {
    const previous = { ...tenant, metadata: { name: "example-tenant", uid: "uid-old" } }
    assert.include(
      why(orphaned({ ownerReferences: [controllerReference(previous)] })),
      "controlled by another object"
    )
    assert.include(why(orphaned({ ownerReferences: [controllerReference(tenant)] })), "the Tenant's already")
    assert.include(why(orphaned({ labels: { "kleff.io/tenant": "example-tenant" } })), "did not make it")
    assert.include(
      why(orphaned({ labels: { ...marks, "kleff.io/tenant": "other" } })),
      "made for Tenant other"
    )
    assert.include(
      why(orphaned({ labels: { "app.kubernetes.io/managed-by": "kleff-tenant-operator" } })),
      "no kleff.io/tenant label"
    )
    assert.include(why(orphaned({ deletionTimestamp: "2025-01-01T00:00:00Z" })), "being deleted")
  })
})

describe("adoptionPatch", () => {
  it("sets the Tenant as controller only if the object is unchanged since it was judged", () => {
    assert.deepStrictEqual(adoptionPatch(tenant, orphaned()), [
      { op: "test", path: "/metadata/uid", value: "uid-ns" },
      { op: "test", path: "/metadata/resourceVersion", value: "42" },
      { op: "add", path: "/metadata/ownerReferences", value: [controllerReference(tenant)] }
    ])
  })

  it("keeps other owner references", () => {
    const other = { apiVersion: "v1", kind: "ConfigMap", name: "x", uid: "uid-x" }
    assert.deepStrictEqual(adoptionPatch(tenant, orphaned({ ownerReferences: [other] })).at(-1), {
      op: "add",
      path: "/metadata/ownerReferences/-",
      value: controllerReference(tenant)
    })
  })
})
