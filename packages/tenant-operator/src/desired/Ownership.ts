/**
 * Marks a desired child as the Tenant's: the controller owner reference (by UID) and the
 * `app.kubernetes.io/managed-by` label of the controller that writes it (`kleff-tenant-operator`
 * for the tenant controller's, `kleff-mesh-controller` for the mesh controller's), through core's
 * `ownedBy`. Each controller caches and removes only the children carrying its own value. The
 * static `kleff-managed-objects` admission policy (deploy/cluster/managed-objects-policy.yaml)
 * keeps everyone but the operator and cluster administrators from changing, deleting or forging an
 * object labelled with a `kleff-` value. Pure.
 */
import { type KubeObject, ownedBy } from "@kleff/core"

/** The value of `app.kubernetes.io/managed-by` on everything the tenant controller writes. */
export const managedBy = "kleff-tenant-operator"

/** The value of `app.kubernetes.io/managed-by` on everything the mesh controller writes. */
export const meshManagedBy = "kleff-mesh-controller"

/** The ValidatingAdmissionPolicy (and its binding) that protects objects labelled by these controllers. */
export const managedObjectsPolicyName = "kleff-managed-objects"

/** `child`, carrying the Tenant's controller reference and the managed-by label. */
export const ownedByTenant = <A extends KubeObject>(tenant: KubeObject, child: A): A =>
  ownedBy(tenant, child, managedBy)

/** `child`, carrying the Tenant's controller reference and the mesh controller's managed-by label. */
export const ownedByMesh = <A extends KubeObject>(tenant: KubeObject, child: A): A =>
  ownedBy(tenant, child, meshManagedBy)
