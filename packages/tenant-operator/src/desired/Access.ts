/**
 * Who may use the tenant's namespace: the `RoleBinding` `tenant-owner` that grants the tenant's
 * user (`spec.userId`, the OIDC subject) the static ClusterRole `kleff-tenant-owner`
 * (deploy/cluster/tenant-owner-clusterrole.yaml) inside the namespace only. Pure.
 */
import type { KubeObject } from "@kleff/core"
import type { Tenant } from "../api/Tenant.ts"
import type { TenantOperatorConfig } from "./Config.ts"
import { tenantChildLabels } from "./Namespace.ts"
import { ownedByTenant } from "./Ownership.ts"

export const ownerRoleBindingName = "tenant-owner"
/** The ClusterRole shipped in deploy/cluster; bound per namespace, it grants nothing cluster-wide. */
export const tenantOwnerClusterRole = "kleff-tenant-owner"

export const desiredOwnerRoleBinding = (
  tenant: Tenant,
  namespace: string,
  config: TenantOperatorConfig
): KubeObject =>
  ownedByTenant(tenant, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: ownerRoleBindingName, namespace, labels: tenantChildLabels(tenant) },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: tenantOwnerClusterRole },
    subjects: [
      {
        kind: "User",
        apiGroup: "rbac.authorization.k8s.io",
        name: `${config.userPrefix}${tenant.spec.userId}`
      }
    ]
  })
