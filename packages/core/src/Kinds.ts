/**
 * The built-in Kubernetes kinds that controllers and their tooling read or write, as
 * `ResourceType`s (group, version, kind, REST plural, scope). Constants only: one place to name
 * them, so no package restates a plural or a scope.
 */
import type { ResourceType } from "./Object.ts"

const kind = (
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean
): ResourceType => ({
  group,
  version,
  kind,
  plural,
  namespaced
})

export const Namespace = kind("", "v1", "Namespace", "namespaces", false)
export const ConfigMap = kind("", "v1", "ConfigMap", "configmaps", true)
export const Secret = kind("", "v1", "Secret", "secrets", true)
export const ServiceAccount = kind("", "v1", "ServiceAccount", "serviceaccounts", true)
export const Pod = kind("", "v1", "Pod", "pods", true)
export const ResourceQuota = kind("", "v1", "ResourceQuota", "resourcequotas", true)
export const LimitRange = kind("", "v1", "LimitRange", "limitranges", true)
export const Event = kind("events.k8s.io", "v1", "Event", "events", true)
export const Lease = kind("coordination.k8s.io", "v1", "Lease", "leases", true)
export const Role = kind("rbac.authorization.k8s.io", "v1", "Role", "roles", true)
export const RoleBinding = kind("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true)
export const ClusterRole = kind("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false)
export const ClusterRoleBinding = kind(
  "rbac.authorization.k8s.io",
  "v1",
  "ClusterRoleBinding",
  "clusterrolebindings",
  false
)
export const NetworkPolicy = kind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true)
export const ValidatingAdmissionPolicy = kind(
  "admissionregistration.k8s.io",
  "v1",
  "ValidatingAdmissionPolicy",
  "validatingadmissionpolicies",
  false
)
export const ValidatingAdmissionPolicyBinding = kind(
  "admissionregistration.k8s.io",
  "v1",
  "ValidatingAdmissionPolicyBinding",
  "validatingadmissionpolicybindings",
  false
)
export const CustomResourceDefinition = kind(
  "apiextensions.k8s.io",
  "v1",
  "CustomResourceDefinition",
  "customresourcedefinitions",
  false
)
