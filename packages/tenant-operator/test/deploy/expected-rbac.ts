/**
 * The operator's permissions as they must be: the list deploy/ is held to (rbac.test.ts compares
 * them exactly; the in-cluster test asks the API server that each is granted). When the
 * operator's needs change, change deploy/rbac (with the reason next to the rule) and this list
 * together.
 */
import type { PolicyRule } from "./manifests.ts"

/**
 * Every permission the operator holds, by role. When the operator's needs change, change the
 * role in deploy/ and this list together (each rule's reason is written next to it in deploy/).
 */
export const expectedRules: Readonly<Record<string, ReadonlyArray<PolicyRule>>> = {
  "ClusterRole/kleff-tenant-operator": [
    { apiGroups: ["kleff.kleff.io"], resources: ["tenants"], verbs: ["list", "watch", "patch"] },
    { apiGroups: ["kleff.kleff.io"], resources: ["tenants/status"], verbs: ["patch"] },
    { apiGroups: ["kleff.kleff.io"], resources: ["tenants/finalizers"], verbs: ["update"] },
    { apiGroups: ["kleff.kleff.io"], resources: ["plans"], verbs: ["get", "list", "watch"] },
    {
      apiGroups: [""],
      resources: ["namespaces", "resourcequotas", "limitranges"],
      verbs: ["list", "watch", "create", "patch", "delete"]
    },
    {
      apiGroups: ["networking.k8s.io"],
      resources: ["networkpolicies"],
      verbs: ["list", "watch", "create", "patch", "delete"]
    },
    {
      apiGroups: ["rbac.authorization.k8s.io"],
      resources: ["rolebindings"],
      verbs: ["list", "watch", "create", "patch", "delete"]
    },
    {
      apiGroups: ["rbac.authorization.k8s.io"],
      resources: ["clusterroles"],
      resourceNames: ["kleff-tenant-owner"],
      verbs: ["bind"]
    },
    {
      apiGroups: ["apiextensions.k8s.io"],
      resources: ["customresourcedefinitions"],
      resourceNames: ["tenants.kleff.kleff.io"],
      verbs: ["list", "watch"]
    },
    {
      apiGroups: ["admissionregistration.k8s.io"],
      resources: ["validatingadmissionpolicybindings"],
      verbs: ["list", "watch", "create", "patch", "delete"]
    }
  ],
  "Role/kleff-system/kleff-tenant-operator-leader-election": [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "patch"] }
  ],
  "Role/default/kleff-tenant-operator-events": [
    { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create"] }
  ]
}

/** The optional integrations' roles, each from its component. */
export const expectedComponentRules: Readonly<
  Record<string, Readonly<Record<string, ReadonlyArray<PolicyRule>>>>
> = {
  "components/istio": {
    "ClusterRole/kleff-tenant-operator-istio": [
      {
        apiGroups: ["security.istio.io"],
        resources: ["peerauthentications", "authorizationpolicies"],
        verbs: ["list", "watch", "create", "patch", "delete"]
      },
      {
        apiGroups: ["networking.istio.io"],
        resources: ["gateways", "sidecars"],
        verbs: ["list", "watch", "create", "patch", "delete"]
      }
    ]
  },
  "components/gatekeeper": {
    "ClusterRole/kleff-tenant-operator-gatekeeper": [
      {
        apiGroups: ["constraints.gatekeeper.sh"],
        resources: ["k8sallowedrepos"],
        verbs: ["list", "watch", "create", "patch", "delete"]
      }
    ]
  }
}
