/**
 * `plan(reconciler, observed, now)`: the one decision of every controller, as data. Compares only
 * the fields a controller manages, in canonical form; orders the actions; never touches an
 * object the primary does not control (checked by UID). Pure: no I/O, no clock, no randomness.
 *
 * The rules, in the order actions are planned:
 * - Live primary: `AddFinalizer` first (nothing is written before the finalizer holds); then one
 *   `Apply` per desired child that is absent (create) or controlled by the primary and differs
 *   (update), Namespaces first, then other cluster-scoped kinds, then namespaced kinds, each by
 *   key. A child held by a foreign object is a conflict, never written; a child inside a Namespace
 *   in conflict is blocked. Then `Delete` for each owned, no longer desired, not retained child
 *   (skipping ones already terminating or inside a namespace that is itself deleted).
 * - Deleting primary under our finalizer: `Delete` every owned child not already terminating,
 *   `Requeue` while any remains; `RemoveFinalizer` last, only once none remains.
 * - Then `PatchStatus` when the status changed (never for a reconciler without `status`, nor for
 *   a primary about to lose its last finalizer), one `Event` summarising child writes (and a
 *   Warning the first time a conflict is recorded), and `Requeue` while waiting on a conflict or
 *   on children to go. A converged primary plans no action at all.
 *
 * The result does not depend on the order of `observed.owned` or of `desired().objects`.
 */
import { Action } from "./Action.ts"
import { conditionsOf, mergeConditions } from "./Conditions.ts"
import { differs, jsonEqual } from "./Diff.ts"
import { finalizerState, finalizerStep } from "./Finalizer.ts"
import {
  controllerUidOf,
  isDeleting,
  isNamespace,
  isOfType,
  type KubeObject,
  keyOf,
  type ObjectKey,
  type ObjectRef,
  refOf
} from "./Object.ts"
import type { Conflict, Desired, Observed, Outcome, Reconciler } from "./Reconciler.ts"

export interface Plan<P extends KubeObject = KubeObject> {
  /** In execution order; stop at the first failure. Empty when the primary has converged. */
  readonly actions: ReadonlyArray<Action>
  readonly outcome: Outcome<P>
}

/** How long a waiting primary waits before it is looked at again, unless its reconciler says otherwise. */
export const defaultWaitMillis = 5000

/** Longest event message planned; longer summaries end with how many writes were left out. */
export const maxEventMessageLength = 1024

// ---------------------------------------------------------------------------------------------
// Ordering

/** 0: Namespaces, 1: other cluster-scoped objects, 2: namespaced objects. */
const rankOf = (object: KubeObject): number =>
  isNamespace(object)
    ? 0
    : object.metadata.namespace === undefined || object.metadata.namespace === ""
      ? 1
      : 2

interface Keyed {
  readonly object: KubeObject
  readonly key: ObjectKey
  readonly rank: number
}

const keyed = (object: KubeObject): Keyed => ({ object, key: keyOf(object), rank: rankOf(object) })

/** Writes in creation order: Namespaces, cluster-scoped, namespaced; by key within a rank. */
const creationOrder = (a: Keyed, b: Keyed): number =>
  a.rank !== b.rank ? a.rank - b.rank : a.key < b.key ? -1 : a.key > b.key ? 1 : 0

/** Deletes in the reverse: namespaced objects first, Namespaces last. */
const deletionOrder = (a: Keyed, b: Keyed): number => creationOrder(b, a)

// ---------------------------------------------------------------------------------------------
// Event messages

const nameOf = (object: KubeObject): string =>
  object.metadata.namespace === undefined || object.metadata.namespace === ""
    ? `${object.kind} ${object.metadata.name}`
    : `${object.kind} ${object.metadata.namespace}/${object.metadata.name}`

interface ChildWrites {
  readonly created: ReadonlyArray<KubeObject>
  readonly updated: ReadonlyArray<KubeObject>
  readonly deleted: ReadonlyArray<KubeObject>
}

/** `Created` / `Updated` / `Deleted` when only one kind of write happened, `Reconciled` otherwise. */
const eventReason = (writes: ChildWrites): string => {
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

const conflictMessage = (primary: KubeObject, conflicts: ReadonlyArray<Conflict>): string => {
  const names = conflicts.map((conflict) => nameOf(conflict.existing))
  const shown = names.slice(0, 10).join(", ")
  const more = names.length > 10 ? ` and ${names.length - 10} more` : ""
  const message = `${shown}${more} already exist${names.length === 1 ? "s" : ""} and ${names.length === 1 ? "is" : "are"} not controlled by ${primary.kind} ${primary.metadata.name}; left untouched`
  return message.length > maxEventMessageLength ? `${message.slice(0, maxEventMessageLength - 1)}…` : message
}

// ---------------------------------------------------------------------------------------------
// Status

const statusOf = (object: KubeObject): unknown => object.status

/** The status to write, or `undefined` when the observed one already says the same. */
const nextStatus = <P extends KubeObject>(
  reconciler: Reconciler<P>,
  primary: P,
  outcome: Outcome<P>,
  now: string
): Readonly<Record<string, unknown>> | undefined => {
  if (reconciler.status === undefined) return undefined
  const report = reconciler.status(primary, outcome)
  const previous = statusOf(primary)
  const generation = primary.metadata.generation
  const conditions = mergeConditions(conditionsOf(previous), report.conditions, { now, generation })
  const status: Record<string, unknown> = { ...report.fields, conditions }
  if (generation !== undefined) status.observedGeneration = generation
  return jsonEqual(status, previous) ? undefined : status
}

// ---------------------------------------------------------------------------------------------
// The plan

/** The owned objects the primary really controls: a loose cache index must never widen what may be deleted. */
const controlled = (owned: ReadonlyArray<KubeObject>, uid: string): ReadonlyArray<KubeObject> =>
  uid === "" ? [] : owned.filter((object) => controllerUidOf(object) === uid)

/** Namespaced objects whose namespace is in `namespaces` go with it, so need no delete of their own. */
const insideAny = (object: KubeObject, namespaces: ReadonlySet<string>): boolean =>
  object.metadata.namespace !== undefined && namespaces.has(object.metadata.namespace)

const sortedByKey = (objects: ReadonlyArray<KubeObject>): ReadonlyArray<KubeObject> =>
  objects
    .map(keyed)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((entry) => entry.object)

export const plan = <P extends KubeObject>(
  reconciler: Reconciler<P>,
  observed: Observed<P>,
  /** The current time, RFC 3339, for condition transition times. */
  now: string
): Plan<P> => {
  const primary = observed.primary
  const uid = primary.metadata.uid ?? ""
  const owned = controlled(observed.owned, uid)
  return isDeleting(primary)
    ? planDeletion(reconciler, observed, owned, uid, now)
    : planLive(reconciler, observed, owned, uid, now)
}

const planLive = <P extends KubeObject>(
  reconciler: Reconciler<P>,
  observed: Observed<P>,
  owned: ReadonlyArray<KubeObject>,
  uid: string,
  now: string
): Plan<P> => {
  const primary = observed.primary
  const primaryRef = refOf(primary)
  const actions: Array<Action> = []
  const step = finalizerStep(finalizerState(primary, reconciler.finalizer, []))
  if (step.addFinalizer && reconciler.finalizer !== undefined) {
    actions.push(Action.AddFinalizer({ ref: primaryRef, uid, finalizer: reconciler.finalizer }))
  }

  const desired: Desired = reconciler.desired(primary, observed)
  const entries = desired.objects.map(keyed).sort(creationOrder)
  const desiredKeys = new Set<ObjectKey>()
  const conflictedNamespaces = new Set<string>()
  const terminatingNamespaces = new Set<string>()
  const conflicts: Array<Conflict> = []
  const blocked: Array<KubeObject> = []
  const created: Array<KubeObject> = []
  const updated: Array<KubeObject> = []
  let waiting = false

  for (const { object, key } of entries) {
    if (desiredKeys.has(key)) continue
    desiredKeys.add(key)
    const namespace = object.metadata.namespace
    if (namespace !== undefined && namespace !== "") {
      if (conflictedNamespaces.has(namespace)) {
        blocked.push(object)
        continue
      }
      if (terminatingNamespaces.has(namespace)) {
        waiting = true
        continue
      }
    }
    const current = observed.get(refOf(object))
    if (current === undefined) {
      actions.push(Action.Apply({ object, create: true }))
      created.push(object)
    } else if (controllerUidOf(current) !== uid || uid === "") {
      conflicts.push({ desired: object, existing: current })
      if (isNamespace(object)) conflictedNamespaces.add(object.metadata.name)
    } else if (isDeleting(current)) {
      // Ours but on its way out: wait for it to go, then create it afresh.
      waiting = true
      if (isNamespace(object)) terminatingNamespaces.add(object.metadata.name)
    } else if (differs(object, current)) {
      actions.push(Action.Apply({ object, create: false, uid: current.metadata.uid }))
      updated.push(object)
    }
  }

  const retain = desired.retain ?? []
  const goingNamespaces = new Set<string>()
  const candidates: Array<KubeObject> = []
  for (const object of owned) {
    if (desiredKeys.has(keyOf(object))) continue
    if (retain.some((type) => isOfType(object, type))) continue
    if (isNamespace(object)) goingNamespaces.add(object.metadata.name)
    if (!isDeleting(object)) candidates.push(object)
  }
  const deleted = candidates
    .filter((object) => !insideAny(object, goingNamespaces))
    .map(keyed)
    .sort(deletionOrder)
    .map((entry) => entry.object)
  for (const object of deleted) {
    actions.push(Action.Delete({ ref: refOf(object), uid: object.metadata.uid ?? "" }))
  }

  const outcome: Outcome<P> = {
    observed,
    desired,
    conflicts,
    blocked,
    deleting: false,
    remaining: []
  }
  const status = nextStatus(reconciler, primary, outcome, now)
  if (status !== undefined) actions.push(Action.PatchStatus({ ref: primaryRef, uid, status }))
  const writes: ChildWrites = { created, updated, deleted }
  if (created.length + updated.length + deleted.length > 0) {
    actions.push(
      Action.Event({
        regarding: primaryRef,
        uid,
        type: "Normal",
        reason: eventReason(writes),
        message: summarizeWrites(writes)
      })
    )
  }
  // A conflict is reported once, with the status change that records it, not on every resync.
  if (conflicts.length > 0 && status !== undefined) {
    actions.push(
      Action.Event({
        regarding: primaryRef,
        uid,
        type: "Warning",
        reason: "Conflict",
        message: conflictMessage(primary, conflicts)
      })
    )
  }
  if (conflicts.length > 0 || waiting) {
    actions.push(Action.Requeue({ afterMillis: reconciler.waitMillis ?? defaultWaitMillis }))
  }
  return { actions, outcome }
}

const planDeletion = <P extends KubeObject>(
  reconciler: Reconciler<P>,
  observed: Observed<P>,
  owned: ReadonlyArray<KubeObject>,
  uid: string,
  now: string
): Plan<P> => {
  const primary = observed.primary
  const primaryRef: ObjectRef = refOf(primary)
  const remaining = sortedByKey(owned)
  const outcome: Outcome<P> = {
    observed,
    desired: undefined,
    conflicts: [],
    blocked: [],
    deleting: true,
    remaining
  }
  const step = finalizerStep(finalizerState(primary, reconciler.finalizer, remaining))
  const finalizer = reconciler.finalizer
  if (finalizer === undefined || !(step.deleteChildren || step.removeFinalizer))
    return { actions: [], outcome }

  const actions: Array<Action> = []
  const goingNamespaces = new Set<string>()
  for (const object of remaining) if (isNamespace(object)) goingNamespaces.add(object.metadata.name)
  const deleted = step.deleteChildren
    ? remaining
        .filter((object) => !isDeleting(object) && !insideAny(object, goingNamespaces))
        .map(keyed)
        .sort(deletionOrder)
        .map((entry) => entry.object)
    : []
  for (const object of deleted) {
    actions.push(Action.Delete({ ref: refOf(object), uid: object.metadata.uid ?? "" }))
  }

  // A primary about to lose its last finalizer is gone the moment it does: no status for it.
  const lastFinalizer = (primary.metadata.finalizers ?? []).every((name) => name === finalizer)
  const status =
    step.removeFinalizer && lastFinalizer ? undefined : nextStatus(reconciler, primary, outcome, now)
  if (status !== undefined) actions.push(Action.PatchStatus({ ref: primaryRef, uid, status }))
  if (deleted.length > 0) {
    const writes: ChildWrites = { created: [], updated: [], deleted }
    actions.push(
      Action.Event({
        regarding: primaryRef,
        uid,
        type: "Normal",
        reason: "Deleted",
        message: summarizeWrites(writes)
      })
    )
  }
  if (step.removeFinalizer) {
    actions.push(Action.RemoveFinalizer({ ref: primaryRef, uid, finalizer }))
  } else if (step.waitForChildren) {
    actions.push(Action.Requeue({ afterMillis: reconciler.waitMillis ?? defaultWaitMillis }))
  }
  return { actions, outcome }
}
