import { assert, describe, it } from "@effect/vitest"
import { controllerReference, groupOf, isControlledBy, type KubeObject, keyOf } from "../src/index.ts"

const tenant: KubeObject = {
  apiVersion: "kleff.kleff.io/v1",
  kind: "Tenant",
  metadata: { name: "acme", uid: "uid-1" }
}

describe("Object", () => {
  it("keys are version-free and scope-aware", () => {
    assert.strictEqual(keyOf(tenant), "kleff.kleff.io/Tenant//acme")
    assert.strictEqual(
      keyOf({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "ns" } }),
      "/ConfigMap/ns/c"
    )
    assert.strictEqual(groupOf("apps/v1"), "apps")
  })

  it("ownership is by UID, not by name", () => {
    const child: KubeObject = {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "tenant-acme", ownerReferences: [controllerReference(tenant)] }
    }
    assert.isTrue(isControlledBy(child, tenant))
    assert.isFalse(isControlledBy(child, { ...tenant, metadata: { name: "acme", uid: "uid-2" } }))
    assert.isFalse(isControlledBy(child, { ...tenant, metadata: { name: "acme" } }))
  })
})
