/**
 * The plan for a primary being deleted under the reconciler's finalizer: `Delete` every owned child
 * not already terminating (nor inside a Namespace that goes with it), `Requeue` while any remains,
 * `RemoveFinalizer` last, only once none remains. While the reconciler's `holdDeletion` holds,
 * nothing is deleted and the hold is reported.
 *
 * Pure. Must not plan for a live primary: that is `Plan`.
 */
import { Action } from "./Action.ts"
import { finalizerState, finalizerStep } from "./Finalizer.ts"
import { isDeleting, isNamespace, type KubeObject, keyOf, type ObjectRef, refOf } from "./Object.ts"
import type { Plan } from "./Plan.ts"
import { type ChildWrites, eventMessage, refusalEvent, summarizeWrites } from "./PlanEvents.ts"
import type { DeletionHold, Outcome, Reconciler, Refusal, Snapshot, StatusReport } from "./Reconciler.ts"
import { statusToApply } from "./Status.ts"
import { defaultWaitMillis, pendingSince, waitAfter } from "./Waiting.ts"
import { deletionOrder, keyedBy } from "./WriteOrder.ts"

/** Namespaced objects whose namespace is in `namespaces` go with it, so need no delete of their own. */
export const insideAny = (object: KubeObject, namespaces: ReadonlySet<string>): boolean =>
  object.metadata.namespace !== undefined && namespaces.has(object.metadata.namespace)

/** `objects` by key: what remains of a deleting primary, in a stable order. */
const sortedByKey = (objects: ReadonlyArray<KubeObject>): ReadonlyArray<KubeObject> =>
  objects
    .map((object) => ({ object, key: keyOf(object) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((entry) => entry.object)

export const planDeletion = <P extends KubeObject, D>(
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
    toApply: new Set(),
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
