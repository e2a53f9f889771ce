import { assert, describe, it } from "@effect/vitest"
import { type KubeObject, ManagedFields, type ObjectRef, type Reconciler, Simulator } from "@kleff/core"
import type { StoredTenant } from "../src/api/Tenant.ts"
import { makeConfig } from "../src/desired/Config.ts"
import { managedBy, meshManagedBy } from "../src/desired/Ownership.ts"
import {
  gatewayCrdName,
  makeMeshReconciler,
  meshControllerName,
  meshUnavailableReason
} from "../src/MeshReconciler.ts"
import { makeTenantReconciler, tenantControllerName } from "../src/TenantReconciler.ts"
import { samplePlan, sampleTenant, withSpec } from "./fixtures.ts"
import { clusterWith, conditionIn, editTenant, now, objectIn, tenantIn, tenantRefOf } from "./simulation.ts"

const config = makeConfig({ mesh: { enabled: true, appsDomain: "apps.example.com" } })
const tenants = makeTenantReconciler(config)
const mesh = makeMeshReconciler(config.mesh)
const namespace = "tenant-example-tenant"

/** Istio's Gateway CRD as the API server reports it once installed. */
const gatewayCrd: KubeObject = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: gatewayCrdName },
  spec: { group: "networking.istio.io" },
  status: { conditions: [{ type: "Established", status: "True" }] }
}

/** Runs one controller until it has nothing to write; how many writes that took. */
const runOne = <D>(
  cluster: Simulator.Cluster,
  reconciler: Reconciler<StoredTenant, D>
): { readonly cluster: Simulator.Cluster; readonly writes: ReadonlyArray<string> } => {
  const run = Simulator.converge(cluster, tenantRefOf("example-tenant"), reconciler, { now, maxRounds: 8 })
  assert.isTrue(run.converged, `${reconciler.name} did not converge`)
  const writes: Array<string> = []
  for (const round of run.rounds) {
    assert.isUndefined(round.failure, JSON.stringify(round.failure?.error))
    for (const action of [...round.plan.actions, ...round.status])
      if (action._tag !== "Requeue") writes.push(`${reconciler.name}: ${action._tag}`)
  }
  return { cluster: Simulator.settle(run.cluster, now), writes }
}

/** Both controllers, taking turns as their watches would wake them, until neither writes. */
const converge = (cluster: Simulator.Cluster): Simulator.Cluster => {
  let current = cluster
  const log: Array<string> = []
  for (let turn = 0; turn < 8; turn++) {
    const first = runOne(current, tenants)
    const second = runOne(first.cluster, mesh)
    current = second.cluster
    const writes = [...first.writes, ...second.writes]
    if (writes.length === 0) return current
    log.push(writes.join(", "))
  }
  return assert.fail(`the two controllers keep writing:\n${log.join("\n")}`)
}

const meshRef = (kind: string, apiVersion: string, name: string): ObjectRef => ({
  apiVersion,
  kind,
  name,
  namespace
})
const gatewayRef = meshRef("Gateway", "networking.istio.io/v1", "tenant-gateway")
const meshRefs = [
  gatewayRef,
  meshRef("PeerAuthentication", "security.istio.io/v1", "default"),
  meshRef("AuthorizationPolicy", "security.istio.io/v1", "allow-tenant-and-ingress"),
  meshRef("Sidecar", "networking.istio.io/v1", "default"),
  meshRef("NetworkPolicy", "networking.k8s.io/v1", "allow-istio-control-plane"),
  meshRef("NetworkPolicy", "networking.k8s.io/v1", "allow-ingress-gateway")
]

const statusConditionsOf = (cluster: Simulator.Cluster, manager: string): ReadonlyArray<string> => {
  const owned = ManagedFields.appliedFieldsOf(
    tenantIn(cluster) ?? assert.fail("no tenant"),
    manager,
    "status"
  )
  return Object.keys(owned?.["f:status"]?.["f:conditions"] ?? {})
}

describe("the mesh controller beside the tenant controller", () => {
  const tenant = sampleTenant()
  const inMesh = converge(clusterWith([samplePlan("basic"), tenant, gatewayCrd]))

  it("gives a mesh tenant its Gateway, mTLS, authorization, Sidecar and istiod policy, labelled as its own", () => {
    for (const ref of meshRefs) {
      const object = objectIn(inMesh, ref) ?? assert.fail(`no ${ref.kind}`)
      assert.strictEqual(object.metadata.labels?.["app.kubernetes.io/managed-by"], meshManagedBy)
    }
    const gateway = objectIn(inMesh, gatewayRef) as KubeObject & {
      spec: { servers: Array<{ hosts: unknown }> }
    }
    for (const server of gateway.spec.servers)
      assert.deepStrictEqual(server.hosts, ["exampleuser.apps.example.com", "*.exampleuser.apps.example.com"])
    // The tenant controller's own policies are still there: neither removes the other's children.
    assert.isDefined(objectIn(inMesh, meshRef("NetworkPolicy", "networking.k8s.io/v1", "default-deny")))
    assert.notStrictEqual(managedBy, meshManagedBy)
  })

  it("reports MeshReady with its own field manager, and TenantReady summarises it", () => {
    assert.strictEqual(conditionIn(inMesh, "MeshReady").reason, "MeshConfigured")
    assert.strictEqual(conditionIn(inMesh, "TenantReady").status, "True")
    assert.deepStrictEqual(statusConditionsOf(inMesh, meshControllerName), ['k:{"type":"MeshReady"}'])
    assert.notInclude(statusConditionsOf(inMesh, tenantControllerName), 'k:{"type":"MeshReady"}')
  })

  it("until the mesh controller reports, TenantReady waits for MeshReady", () => {
    const run = Simulator.converge(
      clusterWith([samplePlan("basic"), tenant, gatewayCrd]),
      tenantRefOf("example-tenant"),
      tenants,
      {
        now,
        maxRounds: 8
      }
    )
    const ready = conditionIn(run.cluster, "TenantReady")
    assert.strictEqual(ready.status, "False")
    assert.strictEqual(ready.reason, "NotReported")
    assert.include(ready.message, "MeshReady")
  })

  it("serves the new hosts when the username changes", () => {
    const renamed = converge(editTenant(inMesh, (current) => withSpec(current, { username: "renamed" })))
    const gateway = objectIn(renamed, gatewayRef) as KubeObject & {
      spec: { servers: Array<{ hosts: unknown }> }
    }
    assert.deepStrictEqual(gateway.spec.servers[0]?.hosts, [
      "renamed.apps.example.com",
      "*.renamed.apps.example.com"
    ])
  })

  it("removes the mesh objects when the plan leaves the mesh, and says so", () => {
    const free = converge(editTenant(inMesh, (current) => withSpec(current, { plan: "free" })))
    const withFree = converge(Simulator.insert(free, samplePlan("free"), now))
    for (const ref of meshRefs) assert.isUndefined(objectIn(withFree, ref), ref.kind)
    assert.strictEqual(conditionIn(withFree, "MeshReady").reason, "NotInMesh")
    assert.strictEqual(conditionIn(withFree, "TenantReady").status, "True")
  })

  it("without Istio's CRDs writes nothing in the namespace, says MeshUnavailable, and converges once they come", () => {
    const without = converge(clusterWith([samplePlan("basic"), tenant]))
    for (const ref of meshRefs) assert.isUndefined(objectIn(without, ref), ref.kind)
    const ready = conditionIn(without, "MeshReady")
    assert.strictEqual(ready.reason, meshUnavailableReason)
    assert.strictEqual(conditionIn(without, "TenantReady").reason, meshUnavailableReason)
    const installed = converge(Simulator.insert(without, gatewayCrd, now))
    for (const ref of meshRefs) assert.isDefined(objectIn(installed, ref), ref.kind)
  })
})
