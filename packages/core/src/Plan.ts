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
  isDeleting,
  isNamespace,
  isOfType,
  type KubeObject,
  keyOf,
  managedByLabel,
  type ObjectKey,
  type ResourceType,
  refOf
} from "./Object.ts"
import { insideAny, planDeletion } from "./PlanDeletion.ts"
import {
  type ChildWrites,
  conflictMessage,
  eventReason,
  nameOf,
  refusalEvent,
  summarizeWrites
} from "./PlanEvents.ts"
import type {
  Conflict,
  Desired,
  Observed,
  Outcome,
  Reconciler,
  Refusal,
  Snapshot,
  StatusReport
} from "./Reconciler.ts"
import { statusToApply } from "./Status.ts"
import { defaultWaitMillis, waitAfter } from "./Waiting.ts"
import {
  creationOrder,
  creationOrderOf,
  deletionOrder,
  type Keyed,
  keyedBy,
  positionOf,
  rankOf
} from "./WriteOrder.ts"

export { maxEventMessageLength, refusedEventReason, summarizeWrites } from "./PlanEvents.ts"
export { defaultWaitMillis, maxWaitMillis, waitAfter } from "./Waiting.ts"

export interface Plan<D = unknown> {
  /** In execution order; stop at the first failure. Empty when the primary has converged. */
  readonly actions: ReadonlyArray<Action>
  readonly outcome: Outcome
  /** What the reconciler decided (undefined for a deleting or undecodable primary): pass it to the next plan of the same reconcile. */
  readonly decision: D | undefined
  /** What the reconciler reported, before conditions are merged into the stored status (undefined without `status`). */
  readonly report: StatusReport | undefined
}

// ---------------------------------------------------------------------------------------------
// Status

/** The `toApply` of a plan that applies nothing (every resync of a converged primary): one shared set. */
const nothingToApply: ReadonlySet<ObjectKey> = new Set()

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

  const apply = (object: KubeObject, key: ObjectKey, create: boolean, uid?: string): void => {
    applies.push({
      object,
      key,
      rank: rankOf(object),
      position: positionOf(reconciler.owned, object),
      create,
      uid
    })
  }
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
      apply(object, key, true)
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
      apply(object, key, false, current.metadata.uid)
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
    toApply: applies.length === 0 ? nothingToApply : new Set(applies.map((entry) => entry.key)),
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
