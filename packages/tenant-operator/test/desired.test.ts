import { assert, describe, it } from "@effect/vitest"
import { type KubeObject, keyOfRef, refOf } from "@kleff/core"
import { Result } from "effect"
import { ownerRoleBindingName, tenantOwnerClusterRole } from "../src/desired/Access.ts"
import { allChildren, desiredTenantChildren, expectedChildRefs } from "../src/desired/Children.ts"
import { defaultConfig, makeConfig } from "../src/desired/Config.ts"
import { tenantServicesPolicyName, trustedRegistriesPolicyName } from "../src/desired/Isolation.ts"
import { namespaceLabels, renderNamespaceTemplate, tenantNamespaceName } from "../src/desired/Namespace.ts"
import { managedBy } from "../src/desired/Ownership.ts"
import { containerLimits, desiredLimitRange } from "../src/desired/Quota.ts"
import { samplePlan, sampleTenant, withSpec, withStatus } from "./fixtures.ts"

const tenant = sampleTenant()
const basic = samplePlan("basic")
const namespace = "tenant-example-tenant"

const byKind = (objects: ReadonlyArray<KubeObject>, kind: string): ReadonlyArray<KubeObject> =>
  objects.filter((object) => object.kind === kind)

const one = (objects: ReadonlyArray<KubeObject>, kind: string, name?: string): KubeObject => {
  const found = byKind(objects, kind).filter((object) => name === undefined || object.metadata.name === name)
  assert.strictEqual(found.length, 1, `${kind} ${name ?? ""}`)
  return found[0] as KubeObject
}

const children = allChildren(desiredTenantChildren(tenant, basic, namespace, defaultConfig))

describe("desired children of the sample tenant on the basic plan", () => {
  it("are the namespace, four network policies, the registry and services bindings, limits, quota and the owner binding", () => {
    assert.deepStrictEqual(
      children.map((object) => `${object.kind}/${object.metadata.name}`),
      [
        "Namespace/tenant-example-tenant",
        "NetworkPolicy/default-deny",
        "NetworkPolicy/allow-same-namespace",
        "NetworkPolicy/allow-platform",
        "NetworkPolicy/allow-dns",
        "ValidatingAdmissionPolicyBinding/kleff-trusted-registries-example-tenant",
        "ValidatingAdmissionPolicyBinding/kleff-tenant-services-example-tenant",
        "LimitRange/tenant-limits",
        "ResourceQuota/tenant-quota",
        "RoleBinding/tenant-owner"
      ]
    )
  })

  it("all carry the Tenant's controller reference and the managed-by label", () => {
    for (const object of children) {
      assert.deepStrictEqual(object.metadata.ownerReferences, [
        {
          apiVersion: "kleff.kleff.io/v1",
          kind: "Tenant",
          name: "example-tenant",
          uid: "uid-tenant-1",
          controller: true,
          blockOwnerDeletion: true
        }
      ])
      assert.strictEqual(object.metadata.labels?.["app.kubernetes.io/managed-by"], managedBy)
      assert.strictEqual(object.metadata.labels?.["kleff.io/tenant"], "example-tenant")
    }
    for (const object of children) {
      const clusterScoped = object.kind === "Namespace" || object.kind === "ValidatingAdmissionPolicyBinding"
      assert.strictEqual(object.metadata.namespace, clusterScoped ? undefined : namespace, object.kind)
    }
  })

  it("label the namespace with the tenant, its user, its plan, Istio injection and Pod Security", () => {
    assert.deepStrictEqual(one(children, "Namespace").metadata.labels, {
      "kleff.io/tenant": "example-tenant",
      "kleff.io/tenant-username": "exampleuser",
      "kleff.io/tenant-plan": "basic",
      "istio-injection": "enabled",
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/enforce-version": "latest",
      "pod-security.kubernetes.io/warn": "restricted",
      "pod-security.kubernetes.io/warn-version": "latest",
      "pod-security.kubernetes.io/audit": "restricted",
      "pod-security.kubernetes.io/audit-version": "latest",
      "app.kubernetes.io/managed-by": "kleff-tenant-operator"
    })
    const pro = namespaceLabels(tenant, samplePlan("pro"))
    assert.strictEqual(pro["pod-security.kubernetes.io/enforce"], "baseline")
    assert.strictEqual(namespaceLabels(tenant, samplePlan("free"))["istio-injection"], "disabled")
  })

  it("give the namespace the plan's quota as ResourceQuota spec.hard", () => {
    assert.deepStrictEqual(one(children, "ResourceQuota").spec, {
      hard: {
        "requests.cpu": "1",
        "requests.memory": "2Gi",
        "limits.cpu": "2",
        "limits.memory": "4Gi",
        "requests.ephemeral-storage": "4Gi",
        "limits.ephemeral-storage": "8Gi",
        "requests.storage": "10Gi",
        persistentvolumeclaims: "5",
        pods: "20",
        services: "10",
        "services.nodeports": "0",
        "services.loadbalancers": "0",
        "count/secrets": "50",
        "count/configmaps": "50",
        "count/serviceaccounts": "20",
        "count/replicationcontrollers": "0",
        "count/resourcequotas": "1",
        "count/deployments.apps": "20",
        "count/statefulsets.apps": "10",
        "count/jobs.batch": "20",
        "count/cronjobs.batch": "10",
        "count/ingresses.networking.k8s.io": "10",
        "count/roles.rbac.authorization.k8s.io": "20",
        "count/rolebindings.rbac.authorization.k8s.io": "20",
        "count/networkpolicies.networking.k8s.io": "20"
      }
    })
  })

  it("give containers the plan's defaults and bounds", () => {
    assert.deepStrictEqual(one(children, "LimitRange").spec, {
      limits: [
        {
          type: "Container",
          default: { cpu: "500m", memory: "512Mi", "ephemeral-storage": "512Mi" },
          defaultRequest: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "128Mi" },
          max: { cpu: "1", memory: "1Gi", "ephemeral-storage": "2Gi" }
        }
      ]
    })
  })

  it("bind the tenant-owner ClusterRole to the tenant's user, in the namespace only", () => {
    const binding = one(children, "RoleBinding", ownerRoleBindingName)
    assert.deepStrictEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: tenantOwnerClusterRole
    })
    assert.deepStrictEqual(binding.subjects, [
      { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "user-12345" }
    ])
    const prefixed = allChildren(
      desiredTenantChildren(tenant, basic, namespace, makeConfig({ userPrefix: "oidc:" }))
    )
    assert.deepStrictEqual(one(prefixed, "RoleBinding").subjects, [
      { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "oidc:user-12345" }
    ])
  })

  it("deny all traffic by default, then allow the namespace, the platform and DNS", () => {
    assert.deepStrictEqual(one(children, "NetworkPolicy", "default-deny").spec, {
      podSelector: {},
      policyTypes: ["Ingress", "Egress"]
    })
    assert.deepStrictEqual(one(children, "NetworkPolicy", "allow-same-namespace").spec, {
      podSelector: {},
      ingress: [{ from: [{ podSelector: {} }] }],
      egress: [{ to: [{ podSelector: {} }] }],
      policyTypes: ["Ingress", "Egress"]
    })
    assert.deepStrictEqual(one(children, "NetworkPolicy", "allow-platform").spec, {
      podSelector: {},
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kleff.io/platform": "true" } } }] }],
      policyTypes: ["Ingress"]
    })
    assert.deepStrictEqual(one(children, "NetworkPolicy", "allow-dns").spec, {
      podSelector: {},
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
              podSelector: { matchLabels: { "k8s-app": "kube-dns" } }
            }
          ],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 }
          ]
        }
      ],
      policyTypes: ["Egress"]
    })
  })

  it("bind the trusted-registries and tenant-services policies with the tenant's Plan as their parameter", () => {
    for (const [name, policyName] of [
      ["kleff-trusted-registries-example-tenant", trustedRegistriesPolicyName],
      ["kleff-tenant-services-example-tenant", tenantServicesPolicyName]
    ] as const) {
      assert.deepStrictEqual(one(children, "ValidatingAdmissionPolicyBinding", name).spec, {
        policyName,
        paramRef: { name: "basic", parameterNotFoundAction: "Deny" },
        validationActions: ["Deny"],
        matchResources: { namespaceSelector: { matchLabels: { "kleff.io/tenant": "example-tenant" } } }
      })
    }
  })

  it("leave Istio and Gatekeeper out unless the operator manages them", () => {
    assert.deepStrictEqual(byKind(children, "PeerAuthentication"), [])
    assert.deepStrictEqual(byKind(children, "K8sAllowedRepos"), [])
  })

  it("know where each concern's children live, plan or no plan", () => {
    for (const config of [
      defaultConfig,
      makeConfig({ mesh: { enabled: true }, gatekeeper: { enabled: true } })
    ]) {
      const resolved = desiredTenantChildren(tenant, basic, namespace, config)
      const refs = expectedChildRefs(tenant, namespace, config)
      const keys = (objects: ReadonlyArray<KubeObject>) => objects.map((object) => keyOfRef(refOf(object)))
      assert.strictEqual(keyOfRef(refs.namespace), keyOfRef(refOf(resolved.namespace)))
      assert.deepStrictEqual(refs.access.map(keyOfRef), keys(resolved.access))
      assert.deepStrictEqual(refs.isolation.map(keyOfRef), keys(resolved.isolation))
      assert.deepStrictEqual(
        refs.plan.map(keyOfRef),
        keys(resolved.plan.filter((o) => o.kind === "ResourceQuota"))
      )
    }
  })
})

describe("desired children of the tenant controller with Istio and Gatekeeper enabled", () => {
  const config = makeConfig({
    mesh: { enabled: true, ingressNamespace: "kleff-ingress" },
    gatekeeper: { enabled: true }
  })
  const all = allChildren(desiredTenantChildren(tenant, basic, namespace, config))

  it("record the tenant's host on its namespace, for the hosts admission policy", () => {
    assert.deepStrictEqual(one(all, "Namespace").metadata.annotations, {
      "kleff.io/tenant-host": "exampleuser.apps.kleff.io"
    })
    const without = allChildren(desiredTenantChildren(tenant, basic, namespace, defaultConfig))
    assert.isUndefined(one(without, "Namespace").metadata.annotations)
  })

  it("leave the mesh to the mesh controller", () => {
    for (const kind of ["PeerAuthentication", "AuthorizationPolicy", "Sidecar", "Gateway"])
      assert.deepStrictEqual(byKind(all, kind), [], kind)
    assert.notInclude(
      byKind(all, "NetworkPolicy").map((policy) => policy.metadata.name),
      "allow-istio-control-plane"
    )
  })

  it("constrain the namespace's images through Gatekeeper as well", () => {
    const constraint = one(all, "K8sAllowedRepos")
    assert.strictEqual(constraint.apiVersion, "constraints.gatekeeper.sh/v1beta1")
    assert.deepStrictEqual(constraint.spec, {
      enforcementAction: "deny",
      match: { kinds: [{ apiGroups: [""], kinds: ["Pod"] }], namespaces: [namespace] },
      parameters: { repos: ["registry.kleff.io/", "docker.io/library/"] }
    })
  })
})

describe("the namespace name", () => {
  it("defaults to tenant-<name>", () => {
    assert.deepStrictEqual(
      tenantNamespaceName(tenant, defaultConfig),
      Result.succeed("tenant-example-tenant")
    )
  })

  it("follows the operator's template", () => {
    assert.strictEqual(renderNamespaceTemplate("{username}-{name}", tenant), "exampleuser-example-tenant")
    assert.deepStrictEqual(
      tenantNamespaceName(tenant, makeConfig({ namespaceTemplate: "u-{userId}" })),
      Result.succeed("u-user-12345")
    )
  })

  it("is refused when the template gives something that is not a DNS-1123 label", () => {
    const oidc = withSpec(tenant, { userId: "auth0|5f7c8ec7c33c6c004bbafe82" })
    const result = tenantNamespaceName(oidc, makeConfig({ namespaceTemplate: "{userId}" }))
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) {
      assert.strictEqual(result.failure.name, "auth0|5f7c8ec7c33c6c004bbafe82")
      assert.include(result.failure.message, "not a valid namespace name")
      assert.include(result.failure.message, "{userId}")
    }
    const long = tenantNamespaceName(tenant, makeConfig({ namespaceTemplate: `${"x".repeat(60)}-{name}` }))
    assert.isTrue(Result.isFailure(long))
  })

  it("is sticky: status.namespace wins over a changed template", () => {
    const reported = withStatus(tenant, { namespace: "tenant-example-tenant" })
    assert.deepStrictEqual(
      tenantNamespaceName(reported, makeConfig({ namespaceTemplate: "ns-{username}" })),
      Result.succeed("tenant-example-tenant")
    )
  })

  it("keeps a namespace the Tenant already controls, whatever the status or template say", () => {
    assert.deepStrictEqual(
      tenantNamespaceName(tenant, makeConfig({ namespaceTemplate: "ns-{username}" }), ["old-namespace"]),
      Result.succeed("old-namespace")
    )
    const reported = withStatus(tenant, { namespace: "edited" })
    assert.deepStrictEqual(
      tenantNamespaceName(reported, defaultConfig, ["b-ns", "a-ns"]),
      Result.succeed("a-ns")
    )
    assert.deepStrictEqual(
      tenantNamespaceName(reported, defaultConfig, ["b-ns", "edited"]),
      Result.succeed("edited")
    )
  })
})

describe("container limits", () => {
  it("state the defaults the API server would fill in: default from max, defaultRequest from default", () => {
    assert.deepStrictEqual(containerLimits({ max: { cpu: "2", memory: "1Gi" } }), {
      type: "Container",
      default: { cpu: "2", memory: "1Gi" },
      defaultRequest: { cpu: "2", memory: "1Gi" },
      max: { cpu: "2", memory: "1Gi" }
    })
    assert.deepStrictEqual(containerLimits({ default: { cpu: "500m" }, max: { cpu: "1", memory: "1Gi" } }), {
      type: "Container",
      default: { cpu: "500m", memory: "1Gi" },
      defaultRequest: { cpu: "500m", memory: "1Gi" },
      max: { cpu: "1", memory: "1Gi" }
    })
  })

  it("are absent when the plan sets none", () => {
    const { limitRange: _none, ...spec } = basic.spec
    assert.isUndefined(desiredLimitRange(tenant, { ...basic, spec }, namespace))
    assert.isUndefined(containerLimits({}))
  })

  it("are written in the form the API server stores", () => {
    const plan = {
      ...basic,
      spec: { ...basic.spec, quota: { "requests.cpu": "1000m", "requests.memory": "1024Mi" } }
    }
    const quota = allChildren(desiredTenantChildren(tenant, plan, namespace, defaultConfig)).find(
      (object) => object.kind === "ResourceQuota"
    )
    assert.deepStrictEqual(quota?.spec, { hard: { "requests.cpu": "1", "requests.memory": "1Gi" } })
  })
})
