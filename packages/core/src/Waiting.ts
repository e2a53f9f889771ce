/**
 * When a primary that waits (on children to go, on a conflict, on a hold) is looked at again: a
 * backoff computed from when what it waits on began, so it needs no memory between reconciles.
 *
 * Pure. Must not decide what a primary waits on: that is `Plan`.
 */
import { isNamespace, type KubeObject } from "./Object.ts"

/** How long a waiting primary waits before it is looked at again, unless its reconciler says otherwise. */
export const defaultWaitMillis = 5000

/** The longest a waiting primary goes without a look, however long it has waited (a watch event still wakes it at once). */
export const maxWaitMillis = 300_000

/**
 * When to look again at a primary that waits on things pending since `since` (RFC 3339 times;
 * `undefined` for one that has just begun, or whose start is unknown): as long again as the most
 * recent of them has taken, so the looks come 1, 2, 4, 8 … × `waitMillis` after it began (a
 * backoff that needs no memory between reconciles); at least `waitMillis`, at most
 * `maxWaitMillis`. Something stuck for an hour is looked at every five minutes, not every five
 * seconds; its going is a watch event, which wakes the primary at once anyway.
 */
export const waitAfter = (
  waitMillis: number,
  since: ReadonlyArray<string | undefined>,
  now: string
): number => {
  const nowMillis = Date.parse(now)
  let latest = Number.NEGATIVE_INFINITY
  for (const time of since) {
    const millis = time === undefined ? Number.NaN : Date.parse(time)
    if (Number.isNaN(millis) || Number.isNaN(nowMillis)) return waitMillis
    latest = Math.max(latest, millis)
  }
  const elapsed = nowMillis - latest
  return Math.min(Math.max(waitMillis, elapsed), Math.max(waitMillis, maxWaitMillis))
}

/**
 * When an owned object's going began: its own deletion, or its namespace's (the namespace
 * controller deletes what is inside); `undefined` while neither has begun.
 */
export const pendingSince = (
  object: KubeObject,
  remaining: ReadonlyArray<KubeObject>
): string | undefined => {
  if (object.metadata.deletionTimestamp !== undefined) return object.metadata.deletionTimestamp
  const namespace = object.metadata.namespace
  if (namespace === undefined || namespace === "") return undefined
  return remaining.find((other) => isNamespace(other) && other.metadata.name === namespace)?.metadata
    .deletionTimestamp
}
