/**
 * The usage controller as a core `Reconciler`: copies the tenant namespace's ResourceQuota
 * (`tenant-quota`) status into the Tenant's `status.usage` — `hard` and `used` in the API
 * server's quantity form, and `updatedAt` — under its own field manager, and writes nothing else:
 * it owns no objects, holds no finalizer and reports no condition.
 *
 * It writes at most once per period per tenant (`--usage-period-seconds`, counted from the
 * stored `updatedAt`), and only for a change worth it: a limit that changed, a resource that came
 * or went, or a use that moved by at least 1 % of its limit since the last write. A change that
 * comes too soon is held back and looked at again when the period ends. With no namespace
 * reported yet, or no quota of the tenant's in it, there is no usage: `status.usage` is removed.
 *
 * It runs beside the tenant controller on the same Tenant cache and relies on it: the namespace is
 * the one the tenant controller reported (`status.namespace`) and the quota the one it made there.
 * The quotas are watched by name (`tenant-quota`), so no other ResourceQuota is cached. Pure: the
 * time is `Observed.now`. No I/O here.
 */
import {
  isControlledBy,
  type KubeObject,
  keyOfType,
  type Observed,
  Quantity,
  type Reconciler,
  type Reference,
  type StatusReport
} from "@kleff/core"
import { Predicate, Result } from "effect"
import { reportedNamespace, type StoredTenant, TenantType } from "./api/Tenant.ts"
import { resourceQuotaName } from "./desired/Quota.ts"
import { ResourceQuotaType } from "./desired/ResourceTypes.ts"

/** The controller's name: its field manager, event source and metric label. */
export const usageControllerName = "usage-controller"

/** The default of `--usage-period-seconds`: a tenant's usage is written at most this often. */
export const defaultUsagePeriodSeconds = 30

/** Quantities by resource name, as the API server wrote them (`requests.cpu: 250m`). */
export type Quantities = Readonly<Record<string, string>>

/** A ResourceQuota's counts, as its status holds them. */
export interface QuotaUsage {
  readonly hard: Quantities
  readonly used: Quantities
}

/** `status.usage` as the usage controller writes it. */
export interface Usage extends QuotaUsage {
  /** When it was written, RFC 3339. */
  readonly updatedAt: string
}

export type UsageDecision =
  /** No usage to report (no namespace reported yet, or no quota of the tenant's in it): `status.usage` is removed. */
  | { readonly _tag: "None"; readonly reason: "NamespaceNotReported" | "QuotaNotFound" }
  /** `status.usage` stays as stored: nothing changed that is worth a write, or the quota is not counted yet. */
  | { readonly _tag: "Keep"; readonly stored: unknown }
  /** A change worth writing came within the period of the last write: kept as stored until then. */
  | { readonly _tag: "Hold"; readonly stored: unknown; readonly afterMillis: number }
  | { readonly _tag: "Write"; readonly usage: Usage }

const record = (value: unknown): Readonly<Record<string, unknown>> | undefined =>
  Predicate.isObject(value) && !Array.isArray(value)
    ? (value as Readonly<Record<string, unknown>>)
    : undefined

/** The string entries of a map. */
const quantities = (value: unknown): Quantities => {
  const entries: Record<string, string> = {}
  for (const [resource, quantity] of Object.entries(record(value) ?? {}))
    if (Predicate.isString(quantity)) entries[resource] = quantity
  return entries
}

/** `status.usage` as stored, read raw (other managers' status is not this controller's to decode). */
export const storedUsage = (tenant: KubeObject): unknown => record(tenant.status)?.usage

/** The tenant's ResourceQuota, if the tenant controller reported a namespace and the quota there is the tenant's. */
export const tenantQuota = (
  tenant: KubeObject,
  get: Observed["get"]
): { readonly namespace: string; readonly quota: KubeObject | undefined } | undefined => {
  const namespace = reportedNamespace(tenant)
  if (namespace === undefined) return undefined
  const quota = get({ apiVersion: "v1", kind: ResourceQuotaType.kind, name: resourceQuotaName, namespace })
  return { namespace, quota: quota !== undefined && isControlledBy(quota, tenant) ? quota : undefined }
}

/** The quota's counts; `undefined` until the API server has counted it (its status has no `hard` yet). */
export const quotaUsage = (quota: KubeObject): QuotaUsage | undefined => {
  const status = record(quota.status)
  if (record(status?.hard) === undefined) return undefined
  return { hard: quantities(status?.hard), used: quantities(status?.used) }
}

const parsed = (value: string | undefined): Quantity.Quantity | undefined =>
  value === undefined ? undefined : Result.getOrUndefined(Quantity.parse(value))

const sameKeys = (a: Quantities, b: Quantities): boolean => {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((key) => key in b)
}

/** Whether `used` moved from `before` by at least 1 % of `hard` (any change when `hard` is zero or unreadable). */
const movedEnough = (
  before: string | undefined,
  after: string | undefined,
  hard: string | undefined
): boolean => {
  if (before === after) return false
  const [from, to, limit] = [parsed(before), parsed(after), parsed(hard)]
  if (from === undefined || to === undefined) return true
  const change = Quantity.subtract(to, from)
  if (Quantity.isZero(change)) return false
  if (limit === undefined || Quantity.isZero(limit)) return true
  const magnitude = Quantity.sign(change) < 0 ? Quantity.negate(change) : change
  return Quantity.compare(Quantity.multiply(magnitude, 100n), limit) >= 0
}

/**
 * Whether `now` differs from what is stored by enough to write: no usage stored, a limit changed
 * or a resource came or went, or a use moved by 1 % of its limit or more.
 */
export const worthWriting = (stored: QuotaUsage | undefined, now: QuotaUsage): boolean => {
  if (stored === undefined) return true
  if (!sameKeys(stored.hard, now.hard) || !sameKeys(stored.used, now.used)) return true
  for (const [resource, hard] of Object.entries(now.hard)) {
    if (!Quantity.sameValue(stored.hard[resource] ?? "", hard)) return true
  }
  return Object.entries(now.used).some(([resource, used]) =>
    movedEnough(stored.used[resource], used, now.hard[resource])
  )
}

/** The stored usage as the controller wrote it; `undefined` when absent or unreadable. */
const readUsage = (
  stored: unknown
): (QuotaUsage & { readonly updatedAt: string | undefined }) | undefined => {
  const usage = record(stored)
  if (usage === undefined) return undefined
  return {
    hard: quantities(usage.hard),
    used: quantities(usage.used),
    updatedAt: Predicate.isString(usage.updatedAt) ? usage.updatedAt : undefined
  }
}

/**
 * How long until a write is allowed, `periodMillis` after `updatedAt`: 0 when that has passed,
 * or when `updatedAt` is missing, unreadable or in the future (another clock's; waiting on it
 * could hold the usage back indefinitely).
 */
export const waitBeforeWrite = (updatedAt: string | undefined, now: string, periodMillis: number): number => {
  const last = updatedAt === undefined ? Number.NaN : Date.parse(updatedAt)
  const at = Date.parse(now)
  if (Number.isNaN(last) || Number.isNaN(at) || last > at) return 0
  return Math.max(0, last + periodMillis - at)
}

export const decideUsage = (observed: Observed<StoredTenant>, periodMillis: number): UsageDecision => {
  const found = tenantQuota(observed.object, observed.get)
  if (found === undefined) return { _tag: "None", reason: "NamespaceNotReported" }
  if (found.quota === undefined) return { _tag: "None", reason: "QuotaNotFound" }
  const stored = storedUsage(observed.object)
  const current = quotaUsage(found.quota)
  const previous = readUsage(stored)
  if (current === undefined || !worthWriting(previous, current)) return { _tag: "Keep", stored }
  const wait = previous === undefined ? 0 : waitBeforeWrite(previous.updatedAt, observed.now, periodMillis)
  return wait > 0
    ? { _tag: "Hold", stored, afterMillis: wait }
    : { _tag: "Write", usage: { ...current, updatedAt: observed.now } }
}

/** `status.usage` as `usage` says (none when undefined), and no condition. */
const usageReport = (usage: unknown): StatusReport => ({
  fields: usage === undefined ? {} : { usage },
  conditions: []
})

/** The tenant's quota, by name: its changes requeue the tenant whose reported namespace holds it. */
export const tenantQuotaReference: Reference = {
  type: ResourceQuotaType,
  name: resourceQuotaName,
  refersTo: (tenant) => {
    const namespace = reportedNamespace(tenant)
    return namespace === undefined ? [] : [keyOfType(ResourceQuotaType, resourceQuotaName, namespace)]
  }
}

export type UsageReconciler = Reconciler<StoredTenant, UsageDecision>

export const makeUsageReconciler = (periodMillis: number): UsageReconciler => ({
  name: usageControllerName,
  primary: TenantType,
  owned: [],
  references: [tenantQuotaReference],
  decide: (observed) => decideUsage(observed, periodMillis),
  desired: (decision) => ({
    objects: [],
    recheckAfterMillis: decision._tag === "Hold" ? decision.afterMillis : undefined
  }),
  status: (decision, outcome) => {
    if (decision === undefined) return usageReport(storedUsage(outcome.snapshot.primary))
    switch (decision._tag) {
      case "None":
        return usageReport(undefined)
      case "Keep":
      case "Hold":
        return usageReport(decision.stored)
      case "Write":
        return usageReport(decision.usage)
    }
  },
  // A Tenant that does not decode keeps the usage it has; nothing is said about the spec here.
  invalid: (_problem, object) => usageReport(storedUsage(object))
})
