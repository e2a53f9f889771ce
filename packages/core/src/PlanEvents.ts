/**
 * What the events a plan records say: a summary of the child writes within the event size limit,
 * the Warning for objects in conflict, and the one for a write the API server refused.
 *
 * Pure. Must not decide when an event is recorded: that is `Plan`.
 */
import { Action } from "./Action.ts"
import { describeRef, type KubeObject, type ObjectRef, refOf } from "./Object.ts"
import type { Conflict, Refusal } from "./Reconciler.ts"

/** Longest event message planned; longer summaries end with how many writes were left out. */
export const maxEventMessageLength = 1024

export const nameOf = (object: KubeObject): string => describeRef(refOf(object))

export interface ChildWrites {
  readonly created: ReadonlyArray<KubeObject>
  readonly updated: ReadonlyArray<KubeObject>
  readonly deleted: ReadonlyArray<KubeObject>
}

/** `Created` / `Updated` / `Deleted` when only one kind of write happened, `Reconciled` otherwise. */
export const eventReason = (writes: ChildWrites): string => {
  const kinds = [writes.created, writes.updated, writes.deleted].filter((list) => list.length > 0).length
  if (kinds > 1) return "Reconciled"
  if (writes.created.length > 0) return "Created"
  if (writes.updated.length > 0) return "Updated"
  return "Deleted"
}

/** Summarises writes as `created Namespace t-a, ConfigMap t-a/x; deleted ConfigMap t-a/old`, within `limit` characters. */
export const summarizeWrites = (writes: ChildWrites, limit: number = maxEventMessageLength): string => {
  const parts: Array<string> = []
  let length = 0
  let left = 0
  const groups: ReadonlyArray<readonly [string, ReadonlyArray<KubeObject>]> = [
    ["created", writes.created],
    ["updated", writes.updated],
    ["deleted", writes.deleted]
  ]
  for (const [verb, objects] of groups) {
    if (objects.length === 0) continue
    const names: Array<string> = []
    for (const object of objects) {
      const name = nameOf(object)
      // Keep room for the "; …" separators and the "and N more" tail.
      if (left > 0 || length + name.length + verb.length + 24 > limit) {
        left++
        continue
      }
      names.push(name)
      length += name.length + 2
    }
    if (names.length > 0) {
      parts.push(`${verb} ${names.join(", ")}`)
      length += verb.length + 3
    }
  }
  const summary = parts.join("; ")
  return left > 0 ? `${summary}${summary === "" ? "" : " "}and ${left} more` : summary
}

/** `message`, cut to the event size limit. */
export const eventMessage = (message: string): string =>
  message.length > maxEventMessageLength ? `${message.slice(0, maxEventMessageLength - 1)}…` : message

export const conflictMessage = (primary: KubeObject, conflicts: ReadonlyArray<Conflict>): string => {
  const names = conflicts.map((conflict) => nameOf(conflict.existing))
  const shown = names.slice(0, 10).join(", ")
  const more = names.length > 10 ? ` and ${names.length - 10} more` : ""
  return eventMessage(
    `${shown}${more} already exist${names.length === 1 ? "s" : ""} and ${names.length === 1 ? "is" : "are"} not controlled by ${primary.kind} ${primary.metadata.name}; left untouched`
  )
}

/** The reason of the Warning event that announces a refused write. */
export const refusedEventReason = "WriteRefused"

/** A refused write is announced once, with the status change that records it. */
export const refusalEvent = (regarding: ObjectRef, uid: string, refused: Refusal): Action =>
  Action.Event({
    regarding,
    uid,
    type: "Warning",
    reason: refusedEventReason,
    message: eventMessage(`${describeRef(refused.ref)}: ${refused.reason}: ${refused.message}`)
  })
