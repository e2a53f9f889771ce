/**
 * The tenant controller as a core `Reconciler`: its name and finalizer, which kinds it owns and
 * reads, what should exist from its one decision about a Tenant (`TenantDecision`: name its
 * namespace, refuse a foreign namespace, resolve its Plan, and only then build the children) and
 * what to report (`TenantStatus`). While a decision is blocked, the tenant's existing objects are
 * retained, never removed; while the Tenant CRD is being deleted, a deleting Tenant's objects are
 * kept (`crdDeletionHold`). No I/O here: decoding, diffing, ordering, finalizers and writes belong
 * to core and k8s.
 */
import {
  apiVersionOf,
  type DeletionHold,
  type Desired,
  decodeObject,
  isDeleting,
  Kinds,
  type KubeObject,
  keyOfType,
  type ObjectRef,
  type Reconciler,
  type Reference,
  type Snapshot
} from "@kleff/core"
import { Result } from "effect"
import { PlanType } from "./api/Plan.ts"
import { reportedNamespace, type StoredTenant, TenantType, tenantCrdName } from "./api/Tenant.ts"
import { allChildren, tenantOwnedTypes } from "./desired/Children.ts"
import type { TenantOperatorConfig } from "./desired/Config.ts"
import { tenantLabel, tenantNamespaceName } from "./desired/Namespace.ts"
import { managedBy, ownedByTenant } from "./desired/Ownership.ts"
import { NamespaceType } from "./desired/ResourceTypes.ts"
import { decideTenant, type TenantDecision, withReadableStatus } from "./TenantDecision.ts"
import { tenantStatus } from "./TenantStatus.ts"

/** The controller's name: its field manager, event source and metric label. */
export const tenantControllerName = "tenant-controller"
/** Held on every live Tenant until its namespace is gone. */
export const namespaceFinalizer = "kleff.io/namespace-finalizer"

// ---------------------------------------------------------------------------------------------
// desired

const desiredFor = (decision: TenantDecision, config: TenantOperatorConfig): Desired => {
  const retainEverything: Desired = { objects: [], retain: tenantOwnedTypes(config) }
  switch (decision._tag) {
    case "Resolved":
      // A live tenant's namespace is never deleted, even if its name were to change: only
      // deleting the Tenant removes the tenant's data.
      return { objects: allChildren(decision.children), retain: [NamespaceType] }
    case "NamespaceConflict":
      // Desired only so the planner reports the conflict; a foreign object is never written.
      return {
        objects: [
          ownedByTenant(decision.tenant, {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: decision.namespace, labels: { [tenantLabel]: decision.tenant.metadata.name } }
          })
        ],
        retain: tenantOwnedTypes(config)
      }
    case "InvalidNamespaceName":
    case "PlanUnresolved":
      return retainEverything
  }
}

// ---------------------------------------------------------------------------------------------
// the reconciler

/** The name in a Tenant's `spec.plan`, read from the object as stored (it may not decode). */
const planNameOf = (tenant: KubeObject): string | undefined => {
  const spec = (tenant as { readonly spec?: unknown }).spec
  const plan =
    typeof spec === "object" && spec !== null ? (spec as { readonly plan?: unknown }).plan : undefined
  return typeof plan === "string" && plan !== "" ? plan : undefined
}

/** Editing a Plan re-reconciles its Tenants: the ones whose `spec.plan` names it. */
export const planReference: Reference = {
  type: PlanType,
  refersTo: (tenant) => {
    const plan = planNameOf(tenant)
    return plan === undefined ? [] : [keyOfType(PlanType, plan)]
  }
}

/**
 * Every Namespace is read, not only the tenant's own (a namespace a user made at the tenant's
 * namespace name is a conflict the Tenant reports): the Tenant reads the namespace its name
 * settles on, so such a namespace going away re-reconciles it at once.
 */
export const namespaceReference = (config: TenantOperatorConfig): Reference => ({
  type: NamespaceType,
  refersTo: (object) => {
    const tenant = decodeObject(TenantType, object)
    if (Result.isFailure(tenant)) return []
    const name = tenantNamespaceName(withReadableStatus(tenant.success), config)
    return Result.isSuccess(name) ? [keyOfType(NamespaceType, name.success)] : []
  }
})

const tenantCrdRef: ObjectRef = {
  apiVersion: apiVersionOf(Kinds.CustomResourceDefinition),
  kind: Kinds.CustomResourceDefinition.kind,
  name: tenantCrdName
}

/**
 * The Tenant CRD, the one CustomResourceDefinition the controller reads (watched by name): once it
 * is being deleted, every Tenant is requeued, to be held (`crdDeletionHold`).
 */
export const tenantCrdReference: Reference = {
  type: Kinds.CustomResourceDefinition,
  name: tenantCrdName,
  refersTo: () => [keyOfType(Kinds.CustomResourceDefinition, tenantCrdName)],
  matters: isDeleting
}

/** The reason a deleting Tenant's children are kept while the Tenant CRD is being deleted. */
export const crdDeletingReason = "CustomResourceDefinitionDeleting"

/**
 * Deleting the Tenant CRD deletes every Tenant, bypassing admission (so `deletionProtection` too),
 * whatever anyone meant: that is no reason to delete a tenant's namespace. While the CRD is being
 * deleted (or cannot be seen in the cache, which a Tenant's existence rules out but for a moment),
 * a deleting Tenant keeps everything; its finalizer goes once it owns nothing, i.e. once an
 * administrator has orphaned its children (`kubectl delete tenant NAME --cascade=orphan`).
 */
export const crdDeletionHold = (snapshot: Snapshot): DeletionHold | undefined => {
  const crd = snapshot.get(tenantCrdRef)
  if (crd !== undefined && !isDeleting(crd)) return undefined
  const name = snapshot.primary.metadata.name
  const namespace = reportedNamespace(snapshot.primary)
  const state =
    crd === undefined
      ? `CustomResourceDefinition ${tenantCrdName} cannot be seen, as if it were deleted`
      : `CustomResourceDefinition ${tenantCrdName} is being deleted (since ${crd.metadata.deletionTimestamp}), which deletes every Tenant`
  return {
    reason: crdDeletingReason,
    message:
      `${state}. The operator deletes nothing while it is: ${namespace === undefined ? "the tenant's namespace" : `namespace "${namespace}"`} ` +
      "and everything in it stay. To keep them and re-create the CRD: " +
      `kubectl delete tenant ${name} --cascade=orphan --wait=false (the Tenant then goes, its objects stay), ` +
      `wait for the CRD to go, re-apply the CRD and the Tenant, then give it back its objects: tenant-operator adopt ${name}. ` +
      "See Troubleshooting in the operator's README."
  }
}

/** The Tenant controller: a core `Reconciler` that always reports status. */
export type TenantReconciler = Reconciler<StoredTenant, TenantDecision>

/** The Tenant controller for `config`. */
export const makeTenantReconciler = (config: TenantOperatorConfig): TenantReconciler => ({
  name: tenantControllerName,
  primary: TenantType,
  owned: tenantOwnedTypes(config),
  // Its Namespace's conditions tell why a namespace is stuck terminating (`TerminatingNamespace`);
  // no other child's status is read (the quota controller's ResourceQuota updates requeue nothing).
  readsStatusOf: [NamespaceType],
  managedBy,
  references: [planReference, tenantCrdReference, namespaceReference(config)],
  finalizer: namespaceFinalizer,
  holdDeletion: crdDeletionHold,
  decide: (observed) => decideTenant(observed, config),
  desired: (decision) => desiredFor(decision, config),
  ...tenantStatus(config)
})
