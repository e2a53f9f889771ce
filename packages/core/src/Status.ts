/**
 * The status a controller writes: the fields and conditions it reports, server-side applied to
 * the primary's status subresource under its own field manager. Controllers that share a primary
 * (a Tenant's tenant, mesh and usage controllers) each own what they report and leave the rest
 * alone: conditions are a map keyed by `type`, so one controller's `MeshReady` is not another's to
 * replace or remove.
 *
 * Owns the decision whether a status write is due: a reported value differs from the stored one,
 * or a field this manager applied before is no longer reported (the apply removes it). Pure:
 * "now" is an argument. Must not decide what a condition says (that is the reconciler's
 * `status()`) nor look at fields other managers own.
 */
import { conditionsOf, findCondition, mergeConditions } from "./Conditions.ts"
import { jsonEqual } from "./Diff.ts"
import { appliedFieldsOf, firstUnwantedStatus } from "./ManagedFields.ts"
import type { KubeObject } from "./Object.ts"
import type { StatusReport } from "./Reconciler.ts"

/** The status subresource, as `managedFields` entries name it. */
export const statusSubresource = "status"

/** Whether the stored status already says what `status` says, value for value (conditions by type). */
const alreadyStored = (status: Readonly<Record<string, unknown>>, stored: unknown): boolean => {
  const previous = (typeof stored === "object" && stored !== null ? stored : {}) as Record<string, unknown>
  for (const key in status) {
    if (key === "conditions") continue
    if (!jsonEqual(status[key], previous[key])) return false
  }
  const before = conditionsOf(previous)
  const conditions = (status.conditions ?? []) as ReadonlyArray<{ readonly type: string }>
  return conditions.every((condition) => jsonEqual(condition, findCondition(before, condition.type)))
}

/**
 * What `manager` applies to `primary`'s status for `report` at `now`, or `undefined` when the
 * stored status already says it and holds nothing of `manager`'s that it no longer reports.
 * Conditions keep their `lastTransitionTime` unless their status flips (`mergeConditions`); each
 * records the primary's generation, as does `observedGeneration`.
 */
export const statusToApply = (
  report: StatusReport | undefined,
  primary: KubeObject,
  now: string,
  manager: string
): Readonly<Record<string, unknown>> | undefined => {
  if (report === undefined) return undefined
  const stored = primary.status
  const generation = primary.metadata.generation
  const status: Record<string, unknown> = { ...report.fields }
  const conditions = mergeConditions(conditionsOf(stored), report.conditions, { now, generation })
  if (conditions.length > 0) status.conditions = conditions
  if (generation !== undefined) status.observedGeneration = generation
  if (!alreadyStored(status, stored)) return status
  const owned = appliedFieldsOf(primary, manager, statusSubresource)
  return owned !== undefined && firstUnwantedStatus(owned, status) !== undefined ? status : undefined
}
