/**
 * What keeps a tenant to itself: NetworkPolicies (deny by default; allow the namespace itself,
 * the platform's namespaces and cluster DNS), the bindings of the static
 * `kleff-trusted-registries` and `kleff-tenant-services` ValidatingAdmissionPolicies
 * (deploy/cluster) with the tenant's Plan as their parameter, and — when Gatekeeper is enabled —
 * a `K8sAllowedRepos` constraint on the namespace. Fields are written the way the API server
 * stores them (explicit `protocol`, `policyTypes`) so a converged policy plans no write. Pure.
 */
import type { KubeObject } from "@kleff/core"
import type { Plan } from "../api/Plan.ts"
import type { Tenant } from "../api/Tenant.ts"
import type { TenantOperatorConfig } from "./Config.ts"
import { platformNamespaceLabel, tenantChildLabels, tenantLabel } from "./Namespace.ts"
import { ownedByTenant } from "./Ownership.ts"

export const defaultDenyPolicyName = "default-deny"
export const allowSameNamespacePolicyName = "allow-same-namespace"
export const allowPlatformPolicyName = "allow-platform"
export const allowDnsPolicyName = "allow-dns"

/** The static ValidatingAdmissionPolicy in deploy/cluster/trusted-registries-policy.yaml. */
export const trustedRegistriesPolicyName = "kleff-trusted-registries"
export const trustedRegistriesBindingName = (tenant: Tenant): string =>
  `${trustedRegistriesPolicyName}-${tenant.metadata.name}`
/** The static ValidatingAdmissionPolicy in deploy/cluster/tenant-services-policy.yaml. */
export const tenantServicesPolicyName = "kleff-tenant-services"
export const tenantServicesBindingName = (tenant: Tenant): string =>
  `${tenantServicesPolicyName}-${tenant.metadata.name}`
export const allowedReposConstraintName = (tenant: Tenant): string =>
  `kleff-allowed-repos-${tenant.metadata.name}`

const everyPod = {}

/**
 * A NetworkPolicy of the tenant's namespace, labelled as the tenant's; the controller that writes
 * it marks it as its child (`ownedByTenant`, `ownedByMesh`).
 */
export const tenantNetworkPolicy = (
  tenant: Tenant,
  namespace: string,
  name: string,
  spec: Record<string, unknown>
): KubeObject => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name, namespace, labels: tenantChildLabels(tenant) },
  spec
})

/** A NetworkPolicy peer: the pods labelled `labels` in the namespace named `namespace`. */
export const podsInNamespace = (namespace: string, labels: Readonly<Record<string, string>>) => ({
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
  podSelector: { matchLabels: labels }
})

const networkPolicy = (tenant: Tenant, namespace: string, name: string, spec: Record<string, unknown>) =>
  ownedByTenant(tenant, tenantNetworkPolicy(tenant, namespace, name, spec))

/** The four policies every tenant namespace gets. */
export const desiredNetworkPolicies = (tenant: Tenant, namespace: string): ReadonlyArray<KubeObject> => [
  networkPolicy(tenant, namespace, defaultDenyPolicyName, {
    podSelector: everyPod,
    policyTypes: ["Ingress", "Egress"]
  }),
  networkPolicy(tenant, namespace, allowSameNamespacePolicyName, {
    podSelector: everyPod,
    ingress: [{ from: [{ podSelector: everyPod }] }],
    egress: [{ to: [{ podSelector: everyPod }] }],
    policyTypes: ["Ingress", "Egress"]
  }),
  networkPolicy(tenant, namespace, allowPlatformPolicyName, {
    podSelector: everyPod,
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { [platformNamespaceLabel]: "true" } } }] }],
    policyTypes: ["Ingress"]
  }),
  networkPolicy(tenant, namespace, allowDnsPolicyName, {
    podSelector: everyPod,
    egress: [
      {
        to: [podsInNamespace("kube-system", { "k8s-app": "kube-dns" })],
        ports: [
          { protocol: "UDP", port: 53 },
          { protocol: "TCP", port: 53 }
        ]
      }
    ],
    policyTypes: ["Egress"]
  })
]

/**
 * Binds the static policy `policyName` to the tenant's namespace with the tenant's Plan as the
 * parameter; if the Plan disappears, what the policy checks is denied rather than let through.
 */
const planBinding = (tenant: Tenant, plan: Plan, policyName: string, name: string): KubeObject =>
  ownedByTenant(tenant, {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name, labels: tenantChildLabels(tenant) },
    spec: {
      policyName,
      paramRef: { name: plan.metadata.name, parameterNotFoundAction: "Deny" },
      validationActions: ["Deny"],
      matchResources: { namespaceSelector: { matchLabels: { [tenantLabel]: tenant.metadata.name } } }
    }
  })

/** Containers there may only use images from the plan's `allowedRegistries`. */
export const desiredTrustedRegistriesBinding = (tenant: Tenant, plan: Plan): KubeObject =>
  planBinding(tenant, plan, trustedRegistriesPolicyName, trustedRegistriesBindingName(tenant))

/** Services there may open node ports, load balancers and external IPs only as the plan's `services` allows. */
export const desiredTenantServicesBinding = (tenant: Tenant, plan: Plan): KubeObject =>
  planBinding(tenant, plan, tenantServicesPolicyName, tenantServicesBindingName(tenant))

/** The Gatekeeper equivalent of the trusted-registries policy, for clusters that standardise on Gatekeeper. */
export const desiredAllowedReposConstraint = (tenant: Tenant, plan: Plan, namespace: string): KubeObject =>
  ownedByTenant(tenant, {
    apiVersion: "constraints.gatekeeper.sh/v1beta1",
    kind: "K8sAllowedRepos",
    metadata: { name: allowedReposConstraintName(tenant), labels: tenantChildLabels(tenant) },
    spec: {
      enforcementAction: "deny",
      match: { kinds: [{ apiGroups: [""], kinds: ["Pod"] }], namespaces: [namespace] },
      parameters: { repos: [...plan.spec.allowedRegistries] }
    }
  })

/** Everything that isolates the tenant, as configured. */
export const desiredIsolation = (
  tenant: Tenant,
  plan: Plan,
  namespace: string,
  config: TenantOperatorConfig
): ReadonlyArray<KubeObject> => [
  ...desiredNetworkPolicies(tenant, namespace),
  desiredTrustedRegistriesBinding(tenant, plan),
  desiredTenantServicesBinding(tenant, plan),
  ...(config.gatekeeper.enabled ? [desiredAllowedReposConstraint(tenant, plan, namespace)] : [])
]
