/**
 * The kinds a Tenant's children are, as the framework names them (group, version, kind, plural,
 * scope). Constants only.
 */
import type { ResourceType } from "@kleff/core"

export const NamespaceType: ResourceType = {
  group: "",
  version: "v1",
  kind: "Namespace",
  plural: "namespaces",
  namespaced: false
}

export const ResourceQuotaType: ResourceType = {
  group: "",
  version: "v1",
  kind: "ResourceQuota",
  plural: "resourcequotas",
  namespaced: true
}

export const LimitRangeType: ResourceType = {
  group: "",
  version: "v1",
  kind: "LimitRange",
  plural: "limitranges",
  namespaced: true
}

export const RoleBindingType: ResourceType = {
  group: "rbac.authorization.k8s.io",
  version: "v1",
  kind: "RoleBinding",
  plural: "rolebindings",
  namespaced: true
}

export const NetworkPolicyType: ResourceType = {
  group: "networking.k8s.io",
  version: "v1",
  kind: "NetworkPolicy",
  plural: "networkpolicies",
  namespaced: true
}

export const ValidatingAdmissionPolicyBindingType: ResourceType = {
  group: "admissionregistration.k8s.io",
  version: "v1",
  kind: "ValidatingAdmissionPolicyBinding",
  plural: "validatingadmissionpolicybindings",
  namespaced: false
}

export const PeerAuthenticationType: ResourceType = {
  group: "security.istio.io",
  version: "v1",
  kind: "PeerAuthentication",
  plural: "peerauthentications",
  namespaced: true
}

export const AuthorizationPolicyType: ResourceType = {
  group: "security.istio.io",
  version: "v1",
  kind: "AuthorizationPolicy",
  plural: "authorizationpolicies",
  namespaced: true
}

/** OPA Gatekeeper's constraint kind for the `k8sallowedrepos` ConstraintTemplate (cluster-scoped). */
export const K8sAllowedReposType: ResourceType = {
  group: "constraints.gatekeeper.sh",
  version: "v1beta1",
  kind: "K8sAllowedRepos",
  plural: "k8sallowedrepos",
  namespaced: false
}
