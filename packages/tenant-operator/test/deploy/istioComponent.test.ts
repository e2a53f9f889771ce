/**
 * What deploy/components/istio adds to `kubectl apply -k deploy`, read from what `kubectl
 * kustomize` builds: the flag, the RBAC and operator scope for Istio's kinds, and the tenants'
 * hosts in one ConfigMap that both the operator's flags and the kleff-tenant-hosts admission
 * policy read (tenantHostsPolicy.test.ts runs the policy on a real API server).
 */
import { assert, describe, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import {
  type EnvVar,
  expandArgs,
  find,
  flagValue,
  kustomize,
  kustomizeWithComponents,
  operatorNamespace,
  permissionsOf,
  type RoleObject
} from "./manifests.ts"

interface Container {
  readonly args: ReadonlyArray<string>
  readonly env?: ReadonlyArray<EnvVar>
}

interface DeploymentObject extends KubeObject {
  readonly spec: { readonly template: { readonly spec: { readonly containers: ReadonlyArray<Container> } } }
}

const all = kustomize("deploy")

/** The kleff-tenant-hosts policy and its params (deploy/components/istio). */
const tenantHostsPolicy = "kleff-tenant-hosts"
const meshHostsConfigMap = "kleff-mesh-hosts"

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

  it("takes the tenants' hosts from one ConfigMap, read by the operator's flags and the kleff-tenant-hosts policy alike", () => {
    const objects = kustomizeWithComponents(["components/istio"])
    const hosts = find<KubeObject & { readonly data: Readonly<Record<string, string>> }>(
      objects,
      "ConfigMap",
      meshHostsConfigMap
    )
    assert.strictEqual(hosts.metadata.namespace, operatorNamespace)
    assert.sameMembers(Object.keys(hosts.data), ["domain", "hostTemplate"])
    assert.strictEqual(hosts.data.hostTemplate, "{username}.{domain}")

    // The operator: each flag is `$(VAR)` of an environment variable set from that ConfigMap's key
    // (the kubelet expands it when it starts the container).
    const container = find<DeploymentObject>(objects, "Deployment", "tenant-operator").spec.template.spec
      .containers[0] as Container
    for (const [flag, key] of [
      ["--mesh-apps-domain", "domain"],
      ["--mesh-host-template", "hostTemplate"]
    ] as const) {
      const variable = /^\$\(([A-Z_]+)\)$/.exec(flagValue(container.args, flag) ?? "")?.[1]
      assert.isDefined(variable, `${flag}: ${container.args.join(" ")}`)
      const source = container.env?.find((entry) => entry.name === variable)?.valueFrom?.configMapKeyRef
      assert.deepStrictEqual(source, { name: meshHostsConfigMap, key }, flag)
    }
    // As the kubelet starts it, the operator gets the ConfigMap's values.
    const started = expandArgs(container, [hosts])
    assert.strictEqual(flagValue(started, "--mesh-apps-domain"), hosts.data.domain)
    assert.strictEqual(flagValue(started, "--mesh-host-template"), "{username}.{domain}")

    // The policy: its params are that ConfigMap, and a missing one refuses rather than allows.
    const policy = find<KubeObject & { readonly spec: Record<string, unknown> }>(
      objects,
      "ValidatingAdmissionPolicy",
      tenantHostsPolicy
    )
    assert.deepStrictEqual(policy.spec.paramKind, { apiVersion: "v1", kind: "ConfigMap" })
    assert.strictEqual(policy.spec.failurePolicy, "Fail")
    const binding = find<KubeObject & { readonly spec: Record<string, unknown> }>(
      objects,
      "ValidatingAdmissionPolicyBinding",
      tenantHostsPolicy
    )
    assert.deepStrictEqual(binding.spec, {
      policyName: tenantHostsPolicy,
      paramRef: { name: meshHostsConfigMap, namespace: operatorNamespace, parameterNotFoundAction: "Deny" },
      validationActions: ["Deny"]
    })
    // Nothing of it without the component.
    for (const [kind, name] of [
      ["ConfigMap", meshHostsConfigMap],
      ["ValidatingAdmissionPolicy", tenantHostsPolicy],
      ["ValidatingAdmissionPolicyBinding", tenantHostsPolicy]
    ] as const) {
      assert.isUndefined(
        all.find((object) => object.kind === kind && object.metadata.name === name),
        name
      )
    }
  })
})
