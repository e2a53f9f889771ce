/**
 * `metav1.Condition` and its merge rules: `lastTransitionTime` changes only when the status
 * flips; every condition records the generation it describes. Pure: "now" is an argument.
 */

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
