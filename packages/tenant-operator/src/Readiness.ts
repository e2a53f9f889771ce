/**
 * Whether a controller's children are in place, as a condition states it: each expected child is
 * present and controlled by the primary, not on its way out, and as its controller desires it
 * (the plan applies nothing to it: `Outcome.toApply`, the planner's own verdict, not compared
 * again here); otherwise the first one that is not, with a reason and a message for a person
 * (`WriteRefused`, `Conflict`, `Provisioning`). Shared by the tenant and mesh controllers'
 * status. Pure: reads the reconcile's `Outcome` only.
 */
import {
  describeRef,
  isControlledBy,
  isDeleting,
  type KubeObject,
  keyOf,
  keyOfRef,
  type ObjectRef,
  type Outcome,
  refOf
} from "@kleff/core"

/** The reason of a condition whose child the API server refused to write (retried slowly until the Plan or the policy changes). */
export const writeRefusedReason = "WriteRefused"

/** A child a condition waits for: where it lives, and what it should look like when that is known. */
export interface Expected {
  readonly ref: ObjectRef
  /** Absent while the Plan is unresolved: then only presence is checked. */
  readonly desired?: KubeObject | undefined
}

export const expectObject = (desired: KubeObject): Expected => ({ ref: refOf(desired), desired })
export const expectRef = (ref: ObjectRef): Expected => ({ ref })

/** What a child looks like in the cache: in place, absent (or not ours), on its way out, or not yet updated. */
export type ChildState = "ready" | "missing" | "deleting" | "outdated"

/** `expected` under `primary`, as the plan of `outcome` found it. */
export const childState = (primary: KubeObject, outcome: Outcome, expected: Expected): ChildState => {
  const object = outcome.snapshot.get(expected.ref)
  if (object === undefined || !isControlledBy(object, primary)) return "missing"
  if (isDeleting(object)) return "deleting"
  // The planner's own test (a value to set, or a field of ours to remove), not made again here.
  return expected.desired !== undefined && outcome.toApply.has(keyOfRef(expected.ref)) ? "outdated" : "ready"
}

const stateMessages: Readonly<Record<Exclude<ChildState, "ready">, string>> = {
  missing: "is not created yet",
  deleting: "is being deleted",
  outdated: "is being updated"
}

export interface Blocker {
  readonly reason: string
  readonly message: string
}

/** The first expected child not in place, with a reason and a message for a person; `undefined` when all are. */
export const firstBlocker = (
  primary: KubeObject,
  outcome: Outcome,
  expected: ReadonlyArray<Expected>
): Blocker | undefined => {
  // A refusal is what a person must act on: it comes before the children merely not created yet.
  const refused = outcome.refused
  const refusedChild =
    refused === undefined
      ? undefined
      : expected.find((child) => keyOfRef(child.ref) === keyOfRef(refused.ref))
  if (refused !== undefined && refusedChild !== undefined && refused.reason !== "AlreadyExists") {
    return {
      reason: writeRefusedReason,
      message: `The API server refused ${describeRef(refusedChild.ref)} (${refused.reason}): ${refused.message}`
    }
  }
  for (const child of expected) {
    const key = keyOfRef(child.ref)
    if (
      outcome.conflicts.some((conflict) => keyOf(conflict.desired) === key) ||
      (refusedChild !== undefined && keyOfRef(refusedChild.ref) === key)
    ) {
      return {
        reason: "Conflict",
        message: `${describeRef(child.ref)} already exists and does not belong to this Tenant; it is left alone.`
      }
    }
    const state = childState(primary, outcome, child)
    if (state !== "ready")
      return { reason: "Provisioning", message: `${describeRef(child.ref)} ${stateMessages[state]}.` }
  }
  return undefined
}
