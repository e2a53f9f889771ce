/**
 * `plan(reconciler, snapshot, now)`: the one decision of every controller, as data. Compares only
 * the fields a controller manages, in canonical form; orders the actions; never touches an
 * object the primary does not control (checked by UID). Pure: no I/O, no clock, no randomness.
 *
 * The rules, in the order actions are planned:
 * - The primary is decoded by its type's schema; one that does not decode creates and removes
 *   nothing, gets no finalizer (there is nothing to clean up, and once its CRD's validation is
 *   back the API server may refuse to let the finalizer go) and reports the reconciler's
 *   `invalid` status. Otherwise the reconciler decides once, and `desired` and `status` both read
 *   that decision.
 * - Live primary: `AddFinalizer` first (nothing is written before the finalizer holds); then one
 *   `Apply` per desired child that is absent (create) or controlled by the primary and needs a
 *   write (`needsApply`: a desired value missing, a field this controller's field manager owns
 *   and no longer desires, which the apply removes, or a changed digest of what it desires, see
 *   `Digest`), Namespaces first, then other cluster-scoped kinds, then namespaced kinds; within
 *   each, kinds in the order of the reconciler's `owned`, then by key. A child held by a foreign
 *   object is a conflict, never written; a child inside a Namespace in conflict is blocked. Then
 *   `Delete` for each owned, no longer desired, not retained child (skipping ones already
 *   terminating or inside a namespace that is itself deleted).
 * - Deleting primary under our finalizer: `Delete` every owned child not already terminating,
 *   `Requeue` while any remains; `RemoveFinalizer` last, only once none remains. While the
 *   reconciler's `holdDeletion` holds, no `Delete` at all: the finalizer stays while any owned
 *   child remains, and the hold is reported.
 * - Then `ApplyStatus` when the status this controller reports changed (`Status`) (never for a reconciler without `status`, nor for
 *   a primary about to lose its last finalizer), one `Event` summarising child writes (and a
 *   Warning the first time a conflict or a hold is recorded), and `Requeue` while waiting on a
 *   conflict, on children to go or on a hold (`waitAfter`: the longer it has taken, the longer
 *   until the next look). A converged primary plans no action at all.
 *
 * The result does not depend on the order of `snapshot.owned` or of `desired().objects`.
 */
import { Result } from "effect"
import { Action } from "./Action.ts"
import { decodeObject, type InvalidObject } from "./Decode.ts"
import { needsApply } from "./Diff.ts"
import { withDesiredDigest } from "./Digest.ts"
import { finalizerState, finalizerStep } from "./Finalizer.ts"
import {
  apiVersionOf,
  controllerUidOf,
  describeRef,
  isDeleting,
  isNamespace,
  isOfType,
  type KubeObject,
  keyOf,
  managedByLabel,
  type ObjectKey,
  type ObjectRef,
  type ResourceType,
  refOf
} from "./Object.ts"
import type {
  Conflict,
  DeletionHold,
  Desired,
  Observed,
  Outcome,
  Reconciler,
  Refusal,
  Snapshot,
  StatusReport
} from "./Reconciler.ts"
import { statusToApply } from "./Status.ts"

export interface Plan<D = unknown> {
  /** In execution order; stop at the first failure. Empty when the primary has converged. */
  readonly actions: ReadonlyArray<Action>
  readonly outcome: Outcome
  /** What the reconciler decided (undefined for a deleting or undecodable primary): pass it to the next plan of the same reconcile. */
  readonly decision: D | undefined
  /** What the reconciler reported, before conditions are merged into the stored status (undefined without `status`). */
  readonly report: StatusReport | undefined
}

/** How long a waiting primary waits before it is looked at again, unless its reconciler says otherwise. */
export const defaultWaitMillis = 5000

/** Longest event message planned; longer summaries end with how many writes were left out. */
export const maxEventMessageLength = 1024

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
  /** The position of the object's type in the reconciler's `owned` (after them all when absent). */
  readonly position: number
}

/** The position of the object's type in `owned`, the reconciler's kinds in the order it creates them (after them all when absent). */
const positionOf = (owned: ReadonlyArray<ResourceType>, object: KubeObject): number => {
  const position = owned.findIndex((type) => isOfType(object, type))
  return position === -1 ? owned.length : position
}

/** Keys objects for ordering by `owned`. */
const keyedBy =
  (owned: ReadonlyArray<ResourceType>) =>
  (object: KubeObject): Keyed => ({
    object,
    key: keyOf(object),
    rank: rankOf(object),
    position: positionOf(owned, object)
  })

/**
 * Writes in creation order: Namespaces, cluster-scoped, namespaced; within a rank, kinds in the
 * order of the reconciler's `owned`, then by key.
 */
const creationOrder = (a: Keyed, b: Keyed): number =>
  a.rank !== b.rank
    ? a.rank - b.rank
    : a.position !== b.position
      ? a.position - b.position
      : a.key < b.key
        ? -1
        : a.key > b.key
          ? 1
          : 0

/** Sorts `items` into creation order by the object each is about; a list of one or none as it is. */
const creationOrderOf =
  (owned: ReadonlyArray<ResourceType>) =>
  <A>(items: ReadonlyArray<A>, objectOf: (item: A) => KubeObject): ReadonlyArray<A> => {
    if (items.length < 2) return items
    const keyed = keyedBy(owned)
    return items
      .map((item) => ({ item, keyed: keyed(objectOf(item)) }))
      .sort((a, b) => creationOrder(a.keyed, b.keyed))
      .map((entry) => entry.item)
  }

/** Deletes in the reverse: namespaced objects first (the last of `owned` first), Namespaces last. */
const deletionOrder = (a: Keyed, b: Keyed): number => creationOrder(b, a)

// ---------------------------------------------------------------------------------------------
// Event messages

const nameOf = (object: KubeObject): string => describeRef(refOf(object))

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

/** `message`, cut to the event size limit. */
const eventMessage = (message: string): string =>
  message.length > maxEventMessageLength ? `${message.slice(0, maxEventMessageLength - 1)}…` : message

const conflictMessage = (primary: KubeObject, conflicts: ReadonlyArray<Conflict>): string => {
  const names = conflicts.map((conflict) => nameOf(conflict.existing))
  const shown = names.slice(0, 10).join(", ")
  const more = names.length > 10 ? ` and ${names.length - 10} more` : ""
  return eventMessage(
    `${shown}${more} already exist${names.length === 1 ? "s" : ""} and ${names.length === 1 ? "is" : "are"} not controlled by ${primary.kind} ${primary.metadata.name}; left untouched`
  )
}

// ---------------------------------------------------------------------------------------------
// Status

/** What a primary that does not decode reports when its reconciler does not say. */
const defaultInvalidReport = (problem: InvalidObject): StatusReport => ({
  fields: {},
  conditions: [
    {
      type: "Ready",
      status: "False",
      reason: "InvalidSpec",
      message: `The object is invalid:\n${problem.message}`
    }
  ]
})

// ---------------------------------------------------------------------------------------------
// The plan

/** The owned objects the primary really controls: a loose cache index must never widen what may be deleted. */
/**
 * The children of this controller: controlled by the primary (`uid`) and not labelled as another
 * controller's (`managedBy`: an object without the label, say from an older version, is still
 * ours). Another controller of the same primary keeps its children under its own label, and
 * neither deletes nor waits for the other's, whatever its caches hold.
 */
const controlled = (
  owned: ReadonlyArray<KubeObject>,
  uid: string,
  managedBy: string
): ReadonlyArray<KubeObject> =>
  uid === ""
    ? []
    : owned.filter((object) => {
        if (controllerUidOf(object) !== uid) return false
        const label = object.metadata.labels?.[managedByLabel]
        return label === undefined || label === managedBy
      })

/** Namespaced objects whose namespace is in `namespaces` go with it, so need no delete of their own. */
const insideAny = (object: KubeObject, namespaces: ReadonlySet<string>): boolean =>
  object.metadata.namespace !== undefined && namespaces.has(object.metadata.namespace)

const sortedByKey = (objects: ReadonlyArray<KubeObject>): ReadonlyArray<KubeObject> =>
  objects
    .map((object) => ({ object, key: keyOf(object) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((entry) => entry.object)

/** The reconciler's view of a snapshot at `now` (RFC 3339): its primary decoded, and typed reads of any cached object. */
export const observedOf = <P extends KubeObject>(
  snapshot: Snapshot,
  primary: P,
  now: string
): Observed<P> => ({
  primary,
  now,
  object: snapshot.primary,
  owned: snapshot.owned,
  get: snapshot.get,
  read: <T extends KubeObject>(type: ResourceType<T>, name: string, namespace?: string) => {
    const object = snapshot.get({
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      name,
      namespace: type.namespaced ? namespace : undefined
    })
    return object === undefined ? undefined : decodeObject(type, object)
  }
})

/** What the re-plan of one reconcile carries over from its first plan and from the writes made. */
export interface Replan<D> {
  /** The decision already taken in this reconcile: a reconcile decides once. */
  readonly decided?: { readonly decision: D } | undefined
  /** A write of this reconcile the API server refused for good: the status reports it. */
  readonly refused?: Refusal | undefined
}

/**
 * Plans one reconcile of `snapshot.primary`. A re-plan within the same reconcile (after child
 * writes, or after a refused write) passes what it carries over (`Replan`).
 */
export const plan = <P extends KubeObject, D>(
  reconciler: Reconciler<P, D>,
  snapshot: Snapshot,
  /** The current time, RFC 3339: condition transition times, and `Observed.now` for the decision. */
  now: string,
  replan: Replan<D> = {}
): Plan<D> => {
  const primary = snapshot.primary
  const uid = primary.metadata.uid ?? ""
  const owned = controlled(snapshot.owned, uid, reconciler.managedBy ?? reconciler.name)
  const decoded = decodeObject(reconciler.primary, primary)
  const refused = replan.refused
  if (isDeleting(primary)) {
    const held = reconciler.holdDeletion?.(snapshot)
    // A hold is what matters most about a deleting primary, decodable or not.
    const report = (outcome: Outcome): StatusReport | undefined =>
      Result.isFailure(decoded) && (held === undefined || reconciler.status === undefined)
        ? (reconciler.invalid ?? ((problem) => defaultInvalidReport(problem)))(decoded.failure, primary)
        : reconciler.status?.(undefined, outcome)
    return planDeletion(reconciler, snapshot, owned, uid, now, report, held, refused)
  }
  if (Result.isFailure(decoded)) {
    const problem = decoded.failure
    const report = () => (reconciler.invalid ?? defaultInvalidReport)(problem, primary)
    // Nothing is known of what should exist: keep everything, create nothing, hold no finalizer.
    return planLive(
      reconciler,
      snapshot,
      owned,
      uid,
      now,
      { objects: [], retain: reconciler.owned },
      report,
      undefined,
      false,
      refused
    )
  }
  const observed = observedOf(snapshot, decoded.success, now)
  const decided = replan.decided
  const decision = decided === undefined ? reconciler.decide(observed) : decided.decision
  const status = reconciler.status
  return planLive(
    reconciler,
    snapshot,
    owned,
    uid,
    now,
    reconciler.desired(decision, observed),
    status === undefined ? () => undefined : (outcome) => status(decision, outcome),
    decision,
    true,
    refused
  )
}

const planLive = <P extends KubeObject, D>(
  reconciler: Reconciler<P, D>,
  snapshot: Snapshot,
  owned: ReadonlyArray<KubeObject>,
  uid: string,
  now: string,
  desired: Desired,
  report: (outcome: Outcome) => StatusReport | undefined,
  decision: D | undefined,
  /** Add the reconciler's finalizer if the primary lacks it (not for a primary that does not decode). */
  holdFinalizer: boolean,
  refused: Refusal | undefined
): Plan<D> => {
  const primary = snapshot.primary
  const primaryRef = refOf(primary)
  const actions: Array<Action> = []
  const step = finalizerStep(finalizerState(primary, reconciler.finalizer, []))
  if (holdFinalizer && step.addFinalizer && reconciler.finalizer !== undefined) {
    actions.push(Action.AddFinalizer({ ref: primaryRef, uid, finalizer: reconciler.finalizer }))
  }

  /** The observed objects found at desired keys: an owned object among them is desired without building its key. */
  const found = new Set<KubeObject>()
  /** The desired keys where nothing is found. */
  const absentKeys = new Set<ObjectKey>()
  const conflictedNamespaces = new Set<string>()
  /** Namespaces of ours on their way out, with when their deletion began. */
  const terminatingNamespaces = new Map<string, string | undefined>()
  /** In desired order, as found; sorted into creation order below, like the applies. */
  const conflictsFound: Array<Conflict> = []
  const blockedFound: Array<KubeObject> = []
  /** The children to apply, in desired order: sorted into creation order once they are known (few or none on a resync). */
  const applies: Array<Keyed & { readonly create: boolean; readonly uid?: string | undefined }> = []
  /** What the primary waits on to be gone, by when its deletion began. */
  const waitingSince: Array<string | undefined> = []

  const visit = (object: KubeObject): void => {
    const key = keyOf(object)
    const current = snapshot.get(refOf(object), key)
    // A key desired twice: the first in desired order counts.
    if (current === undefined) {
      if (absentKeys.has(key)) return
      absentKeys.add(key)
    } else {
      if (found.has(current)) return
      found.add(current)
    }
    checkOwnable(primary, object, reconciler)
    const namespace = object.metadata.namespace
    if (namespace !== undefined && namespace !== "") {
      if (conflictedNamespaces.has(namespace)) {
        blockedFound.push(object)
        return
      }
      if (terminatingNamespaces.has(namespace)) {
        waitingSince.push(terminatingNamespaces.get(namespace))
        return
      }
    }
    if (current === undefined) {
      applies.push({
        object,
        key,
        rank: rankOf(object),
        position: positionOf(reconciler.owned, object),
        create: true
      })
      return
    }
    if (controllerUidOf(current) !== uid || uid === "") {
      conflictsFound.push({ desired: object, existing: current })
      if (isNamespace(object)) conflictedNamespaces.add(object.metadata.name)
    } else if (isDeleting(current)) {
      // Ours but on its way out: wait for it to go, then create it afresh.
      waitingSince.push(current.metadata.deletionTimestamp)
      if (isNamespace(object))
        terminatingNamespaces.set(object.metadata.name, current.metadata.deletionTimestamp)
    } else if (needsApply(object, current, reconciler.name)) {
      applies.push({
        object,
        key,
        rank: rankOf(object),
        position: positionOf(reconciler.owned, object),
        create: false,
        uid: current.metadata.uid
      })
    }
  }
  // Namespaces first: what is inside a Namespace in conflict or on its way out waits for it.
  for (const object of desired.objects) if (isNamespace(object)) visit(object)
  for (const object of desired.objects) if (!isNamespace(object)) visit(object)

  const inCreationOrder = creationOrderOf(reconciler.owned)
  const conflicts = inCreationOrder(conflictsFound, (conflict) => conflict.desired)
  const blocked = inCreationOrder(blockedFound, (object) => object)
  const created: Array<KubeObject> = []
  const updated: Array<KubeObject> = []
  for (const apply of applies.sort(creationOrder)) {
    // Every applied child carries the digest of what is desired of it (`Digest`).
    const object = withDesiredDigest(apply.object, reconciler.name)
    if (apply.create) {
      actions.push(Action.Apply({ object, create: true }))
      created.push(apply.object)
    } else {
      actions.push(Action.Apply({ object, create: false, uid: apply.uid }))
      updated.push(apply.object)
    }
  }

  const retain = desired.retain ?? []
  const goingNamespaces = new Set<string>()
  const candidates: Array<KubeObject> = []
  /** Every desired key: built only when an owned object was not found at one (something to delete). */
  let desiredKeys: ReadonlySet<ObjectKey> | undefined
  for (const object of owned) {
    if (found.has(object)) continue
    desiredKeys ??= new Set(desired.objects.map(keyOf))
    if (desiredKeys.has(keyOf(object))) continue
    if (retain.some((type) => isOfType(object, type))) continue
    if (isNamespace(object)) goingNamespaces.add(object.metadata.name)
    if (!isDeleting(object)) candidates.push(object)
  }
  const deleted = candidates
    .filter((object) => !insideAny(object, goingNamespaces))
    .map(keyedBy(reconciler.owned))
    .sort(deletionOrder)
    .map((entry) => entry.object)
  for (const object of deleted) {
    actions.push(Action.Delete({ ref: refOf(object), uid: object.metadata.uid ?? "" }))
  }

  const outcome: Outcome = {
    snapshot,
    desired,
    conflicts,
    blocked,
    deleting: false,
    remaining: [],
    refused
  }
  const reported = report(outcome)
  const status = statusToApply(reported, primary, now, reconciler.name)
  if (status !== undefined) actions.push(Action.ApplyStatus({ ref: primaryRef, uid, status }))
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
  if (refused !== undefined && status !== undefined) actions.push(refusalEvent(primaryRef, uid, refused))
  // A conflict's start is not known: it is looked at every `waitMillis`.
  const pending = conflicts.length > 0 ? [...waitingSince, undefined] : waitingSince
  const wait =
    pending.length > 0 ? waitAfter(reconciler.waitMillis ?? defaultWaitMillis, pending, now) : undefined
  const recheck = desired.recheckAfterMillis
  const after = wait === undefined ? recheck : recheck === undefined ? wait : Math.min(wait, recheck)
  if (after !== undefined) actions.push(Action.Requeue({ afterMillis: after }))
  return { actions, outcome, decision, report: reported }
}

const planDeletion = <P extends KubeObject, D>(
  reconciler: Reconciler<P, D>,
  snapshot: Snapshot,
  owned: ReadonlyArray<KubeObject>,
  uid: string,
  now: string,
  report: (outcome: Outcome) => StatusReport | undefined,
  held: DeletionHold | undefined,
  refused: Refusal | undefined
): Plan<D> => {
  const primary = snapshot.primary
  const primaryRef: ObjectRef = refOf(primary)
  const remaining = sortedByKey(owned)
  const outcome: Outcome = {
    snapshot,
    desired: undefined,
    conflicts: [],
    blocked: [],
    deleting: true,
    remaining,
    held,
    refused
  }
  const step = finalizerStep(finalizerState(primary, reconciler.finalizer, remaining))
  const finalizer = reconciler.finalizer
  if (finalizer === undefined || !(step.deleteChildren || step.removeFinalizer))
    return { actions: [], outcome, decision: undefined, report: undefined }

  const actions: Array<Action> = []
  const goingNamespaces = new Set<string>()
  for (const object of remaining) if (isNamespace(object)) goingNamespaces.add(object.metadata.name)
  const deleted =
    step.deleteChildren && held === undefined
      ? remaining
          .filter((object) => !isDeleting(object) && !insideAny(object, goingNamespaces))
          .map(keyedBy(reconciler.owned))
          .sort(deletionOrder)
          .map((entry) => entry.object)
      : []
  for (const object of deleted) {
    actions.push(Action.Delete({ ref: refOf(object), uid: object.metadata.uid ?? "" }))
  }

  // A primary about to lose its last finalizer is gone the moment it does: no status for it.
  const lastFinalizer = (primary.metadata.finalizers ?? []).every((name) => name === finalizer)
  const reported = report(outcome)
  const status =
    step.removeFinalizer && lastFinalizer ? undefined : statusToApply(reported, primary, now, reconciler.name)
  if (status !== undefined) actions.push(Action.ApplyStatus({ ref: primaryRef, uid, status }))
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
  // A hold is announced once, with the status change that records it, not on every look.
  if (held !== undefined && status !== undefined) {
    actions.push(
      Action.Event({
        regarding: primaryRef,
        uid,
        type: "Warning",
        reason: held.reason,
        message: eventMessage(held.message)
      })
    )
  }
  if (refused !== undefined && status !== undefined) actions.push(refusalEvent(primaryRef, uid, refused))
  if (step.removeFinalizer) {
    actions.push(Action.RemoveFinalizer({ ref: primaryRef, uid, finalizer }))
  } else if (step.waitForChildren) {
    const base = reconciler.waitMillis ?? defaultWaitMillis
    const since =
      held !== undefined
        ? [primary.metadata.deletionTimestamp]
        : remaining.map((object) => pendingSince(object, remaining))
    actions.push(Action.Requeue({ afterMillis: waitAfter(base, since, now) }))
  }
  return { actions, outcome, decision: undefined, report: reported }
}

/** The reason of the Warning event that announces a refused write. */
export const refusedEventReason = "WriteRefused"

/** A refused write is announced once, with the status change that records it. */
const refusalEvent = (regarding: ObjectRef, uid: string, refused: Refusal): Action =>
  Action.Event({
    regarding,
    uid,
    type: "Warning",
    reason: refusedEventReason,
    message: eventMessage(`${describeRef(refused.ref)}: ${refused.reason}: ${refused.message}`)
  })

/** A desired object this primary cannot own: a reconciler bug, refused before anything is written. */
export class InvalidOwnership extends Error {
  override readonly name = "InvalidOwnership"
}

/**
 * A desired child carries the reconciler's managed-by label (its owned kinds are watched through
 * it: without it the child would be invisible to its own controller, created again and again).
 * Owner references never cross namespaces, and a namespaced owner never owns a cluster-scoped
 * object (the garbage collector would treat the reference as unresolvable and delete the child).
 */
const checkOwnable = <P extends KubeObject, D>(
  primary: KubeObject,
  object: KubeObject,
  reconciler: Reconciler<P, D>
): void => {
  const controller = reconciler.name
  const managedBy = reconciler.managedBy ?? controller
  if (object.metadata.labels?.[managedByLabel] !== managedBy) {
    throw new InvalidOwnership(
      `${controller}: desired ${nameOf(object)} lacks the label ${managedByLabel}=${managedBy} (build it with ownedBy)`
    )
  }
  const ownerNamespace = primary.metadata.namespace
  if (ownerNamespace === undefined || ownerNamespace === "") return
  const namespace = object.metadata.namespace
  if (namespace === ownerNamespace) return
  throw new InvalidOwnership(
    `${controller}: ${primary.kind} ${ownerNamespace}/${primary.metadata.name} cannot own ${object.kind} ` +
      (namespace === undefined || namespace === ""
        ? `${object.metadata.name}: a namespaced owner cannot own a cluster-scoped object`
        : `${namespace}/${object.metadata.name}: owner references never cross namespaces`)
  )
}

/**
 * When an owned object's going began: its own deletion, or its namespace's (the namespace
 * controller deletes what is inside); `undefined` while neither has begun.
 */
const pendingSince = (object: KubeObject, remaining: ReadonlyArray<KubeObject>): string | undefined => {
  if (object.metadata.deletionTimestamp !== undefined) return object.metadata.deletionTimestamp
  const namespace = object.metadata.namespace
  if (namespace === undefined || namespace === "") return undefined
  return remaining.find((other) => isNamespace(other) && other.metadata.name === namespace)?.metadata
    .deletionTimestamp
}
