/**
 * The operator's RBAC in deploy/, read from what `kubectl kustomize` builds: exactly the
 * permissions listed here (so the roles cannot quietly grow or keep a rule nothing uses), each of
 * them traced to the code that needs it, and no wildcard or escalation verb anywhere.
 * in-cluster.e2e.test.ts proves on a real API server that these permissions are enough and
 * that everything else is denied.
 */
import { assert, describe, it } from "@effect/vitest"
import { apiVersionOf, type KubeObject, type Reconciler, type ResourceType } from "@kleff/core"
import { Interpreter, LeaderElection, Snapshot } from "@kleff/k8s"
import { PlanType } from "../../src/api/Plan.ts"
import { TenantType, tenantCrdName } from "../../src/api/Tenant.ts"
import { tenantOwnerClusterRole } from "../../src/desired/Access.ts"
import { tenantOwnedTypes } from "../../src/desired/Children.ts"
import { makeConfig } from "../../src/desired/Config.ts"
import { ResourceQuotaType } from "../../src/desired/ResourceTypes.ts"
import { gatewayCrdName, makeMeshReconciler, meshOwnedTypes } from "../../src/MeshReconciler.ts"
import { makeTenantReconciler } from "../../src/TenantReconciler.ts"
import { makeUsageReconciler } from "../../src/UsageReconciler.ts"
import { expectedComponentRules, expectedRules } from "./expected-rbac.ts"
import {
  kustomize,
  kustomizeWithComponents,
  type PolicyRule,
  permissionsOf,
  type RoleObject,
  rolesOfOperator
} from "./manifests.ts"

const difference = (
  actual: ReadonlyMap<string, RoleObject>,
  expected: Readonly<Record<string, ReadonlyArray<PolicyRule>>>
): string => {
  const lines: Array<string> = []
  for (const id of new Set([...actual.keys(), ...Object.keys(expected)])) {
    const have = new Set(permissionsOf(actual.get(id)?.rules ?? []))
    const want = new Set(permissionsOf(expected[id] ?? []))
    if (!actual.has(id)) lines.push(`  ${id}: expected here, not bound to the operator in deploy/`)
    if (expected[id] === undefined) lines.push(`  ${id}: bound to the operator in deploy/, not expected here`)
    for (const permission of have) if (!want.has(permission)) lines.push(`  ${id}: + ${permission}`)
    for (const permission of want) if (!have.has(permission)) lines.push(`  ${id}: - ${permission}`)
  }
  return lines.length === 0
    ? ""
    : "The operator's RBAC in deploy/ differs from the expected list (+ only in deploy/, - only in the list):\n" +
        `${lines.join("\n")}\n` +
        "If the operator's needs changed, update deploy/rbac (with the reason, next to the rule) and " +
        "the list in packages/tenant-operator/test/deploy/expected-rbac.ts together."
}

const operatorRoles = rolesOfOperator(kustomize("deploy"))

const resourceOf = (type: ResourceType): string => `${type.group === "" ? "core" : type.group}/${type.plural}`

const verbsOn = (roles: ReadonlyMap<string, RoleObject>, resource: string): ReadonlySet<string> =>
  new Set(
    [...roles.values()]
      .flatMap((role) => permissionsOf(role.rules ?? []))
      .filter((permission) => permission.endsWith(` ${resource}`))
      .map((permission) => permission.split(" ")[0] ?? "")
  )

/**
 * `roles` let the operator list and watch every kind `reconciler` caches (where it watches one
 * object by name, a grant of that name or of the whole kind).
 */
const assertCachesReadable = <P extends KubeObject, D>(
  reconciler: Reconciler<P, D>,
  roles: ReadonlyMap<string, RoleObject>
): void => {
  for (const type of Snapshot.kindsOf(reconciler)) {
    const { fieldSelector } = Snapshot.selectionOf(reconciler, type)
    const name = fieldSelector?.replace(/^metadata\.name=/u, "")
    const resource = name === undefined ? resourceOf(type) : `${resourceOf(type)}:${name}`
    const verbs = new Set([...verbsOn(roles, resource), ...verbsOn(roles, resourceOf(type))])
    assert.isTrue(
      verbs.has("list") && verbs.has("watch"),
      `${reconciler.name}: ${resource}: ${[...verbs].join(",")}`
    )
  }
}

describe("deploy/: the operator's RBAC", () => {
  it("is exactly the expected set of permissions, role by role", () => {
    const diff = difference(operatorRoles, expectedRules)
    assert.strictEqual(diff, "", diff)
  })

  it("adds exactly the expected permissions with each optional component", () => {
    for (const [component, expected] of Object.entries(expectedComponentRules)) {
      const withComponent = rolesOfOperator(kustomizeWithComponents([component]))
      const added = new Map([...withComponent].filter(([id]) => !operatorRoles.has(id)))
      const diff = difference(added, expected)
      assert.strictEqual(diff, "", `${component}:\n${diff}`)
    }
  })

  it("has no wildcard, and no escalate, impersonate or bind beyond kleff-tenant-owner", () => {
    const everything = rolesOfOperator(kustomizeWithComponents(Object.keys(expectedComponentRules)))
    for (const [id, role] of everything) {
      for (const rule of role.rules ?? []) {
        const fields = [rule.apiGroups, rule.resources, rule.resourceNames, rule.nonResourceURLs, rule.verbs]
        for (const values of fields)
          for (const value of values ?? []) assert.notInclude(value, "*", `${id}: ${JSON.stringify(rule)}`)
        assert.isUndefined(rule.nonResourceURLs, `${id}: ${JSON.stringify(rule)}`)
        assert.notInclude(rule.verbs, "escalate", id)
        assert.notInclude(rule.verbs, "impersonate", id)
        if (rule.verbs.includes("bind")) {
          assert.deepStrictEqual(rule.resources, ["clusterroles"], id)
          assert.deepStrictEqual(rule.resourceNames, [tenantOwnerClusterRole], id)
        }
      }
    }
  })

  it("never grants Secrets, Pods, nodes, CRDs or RBAC roles; only reads the Tenant CRD and, with Istio, its Gateway CRD, by name", () => {
    const everything = rolesOfOperator(kustomizeWithComponents(Object.keys(expectedComponentRules)))
    const crds = [...everything.values()]
      .flatMap((role) => permissionsOf(role.rules ?? []))
      .filter((permission) => permission.includes(" apiextensions.k8s.io/customresourcedefinitions"))
    assert.sameMembers(crds, [
      `list apiextensions.k8s.io/customresourcedefinitions:${tenantCrdName}`,
      `watch apiextensions.k8s.io/customresourcedefinitions:${tenantCrdName}`,
      `list apiextensions.k8s.io/customresourcedefinitions:${gatewayCrdName}`,
      `watch apiextensions.k8s.io/customresourcedefinitions:${gatewayCrdName}`
    ])
    for (const resource of [
      "core/secrets",
      "core/pods",
      "core/pods/exec",
      "core/nodes",
      "core/serviceaccounts",
      "core/serviceaccounts/token",
      "apiextensions.k8s.io/customresourcedefinitions",
      "rbac.authorization.k8s.io/roles",
      "rbac.authorization.k8s.io/clusterrolebindings",
      "admissionregistration.k8s.io/validatingadmissionpolicies"
    ]) {
      assert.deepStrictEqual([...verbsOn(everything, resource)], [], resource)
    }
  })

  describe("traced to the code", () => {
    const defaultReconciler = makeTenantReconciler(makeConfig())

    it("lists and watches every kind the Tenant controller caches: its primary, owned and referenced kinds (by name where it watches one object)", () => {
      assertCachesReadable(defaultReconciler, operatorRoles)
    })

    it("creates, server-side applies (patch) and deletes every kind a Tenant owns — and no other kind", () => {
      const owned = tenantOwnedTypes(makeConfig()).map(resourceOf)
      for (const resource of owned) {
        assert.deepStrictEqual(
          [...verbsOn(operatorRoles, resource)].sort(),
          ["create", "delete", "list", "patch", "watch"],
          resource
        )
      }
      const writable = new Set(
        [...operatorRoles.values()]
          .flatMap((role) => permissionsOf(role.rules ?? []))
          .filter((permission) => permission.startsWith("create ") || permission.startsWith("delete "))
          .map((permission) => permission.split(" ")[1] ?? "")
      )
      assert.sameMembers(
        [...writable],
        [...owned, resourceOf(Interpreter.EventType), resourceOf(LeaderElection.LeaseType)]
      )
    })

    it("owns the optional kinds only through their components", () => {
      const base = new Set(tenantOwnedTypes(makeConfig()).map(resourceOf))
      const cases = [
        { component: "components/istio", owned: meshOwnedTypes },
        {
          component: "components/gatekeeper",
          owned: tenantOwnedTypes(makeConfig({ gatekeeper: { enabled: true } }))
        }
      ]
      for (const { component, owned } of cases) {
        const extra = owned.filter((type) => !base.has(resourceOf(type)))
        assert.isNotEmpty(extra, component)
        const withComponent = rolesOfOperator(kustomizeWithComponents([component]))
        for (const type of extra) {
          assert.deepStrictEqual(
            [...verbsOn(operatorRoles, resourceOf(type))],
            [],
            `${resourceOf(type)} by default`
          )
          assert.deepStrictEqual(
            [...verbsOn(withComponent, resourceOf(type))].sort(),
            ["create", "delete", "list", "patch", "watch"],
            `${resourceOf(type)} with ${component} (${apiVersionOf(type)})`
          )
        }
      }
    })

    it("lists and watches every kind the usage controller caches: Tenants, and the tenants' quotas by name", () => {
      const usage = makeUsageReconciler(30_000)
      assert.deepStrictEqual(Snapshot.selectionOf(usage, ResourceQuotaType), {
        fieldSelector: "metadata.name=tenant-quota"
      })
      assertCachesReadable(usage, operatorRoles)
    })

    it("with components/istio, lists and watches every kind the mesh controller caches", () => {
      const mesh = makeMeshReconciler(makeConfig({ mesh: { enabled: true } }).mesh)
      assertCachesReadable(mesh, rolesOfOperator(kustomizeWithComponents(["components/istio"])))
    })

    it("patches the Tenant (its finalizer) and its status (each controller applies its own part), and only reads Plans", () => {
      assert.deepStrictEqual([...verbsOn(operatorRoles, resourceOf(TenantType))].sort(), [
        "list",
        "patch",
        "watch"
      ])
      assert.deepStrictEqual([...verbsOn(operatorRoles, `${resourceOf(TenantType)}/status`)], ["patch"])
      assert.deepStrictEqual([...verbsOn(operatorRoles, resourceOf(PlanType))].sort(), [
        "get",
        "list",
        "watch"
      ])
    })

    it("binds kleff-tenant-owner, the ClusterRole every tenant RoleBinding names", () => {
      const role = operatorRoles.get("ClusterRole/kleff-tenant-operator")
      assert.isTrue(
        permissionsOf(role?.rules ?? []).includes(
          `bind rbac.authorization.k8s.io/clusterroles:${tenantOwnerClusterRole}`
        )
      )
    })
  })
})
