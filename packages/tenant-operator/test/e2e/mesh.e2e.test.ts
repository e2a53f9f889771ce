/**
 * End to end, the mesh controller as a user meets it: an operator started with `--enable-istio`
 * on a cluster without Istio keeps serving and says `MeshUnavailable`; Istio's real CRDs (from
 * its Go module, tools/crds) installed later are picked up without a restart, and every object
 * the controller writes passes their schema and CEL validation; a plan leaving the mesh takes the
 * objects away; a deleted tenant's objects go with its namespace. On a control plane of its own:
 * the shared one may already have Istio's CRDs from another test file.
 */
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { afterAll } from "vitest"
import { describeCluster } from "../../../k8s/test/cluster.ts"
import * as OwnCluster from "../../../k8s/test/ownCluster.ts"
import { installMeshCrds } from "../meshCrds.ts"
import {
  conditionOf,
  deleteTenants,
  eventually,
  hasCondition,
  tenantObject,
  toYaml,
  uniqueName,
  useSuite
} from "./harness.ts"

const stepTimeout = 240_000

/** The mesh objects of a tenant, as `kubectl get` names their kinds, with the names the controller gives them. */
const meshObjects: ReadonlyArray<readonly [string, string]> = [
  ["gateways.networking.istio.io", "tenant-gateway"],
  ["peerauthentications.security.istio.io", "default"],
  ["authorizationpolicies.security.istio.io", "allow-tenant-and-ingress"],
  ["sidecars.networking.istio.io", "default"],
  ["networkpolicies", "allow-istio-control-plane"],
  ["networkpolicies", "allow-ingress-gateway"]
]

describeCluster("the mesh controller, end to end (operator process + kubectl + Istio's CRDs)", () => {
  let cluster: OwnCluster.OwnCluster | undefined
  const suite = useSuite({
    adminKubeconfig: () => {
      cluster = OwnCluster.up("kleff-mesh")
      return cluster.kubeconfig
    },
    operatorArgs: ["--enable-istio", "--mesh-apps-domain", "apps.example.com"]
  })
  afterAll(() => {
    if (cluster !== undefined) OwnCluster.down(cluster)
  }, 120_000)

  const name = uniqueName("mesh")
  const namespace = `tenant-${name}`
  const tenant = () => suite().kubectl.get("tenant", name)
  const find = (kind: string, object: string) => suite().kubectl.find(kind, object, namespace)
  /** Moves the tenant to `plan` and waits for the mesh controller to say `reason`. */
  const switchPlan = async (plan: string, reason: string) => {
    await suite().kubectl.ok([
      "patch",
      "tenant",
      name,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { plan } })
    ])
    await eventually(
      `MeshReady ${reason} on plan ${plan}`,
      tenant,
      (current) => hasCondition(current, "MeshReady", "True", reason),
      120_000
    )
  }

  it(
    "without Istio's CRDs: the tenant gets everything else, MeshReady says MeshUnavailable, and the operator keeps serving",
    async () => {
      const { kubectl } = suite()
      suite().tenants.add(name)
      await kubectl.apply({
        yaml: toYaml([tenantObject(name, { plan: "basic", userId: `user-${name}`, username: name })])
      })
      const unavailable = await eventually(
        "MeshReady MeshUnavailable",
        tenant,
        (current) => hasCondition(current, "MeshReady", "False", "MeshUnavailable"),
        120_000
      )
      assert.include(conditionOf(unavailable, "MeshReady")?.message, "gateways.networking.istio.io")
      await eventually("IsolationReady", tenant, (current) => hasCondition(current, "IsolationReady", "True"))
      const ready = conditionOf(await tenant(), "TenantReady")
      assert.strictEqual(ready?.reason, "MeshUnavailable")
      assert.isUndefined(await find("networkpolicies", "allow-istio-control-plane"))
      assert.isTrue(suite().runningOperator.isRunning())
    },
    stepTimeout
  )

  it(
    "Istio's CRDs installed later: the objects are created without a restart, accepted by the real schema, and MeshReady is the mesh controller's",
    async () => {
      const { kubectl } = suite()
      await installMeshCrds(kubectl.kubeconfig, ["istio"])
      const ready = await eventually(
        "TenantReady after Istio's CRDs arrive",
        tenant,
        (current) => hasCondition(current, "TenantReady", "True"),
        120_000
      )
      assert.isTrue(hasCondition(ready, "MeshReady", "True", "MeshConfigured"), JSON.stringify(ready.status))
      for (const [kind, object] of meshObjects) {
        const found = await find(kind, object)
        assert.isDefined(found, `${kind} ${object}`)
        assert.strictEqual(found?.metadata.labels?.["app.kubernetes.io/managed-by"], "kleff-mesh-controller")
      }
      const gateway = (await find("gateways.networking.istio.io", "tenant-gateway")) as KubeObject & {
        readonly spec: { readonly servers: ReadonlyArray<{ readonly hosts: ReadonlyArray<string> }> }
      }
      assert.deepStrictEqual(gateway.spec.servers[0]?.hosts, [
        `${name}.apps.example.com`,
        `*.${name}.apps.example.com`
      ])
      // Each controller owns its own conditions on the shared status.
      const managed = (await kubectl.json<KubeObject>(["tenant", name, "--show-managed-fields"])).metadata
        .managedFields
      const conditionsOf = (manager: string) =>
        Object.keys(
          (managed?.find((entry) => entry.manager === manager && entry.subresource === "status")?.fieldsV1?.[
            "f:status"
          ]?.["f:conditions"] ?? {}) as object
        )
      assert.deepStrictEqual(conditionsOf("mesh-controller"), ['k:{"type":"MeshReady"}'])
      assert.include(conditionsOf("tenant-controller"), 'k:{"type":"TenantReady"}')
      assert.notInclude(conditionsOf("tenant-controller"), 'k:{"type":"MeshReady"}')
    },
    stepTimeout
  )

  it(
    "a plan that leaves the mesh takes the mesh objects away; back in the mesh, they return",
    async () => {
      await switchPlan("free", "NotInMesh")
      for (const [kind, object] of meshObjects)
        await eventually(
          `${kind} ${object} to go`,
          () => find(kind, object),
          (found) => found === undefined
        )
      // The tenant controller's own NetworkPolicies are untouched.
      assert.isDefined(await find("networkpolicies", "default-deny"))

      await switchPlan("basic", "MeshConfigured")
      for (const [kind, object] of meshObjects)
        assert.isDefined(await find(kind, object), `${kind} ${object}`)
    },
    stepTimeout
  )

  it(
    "a deleted tenant's mesh objects go with its namespace",
    async () => {
      const { kubectl } = suite()
      await deleteTenants(kubectl, [name])
      suite().tenants.delete(name)
      assert.isUndefined(await kubectl.find("namespace", namespace))
      for (const [kind] of meshObjects) {
        const left = await kubectl.ok(["get", kind, "-n", namespace, "-o", "name", "--ignore-not-found"])
        assert.strictEqual(left.trim(), "", kind)
      }
    },
    stepTimeout
  )
})
