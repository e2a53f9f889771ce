/**
 * The kinds a Tenant's children are, as the framework names them (group, version, kind, plural,
 * scope): the built-in ones from core's `Kinds`, plus Istio's and Gatekeeper's. Constants only.
 */
import { Kinds, type ResourceType } from "@kleff/core"

export const NamespaceType: ResourceType = Kinds.Namespace

export const ResourceQuotaType: ResourceType = Kinds.ResourceQuota

export const LimitRangeType: ResourceType = Kinds.LimitRange

export const RoleBindingType: ResourceType = Kinds.RoleBinding

export const NetworkPolicyType: ResourceType = Kinds.NetworkPolicy

export const ValidatingAdmissionPolicyBindingType: ResourceType = Kinds.ValidatingAdmissionPolicyBinding

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

export const GatewayType: ResourceType = {
  group: "networking.istio.io",
  version: "v1",
  kind: "Gateway",
  plural: "gateways",
  namespaced: true
}

export const SidecarType: ResourceType = {
  group: "networking.istio.io",
  version: "v1",
  kind: "Sidecar",
  plural: "sidecars",
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
