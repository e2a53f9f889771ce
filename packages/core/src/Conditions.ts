/**
 * `metav1.Condition` and its merge rules: `lastTransitionTime` changes only when the status
 * flips; every condition records the generation it describes; a message is cut to the length
 * the API allows. Pure: "now" is an argument.
 * Must not read a clock or decide what a condition says: that is the controller's `status()`.
 */
import { Predicate } from "effect"

export type ConditionStatus = "True" | "False" | "Unknown"

/** `metav1.Condition`. */
export interface Condition {
  readonly type: string
  readonly status: ConditionStatus
  readonly reason: string
  readonly message: string
  readonly lastTransitionTime: string
  readonly observedGeneration?: number | undefined
}

/** A condition as a controller states it; the framework adds the bookkeeping fields. */
export interface ConditionInput {
  readonly type: string
  readonly status: ConditionStatus
  /** UpperCamelCase, as the API conventions ask. */
  readonly reason: string
  readonly message: string
}

/** What `mergeConditions` needs besides the conditions: the time of this reconcile and the generation it saw. */
export interface ConditionClock {
  /** RFC 3339; becomes `lastTransitionTime` of a new condition or one whose status flips. */
  readonly now: string
  /** The primary's `metadata.generation`, recorded as each condition's `observedGeneration`. */
  readonly generation?: number | undefined
}

/** metav1.Condition's bound on `message`, in UTF-8 bytes: the API server refuses a status with a longer one. */
export const conditionMessageMaxBytes = 32768

const cutMark = `\n… (cut: a condition message holds at most ${conditionMessageMaxBytes} bytes)`

const utf8Length = (codePoint: number): number =>
  codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4

const utf8LengthOf = (text: string): number => {
  let bytes = 0
  for (const char of text) bytes += utf8Length(char.codePointAt(0) ?? 0)
  return bytes
}

/**
 * `message` as a condition can hold it: unchanged when it fits in `conditionMessageMaxBytes`,
 * otherwise cut at a character boundary and marked as cut. Idempotent. A message built from data
 * (every issue of an invalid object, with its path) has no bound of its own.
 */
export const boundedMessage = (message: string): string => {
  // A UTF-16 code unit is at most three UTF-8 bytes.
  if (message.length * 3 <= conditionMessageMaxBytes || utf8LengthOf(message) <= conditionMessageMaxBytes) {
    return message
  }
  const budget = conditionMessageMaxBytes - utf8LengthOf(cutMark)
  let bytes = 0
  let end = 0
  for (const char of message) {
    bytes += utf8Length(char.codePointAt(0) ?? 0)
    if (bytes > budget) break
    end += char.length
  }
  return `${message.slice(0, end)}${cutMark}`
}

/**
 * The conditions to write, with `meta.SetStatusCondition` semantics: a condition keeps its
 * `lastTransitionTime` unless its status flips (a new type starts at `now`); reason, message and
 * `observedGeneration` are taken from this reconcile, the message cut to what the API allows
 * (`boundedMessage`). The result lists the reported types in the order given (a repeated type:
 * the last one wins, at the first one's place); types no longer reported are dropped, since a
 * controller reports all of its conditions every time.
 */
export const mergeConditions = (
  previous: ReadonlyArray<Condition> | undefined,
  inputs: ReadonlyArray<ConditionInput>,
  clock: ConditionClock
): ReadonlyArray<Condition> => {
  const byType = new Map<string, ConditionInput>()
  for (const input of inputs) byType.set(input.type, input)
  const merged: Array<Condition> = []
  for (const input of inputs) {
    const latest = byType.get(input.type)
    if (latest === undefined) continue
    byType.delete(input.type)
    const before = findCondition(previous, latest.type)
    const lastTransitionTime =
      before !== undefined && before.status === latest.status ? before.lastTransitionTime : clock.now
    const message = boundedMessage(latest.message)
    merged.push(
      clock.generation === undefined
        ? {
            type: latest.type,
            status: latest.status,
            reason: latest.reason,
            message,
            lastTransitionTime
          }
        : {
            type: latest.type,
            status: latest.status,
            reason: latest.reason,
            message,
            lastTransitionTime,
            observedGeneration: clock.generation
          }
    )
  }
  return merged
}

/** The condition of `type`, if present. */
export const findCondition = (
  conditions: ReadonlyArray<Condition> | undefined,
  type: string
): Condition | undefined => conditions?.find((condition) => condition.type === type)

/** Whether the condition of `type` is present with status `True`. */
export const isTrue = (conditions: ReadonlyArray<Condition> | undefined, type: string): boolean =>
  findCondition(conditions, type)?.status === "True"

/** Whether the condition of `type` is present with status `False`. */
export const isFalse = (conditions: ReadonlyArray<Condition> | undefined, type: string): boolean =>
  findCondition(conditions, type)?.status === "False"

/** Same conditions in the same order, field for field (an absent `observedGeneration` equals `undefined`). */
export const conditionsEqual = (a: ReadonlyArray<Condition>, b: ReadonlyArray<Condition>): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i]
    const y = b[i]
    if (
      x === undefined ||
      y === undefined ||
      x.type !== y.type ||
      x.status !== y.status ||
      x.reason !== y.reason ||
      x.message !== y.message ||
      x.lastTransitionTime !== y.lastTransitionTime ||
      x.observedGeneration !== y.observedGeneration
    ) {
      return false
    }
  }
  return true
}

/**
 * Reads `status.conditions` of an object as the framework wrote them; entries that are not
 * conditions are skipped (a status edited by hand must not crash a reconcile).
 */
export const conditionsOf = (status: unknown): ReadonlyArray<Condition> => {
  if (!Predicate.isObject(status)) return []
  const conditions = status.conditions
  return Array.isArray(conditions) ? conditions.filter(isCondition) : []
}

const conditionStatuses: ReadonlySet<unknown> = new Set(["True", "False", "Unknown"])

const isCondition = (value: unknown): value is Condition =>
  Predicate.isObject(value) &&
  Predicate.isString(value.type) &&
  conditionStatuses.has(value.status) &&
  Predicate.isString(value.reason) &&
  Predicate.isString(value.message) &&
  Predicate.isString(value.lastTransitionTime) &&
  (value.observedGeneration === undefined || Predicate.isNumber(value.observedGeneration))
