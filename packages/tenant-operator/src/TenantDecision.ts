/**
 * The tenant controller's one decision about a Tenant (`decideTenant`): name its namespace, refuse
 * a namespace it does not control, resolve its Plan, and only then build the children. Handed to
 * both `desired` and `status` (`TenantReconciler`, `TenantStatus`), so the two never disagree.
 * Pure.
 */
import { isControlledBy, isOfType, type KubeObject, type ObjectRef, type Observed } from "@kleff/core"
import { Result } from "effect"
import { apiVersion } from "./api/Group.ts"
import { type Plan, PlanType } from "./api/Plan.ts"
import { decodeTenantStatus, type StoredTenant, type Tenant } from "./api/Tenant.ts"
import { desiredTenantChildren, type TenantChildren } from "./desired/Children.ts"
import type { TenantOperatorConfig } from "./desired/Config.ts"
import { type InvalidNamespaceName, tenantNamespaceName } from "./desired/Namespace.ts"
import { NamespaceType } from "./desired/ResourceTypes.ts"

/** What the controller concluded about one Tenant, before any diffing. */
export type TenantDecision =
  /** The namespace template gives a name that is not a DNS-1123 label. */
  | { readonly _tag: "InvalidNamespaceName"; readonly tenant: Tenant; readonly invalid: InvalidNamespaceName }
  /** A namespace this Tenant does not control already holds the name. */
  | {
      readonly _tag: "NamespaceConflict"
      readonly tenant: Tenant
      readonly namespace: string
      readonly existing: KubeObject
    }
  /** The Plan is missing or invalid: nothing is created, nothing existing is removed. */
  | {
      readonly _tag: "PlanUnresolved"
      readonly tenant: Tenant
      readonly namespace: string
      readonly reason: "PlanNotFound" | "InvalidPlan"
      readonly message: string
    }
  | {
      readonly _tag: "Resolved"
      readonly tenant: Tenant
      readonly namespace: string
      readonly plan: Plan
      readonly children: TenantChildren
    }

/** A reference to the Plan a Tenant names. */
export const planRef = (name: string): ObjectRef => ({ apiVersion, kind: PlanType.kind, name })

const namespaceRef = (name: string): ObjectRef => ({ apiVersion: "v1", kind: NamespaceType.kind, name })

/** The names of the namespaces the primary already controls (one, unless something went wrong). */
const ownedNamespaceNames = (primary: KubeObject, observed: Observed<StoredTenant>): ReadonlyArray<string> =>
  observed.owned
    .filter((object) => isOfType(object, NamespaceType) && isControlledBy(object, primary))
    .map((object) => object.metadata.name)

/** The Tenant with its status when that decodes (a status it cannot read is dropped: it is rewritten). */
export const withReadableStatus = (stored: StoredTenant): Tenant => {
  const { status, ...tenant } = stored
  const decoded = status === undefined ? undefined : Result.getOrUndefined(decodeTenantStatus(status))
  return decoded === undefined ? tenant : { ...tenant, status: decoded }
}

export const decideTenant = (
  observed: Observed<StoredTenant>,
  config: TenantOperatorConfig
): TenantDecision => {
  const tenant = withReadableStatus(observed.primary)
  const primary = observed.object

  const name = tenantNamespaceName(tenant, config, ownedNamespaceNames(primary, observed))
  if (Result.isFailure(name)) return { _tag: "InvalidNamespaceName", tenant, invalid: name.failure }
  const namespace = name.success

  const existing = observed.get(namespaceRef(namespace))
  if (existing !== undefined && !isControlledBy(existing, primary)) {
    return { _tag: "NamespaceConflict", tenant, namespace, existing }
  }

  const plan = observed.read(PlanType, tenant.spec.plan)
  if (plan === undefined) {
    return {
      _tag: "PlanUnresolved",
      tenant,
      namespace,
      reason: "PlanNotFound",
      message: `Plan "${tenant.spec.plan}" does not exist.`
    }
  }
  if (Result.isFailure(plan)) {
    return {
      _tag: "PlanUnresolved",
      tenant,
      namespace,
      reason: "InvalidPlan",
      message: `Plan "${tenant.spec.plan}" is invalid:\n${plan.failure.message}`
    }
  }
  return {
    _tag: "Resolved",
    tenant,
    namespace,
    plan: plan.success,
    children: desiredTenantChildren(tenant, plan.success, namespace, config)
  }
}
