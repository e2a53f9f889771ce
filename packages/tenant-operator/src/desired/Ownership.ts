/**
 * Marks a desired child as the Tenant's: the controller owner reference (by UID) and the
 * `app.kubernetes.io/managed-by: kleff-tenant-operator` label, through core's `ownedBy`. Pure.
 */
import { type KubeObject, ownedBy } from "@kleff/core"

/** The value of `app.kubernetes.io/managed-by` on everything this operator writes. */
export const managedBy = "kleff-tenant-operator"

/** `child`, carrying the Tenant's controller reference and the managed-by label. */
export const ownedByTenant = <A extends KubeObject>(tenant: KubeObject, child: A): A =>
  ownedBy(tenant, child, managedBy)
