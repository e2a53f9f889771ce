/**
 * The per-tenant series on `/metrics`: each tenant's quota, used and hard, by resource; its
 * conditions; and the number of tenants by plan and phase. `tenantSamples` computes them from
 * Tenants and their ResourceQuotas (pure); `tenantMetricsCollector` records them at each scrape
 * (a `HealthServer.Collector`) from the informer caches the controllers already hold: the Tenants,
 * and the quotas the tenant controller caches as its own children. So they cost no watch of their
 * own, and they follow the cluster whether or not the usage controller runs.
 *
 * Why at scrape time rather than kept up to date in the process's metric registry: a deleted
 * tenant's series must disappear, and Effect's registry cannot remove a series. Computed afresh at
 * each scrape, a series exists exactly while its tenant does, and there are at most tenants ×
 * (quota resources × 2 + conditions) of them, plus plans × phases.
 *
 * Must not write or watch anything; reads caches only.
 */
import { type KubeObject, keyOfRef, type ObjectRef, Quantity } from "@kleff/core"
import type { HealthServer, Informers } from "@kleff/k8s"
import { Effect, Metric, Predicate, Result } from "effect"
import { quotaUsage, tenantQuota } from "./UsageReconciler.ts"

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

/** One series and its value. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** The phase a Tenant counts under: its reported one, `Pending` before the operator has reported any. */
const phaseOf = (status: Readonly<Record<string, unknown>>): string =>
  Predicate.isString(status.phase) && status.phase !== "" ? status.phase : "Pending"

const toNumber = (quantity: string | undefined): number | undefined => {
  const parsed = Quantity.parse(quantity ?? "0")
  return Result.isSuccess(parsed) ? Quantity.toNumber(parsed.success) : undefined
}

/**
 * The series for `tenants`, whose quotas `get` finds (by reference, as a snapshot reads a cache).
 * A tenant whose quota is not counted yet has no resource series; a resource counts as used 0
 * until the quota reports a use of it.
 */
export const tenantSamples = (
  tenants: ReadonlyArray<KubeObject>,
  get: (ref: ObjectRef) => KubeObject | undefined
): ReadonlyArray<Sample> => {
  const samples: Array<Sample> = []
  const counts = new Map<string, { readonly plan: string; readonly phase: string; count: number }>()
  for (const tenant of tenants) {
    const name = tenant.metadata.name
    const spec = Predicate.isObject(tenant.spec) ? tenant.spec : {}
    const status = Predicate.isObject(tenant.status)
      ? (tenant.status as Readonly<Record<string, unknown>>)
      : {}
    const plan = Predicate.isString(spec.plan) ? spec.plan : ""
    const phase = phaseOf(status)
    const counted = counts.get(`${plan}\n${phase}`) ?? { plan, phase, count: 0 }
    counted.count++
    counts.set(`${plan}\n${phase}`, counted)

    const conditions = Array.isArray(status.conditions) ? status.conditions : []
    for (const condition of conditions) {
      if (!Predicate.isObject(condition)) continue
      const { type, status: value } = condition
      if (!Predicate.isString(type) || !Predicate.isString(value)) continue
      samples.push({ name: conditionMetric, labels: { tenant: name, type, status: value }, value: 1 })
    }

    const quota = tenantQuota(tenant, get)
    const usage = quota?.quota === undefined ? undefined : quotaUsage(quota.quota)
    if (quota === undefined || usage === undefined) continue
    for (const [resource, hard] of Object.entries(usage.hard)) {
      const labels = { tenant: name, namespace: quota.namespace, plan, resource }
      const [hardValue, usedValue] = [toNumber(hard), toNumber(usage.used[resource])]
      if (hardValue !== undefined) samples.push({ name: resourceHardMetric, labels, value: hardValue })
      if (usedValue !== undefined) samples.push({ name: resourceUsedMetric, labels, value: usedValue })
    }
  }
  for (const { plan, phase, count } of counts.values()) {
    samples.push({ name: tenantsMetric, labels: { plan, phase }, value: count })
  }
  return samples
}

/** Records each sample as a gauge in the current registry (at a scrape: that scrape's own). */
export const recordSamples = (samples: ReadonlyArray<Sample>): Effect.Effect<void> =>
  Effect.forEach(
    samples,
    (sample) =>
      Metric.update(
        Metric.gauge(sample.name, { description: descriptions[sample.name], attributes: sample.labels }),
        sample.value
      ),
    { discard: true }
  )

/** The per-tenant series, from the caches of Tenants and of the tenants' ResourceQuotas, at each scrape. */
export const tenantMetricsCollector = (
  tenants: Informers.ReadonlyCache,
  quotas: Informers.ReadonlyCache
): HealthServer.Collector =>
  Effect.suspend(() => recordSamples(tenantSamples(tenants.list(), (ref) => quotas.get(keyOfRef(ref)))))
