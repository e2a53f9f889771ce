/**
 * What deploy/components/istio adds to `kubectl apply -k deploy`, read from what `kubectl
 * kustomize` builds: the flag, the RBAC and operator scope for Istio's kinds, and the
 * kleff-tenant-hosts admission policy, which reads each tenant's host from its namespace
 * (tenantHostsPolicy.test.ts runs the policy on a real API server).
 */
import { assert, describe, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { find, kustomize, kustomizeWithComponents, permissionsOf, type RoleObject } from "./manifests.ts"

interface Container {
  readonly args: ReadonlyArray<string>
}

interface DeploymentObject extends KubeObject {
  readonly spec: { readonly template: { readonly spec: { readonly containers: ReadonlyArray<Container> } } }
}

const all = kustomize("deploy")

/** The kleff-tenant-hosts policy (deploy/components/istio). */
const tenantHostsPolicy = "kleff-tenant-hosts"

interface ScopePolicy extends KubeObject {
  readonly spec: {
    readonly matchConstraints: {
      readonly resourceRules: ReadonlyArray<{
        readonly apiGroups: ReadonlyArray<string>
        readonly resources: ReadonlyArray<string>
      }>
    }
  }
}

describe("deploy/components/istio", () => {
  it("adds --enable-istio, its RBAC, and Istio's kinds to the operator's scope policy", () => {
    const objects = kustomizeWithComponents(["components/istio"])
    const args = find<DeploymentObject>(objects, "Deployment", "tenant-operator").spec.template.spec
      .containers[0]?.args
    assert.include(args ?? [], "--enable-istio")
    assert.notInclude(args ?? [], "--enable-gatekeeper")
    const rules = find<RoleObject>(objects, "ClusterRole", "kleff-tenant-operator-istio").rules ?? []
    assert.includeMembers(
      [...permissionsOf(rules)],
      [
        "security.istio.io/peerauthentications",
        "security.istio.io/authorizationpolicies",
        "networking.istio.io/gateways",
        "networking.istio.io/sidecars"
      ].flatMap((resource) =>
        ["list", "watch", "create", "patch", "delete"].map((verb) => `${verb} ${resource}`)
      )
    )
    find(objects, "ClusterRoleBinding", "kleff-tenant-operator-istio")
    const scope = find<ScopePolicy>(objects, "ValidatingAdmissionPolicy", "kleff-tenant-operator-scope")
    const scoped = scope.spec.matchConstraints.resourceRules.flatMap((rule) =>
      rule.apiGroups.flatMap((group) => rule.resources.map((resource) => `${group}/${resource}`))
    )
    assert.includeMembers(scoped, [
      "security.istio.io/peerauthentications",
      "security.istio.io/authorizationpolicies",
      "networking.istio.io/gateways",
      "networking.istio.io/sidecars"
    ])
  })

  it("adds the kleff-tenant-hosts policy, with no params (the host is the namespace's), failing closed", () => {
    const objects = kustomizeWithComponents(["components/istio"])
    const policy = find<KubeObject & { readonly spec: Record<string, unknown> }>(
      objects,
      "ValidatingAdmissionPolicy",
      tenantHostsPolicy
    )
    assert.isUndefined(policy.spec.paramKind)
    assert.strictEqual(policy.spec.failurePolicy, "Fail")
    const binding = find<KubeObject & { readonly spec: Record<string, unknown> }>(
      objects,
      "ValidatingAdmissionPolicyBinding",
      tenantHostsPolicy
    )
    assert.deepStrictEqual(binding.spec, { policyName: tenantHostsPolicy, validationActions: ["Deny"] })
    // Nothing of it without the component.
    for (const kind of ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"] as const) {
      assert.isUndefined(
        all.find((object) => object.kind === kind && object.metadata.name === tenantHostsPolicy),
        kind
      )
    }
  })
})
