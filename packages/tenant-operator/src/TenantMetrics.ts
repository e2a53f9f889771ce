/**
 * The per-tenant series on `/metrics`: each tenant's quota, used and hard, by resource; its
 * conditions; and the number of tenants by plan and phase. `tenantFamilies` produces them from
 * Tenants and their ResourceQuotas (pure); `tenantMetricsCollector` serves them at each scrape (a
 * `HealthServer.Collector`) from the informer caches the controllers already hold: the Tenants, and
 * the quotas the tenant controller caches as its own children. So they cost no watch of their own,
 * and they follow the cluster whether or not the usage controller runs.
 *
 * Why at scrape time rather than kept up to date in the process's metric registry: a deleted
 * tenant's series must disappear, and Effect's registry cannot remove a series. Produced afresh at
 * each scrape, family by family as the response is written, a series exists exactly while its
 * tenant does, and there are at most tenants × (quota resources × 2 + conditions) of them (about
 * 30 a tenant: 300,000 at 10,000 tenants), plus plans × phases.
 *
 * Must not write or watch anything; reads caches only.
 */
import { type KubeObject, keyOfRef, type ObjectRef, Quantity } from "@kleff/core"
import type { HealthServer, Informers } from "@kleff/k8s"
import { Effect, Predicate, Result } from "effect"
import { type Quantities, quotaUsage, tenantQuota } from "./UsageReconciler.ts"

export const resourceUsedMetric = "kleff_tenant_resource_used"
export const resourceHardMetric = "kleff_tenant_resource_hard"
export const conditionMetric = "kleff_tenant_condition"
export const tenantsMetric = "kleff_tenants"

const descriptions: Readonly<Record<string, string>> = {
  [resourceUsedMetric]:
    "What a tenant's namespace uses of a quota resource (its ResourceQuota's status.used), in the resource's unit: cores, bytes or a count",
  [resourceHardMetric]:
    "A tenant's quota limit of a resource (its ResourceQuota's status.hard), in the resource's unit: cores, bytes or a count",
  [conditionMetric]: "1 for each condition of a Tenant, with its current status",
  [tenantsMetric]: "The number of Tenants, by plan and phase"
}

/** One series of a family, with the family's name (for tests and readers). */
export interface Sample extends HealthServer.GaugeSample {
  readonly name: string
}

/** The phase a Tenant counts under: its reported one, `Pending` before the operator has reported any. */
const phaseOf = (status: Readonly<Record<string, unknown>>): string =>
  Predicate.isString(status.phase) && status.phase !== "" ? status.phase : "Pending"

const toNumber = (quantity: string | undefined): number | undefined => {
  const parsed = Quantity.parse(quantity ?? "0")
  return Result.isSuccess(parsed) ? Quantity.toNumber(parsed.success) : undefined
}

/**
 * A tenant's quota by resource, as reported (each family parses only the quantities it serves);
 * `undefined` before the quota is counted.
 */
const resourcesOf = (
  tenant: KubeObject,
  get: (ref: ObjectRef) => KubeObject | undefined
):
  | {
      readonly labels: (resource: string) => Readonly<Record<string, string>>
      readonly hard: Quantities
      readonly used: Quantities
    }
  | undefined => {
  const quota = tenantQuota(tenant, get)
  const usage = quota?.quota === undefined ? undefined : quotaUsage(quota.quota)
  if (quota === undefined || usage === undefined) return undefined
  const plan = planOf(tenant)
  return {
    labels: (resource) => ({ tenant: tenant.metadata.name, namespace: quota.namespace, plan, resource }),
    hard: usage.hard,
    used: usage.used
  }
}

const specOf = (tenant: KubeObject): Readonly<Record<string, unknown>> =>
  Predicate.isObject(tenant.spec) ? (tenant.spec as Readonly<Record<string, unknown>>) : {}
const statusOf = (tenant: KubeObject): Readonly<Record<string, unknown>> =>
  Predicate.isObject(tenant.status) ? (tenant.status as Readonly<Record<string, unknown>>) : {}
const planOf = (tenant: KubeObject): string => {
  const plan = specOf(tenant).plan
  return Predicate.isString(plan) ? plan : ""
}

/**
 * The families for the Tenants `tenants()` lists, whose quotas `get` finds (by reference, as a
 * snapshot reads a cache). Each family walks the Tenants when it is written. A tenant whose quota
 * is not counted yet has no resource series; a resource counts as used 0 until the quota reports a
 * use of it.
 */
export const tenantFamilies = (
  tenants: () => Iterable<KubeObject>,
  get: (ref: ObjectRef) => KubeObject | undefined
): ReadonlyArray<HealthServer.GaugeFamily> => [
  {
    name: conditionMetric,
    help: descriptions[conditionMetric] as string,
    *samples() {
      for (const tenant of tenants()) {
        const conditions = statusOf(tenant).conditions
        for (const condition of Array.isArray(conditions) ? conditions : []) {
          if (!Predicate.isObject(condition)) continue
          const { type, status } = condition
          if (!Predicate.isString(type) || !Predicate.isString(status)) continue
          yield { labels: { tenant: tenant.metadata.name, type, status }, value: 1 }
        }
      }
    }
  },
  ...(
    [
      [resourceHardMetric, "hard"],
      [resourceUsedMetric, "used"]
    ] as const
  ).map(
    ([name, column]): HealthServer.GaugeFamily => ({
      name,
      help: descriptions[name] as string,
      *samples() {
        for (const tenant of tenants()) {
          const resources = resourcesOf(tenant, get)
          if (resources === undefined) continue
          for (const resource of Object.keys(resources.hard)) {
            const value = toNumber(resources[column][resource])
            if (value !== undefined) yield { labels: resources.labels(resource), value }
          }
        }
      }
    })
  ),
  {
    name: tenantsMetric,
    help: descriptions[tenantsMetric] as string,
    *samples() {
      const counts = new Map<string, { readonly plan: string; readonly phase: string; count: number }>()
      for (const tenant of tenants()) {
        const plan = planOf(tenant)
        const phase = phaseOf(statusOf(tenant))
        const counted = counts.get(`${plan}\n${phase}`) ?? { plan, phase, count: 0 }
        counted.count++
        counts.set(`${plan}\n${phase}`, counted)
      }
      for (const { plan, phase, count } of counts.values()) yield { labels: { plan, phase }, value: count }
    }
  }
]

/** Every series of the families, with its family's name, in the order they are served. */
export const samplesOf = (families: ReadonlyArray<HealthServer.GaugeFamily>): ReadonlyArray<Sample> =>
  families.flatMap((family) => [...family.samples()].map((sample) => ({ name: family.name, ...sample })))

/** The per-tenant series, from the caches of Tenants and of the tenants' ResourceQuotas, at each scrape. */
export const tenantMetricsCollector = (
  tenants: Informers.ReadonlyCache,
  quotas: Informers.ReadonlyCache
): HealthServer.Collector =>
  Effect.sync(() =>
    tenantFamilies(
      () => tenants.list(),
      (ref) => quotas.get(keyOfRef(ref))
    )
  )
