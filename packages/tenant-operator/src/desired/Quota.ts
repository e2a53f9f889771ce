/**
 * The plan's resource bounds in the tenant's namespace: the `ResourceQuota` `tenant-quota`
 * (`spec.hard` is the plan's quota) and the `LimitRange` `tenant-limits` (container defaults and
 * maximums). Quantities are written in the form the API server stores them (`1000m` → `1`), so
 * a rendered manifest reads like the live object. Pure.
 */
import { Canonical, type KubeObject } from "@kleff/core"
import type { ContainerResources, Plan, PlanLimitRange } from "../api/Plan.ts"
import type { Tenant } from "../api/Tenant.ts"
import { tenantChildLabels } from "./Namespace.ts"
import { ownedByTenant } from "./Ownership.ts"

export const resourceQuotaName = "tenant-quota"
export const limitRangeName = "tenant-limits"

export const desiredResourceQuota = (tenant: Tenant, plan: Plan, namespace: string): KubeObject =>
  Canonical.canonicalize(
    ownedByTenant(tenant, {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: resourceQuotaName, namespace, labels: tenantChildLabels(tenant) },
      spec: { hard: { ...plan.spec.quota } }
    })
  )

type ResourceMap = Readonly<Record<string, string>>

const resourceMap = (resources: ContainerResources | undefined): ResourceMap =>
  Object.fromEntries(Object.entries(resources ?? {}).filter(([, quantity]) => quantity !== undefined))

const withMissing = (base: ResourceMap, from: ResourceMap): ResourceMap => ({ ...from, ...base })

/**
 * The LimitRange item as the API server stores it. It defaults a Container item the way
 * `SetDefaults_LimitRangeItem` does — a missing default limit to the max, a missing default
 * request to the default limit — and the item is an atomic list element, so the desired object
 * states those defaults itself and converges instead of differing forever.
 */
export const containerLimits = (
  limitRange: PlanLimitRange
): Readonly<Record<string, unknown>> | undefined => {
  const max = resourceMap(limitRange.max)
  const defaultLimit = withMissing(resourceMap(limitRange.default), max)
  const defaultRequest = withMissing(resourceMap(limitRange.defaultRequest), defaultLimit)
  const item: Record<string, unknown> = { type: "Container" }
  if (Object.keys(defaultLimit).length > 0) item.default = defaultLimit
  if (Object.keys(defaultRequest).length > 0) item.defaultRequest = defaultRequest
  if (Object.keys(max).length > 0) item.max = max
  return Object.keys(item).length > 1 ? item : undefined
}

/** The LimitRange for `plan`, or none when the plan sets no container limits. */
export const desiredLimitRange = (tenant: Tenant, plan: Plan, namespace: string): KubeObject | undefined => {
  const item = plan.spec.limitRange === undefined ? undefined : containerLimits(plan.spec.limitRange)
  if (item === undefined) return undefined
  return Canonical.canonicalize(
    ownedByTenant(tenant, {
      apiVersion: "v1",
      kind: "LimitRange",
      metadata: { name: limitRangeName, namespace, labels: tenantChildLabels(tenant) },
      spec: { limits: [item] }
    })
  )
}
