/**
 * Giving a Tenant back objects that were its own (`tenant-operator adopt`): after the Tenant CRD
 * was deleted and re-created, a re-applied Tenant has a new UID, and its orphaned namespace and
 * children are foreign to it (a `NamespaceConflict`, or `Conflict` per child), which the operator
 * never adopts by itself. An administrator adopts them on purpose, and then only objects this
 * operator made for a Tenant of that name and that nothing controls: the
 * `app.kubernetes.io/managed-by: kleff-tenant-operator` and `kleff.io/tenant: <name>` labels (which
 * tenants cannot write: their role gives no write on the Namespace or its guard rails), no
 * controller reference, not being deleted. Anything else stays foreign. Pure: `cli/adopt.ts` reads
 * and writes.
 */
import {
  type Conflict,
  controllerReference,
  controllerUidOf,
  isDeleting,
  type KubeObject,
  managedByLabel
} from "@kleff/core"
import type { Client } from "@kleff/k8s"
import { tenantLabel } from "./desired/Namespace.ts"
import { managedBy } from "./desired/Ownership.ts"
import type { TenantDecision } from "./TenantDecision.ts"

export type Verdict = { readonly adopt: true } | { readonly adopt: false; readonly why: string }

/** Whether `tenant` may take `object` as its own. */
export const adoptionVerdict = (tenant: KubeObject, object: KubeObject): Verdict => {
  const name = tenant.metadata.name
  const labels = object.metadata.labels ?? {}
  const controller = controllerUidOf(object)
  if (controller !== undefined) {
    return {
      adopt: false,
      why:
        controller === tenant.metadata.uid
          ? "it is the Tenant's already"
          : `it is controlled by another object (uid ${controller})`
    }
  }
  if (labels[managedByLabel] !== managedBy)
    return { adopt: false, why: `the tenant operator did not make it (no ${managedByLabel}: ${managedBy})` }
  if (labels[tenantLabel] !== name)
    return {
      adopt: false,
      why:
        labels[tenantLabel] === undefined
          ? `it carries no ${tenantLabel} label`
          : `it was made for Tenant ${labels[tenantLabel]}`
    }
  if (isDeleting(object)) return { adopt: false, why: "it is being deleted" }
  return { adopt: true }
}

/**
 * The foreign objects a decision found at the places of the Tenant's own: its namespace when
 * that is in conflict, else every child in conflict. Empty for any other decision.
 */
export const foreignObjects = (
  decision: TenantDecision | undefined,
  conflicts: ReadonlyArray<Conflict>
): ReadonlyArray<KubeObject> =>
  decision?._tag === "NamespaceConflict"
    ? [decision.existing]
    : decision?._tag === "Resolved"
      ? conflicts.map((conflict) => conflict.existing)
      : []

/**
 * The JSON patch that makes `tenant` the controller of `object`: only if `object` is still the one
 * judged (its UID and resourceVersion are tested), keeping any other owner reference.
 */
export const adoptionPatch = (
  tenant: KubeObject,
  object: KubeObject
): ReadonlyArray<Client.JsonPatchOperation> => {
  const reference = controllerReference(tenant)
  const existing = object.metadata.ownerReferences
  return [
    { op: "test", path: "/metadata/uid", value: object.metadata.uid },
    { op: "test", path: "/metadata/resourceVersion", value: object.metadata.resourceVersion },
    existing === undefined || existing.length === 0
      ? { op: "add", path: "/metadata/ownerReferences", value: [reference] }
      : { op: "add", path: "/metadata/ownerReferences/-", value: reference }
  ]
}
