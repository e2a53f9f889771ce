/**
 * What keeps a terminating namespace from going, as the API server shows it: finalizers on the
 * Namespace itself (`metadata.finalizers`, and `spec.finalizers` other than the namespace
 * controller's own `kubernetes`), and the conditions the namespace controller sets while it
 * empties it (`NamespaceFinalizersRemaining`, `NamespaceContentRemaining`, the
 * `NamespaceDeletion…Failure` ones). Pure: reads the cached object, says what it sees, in words
 * that do not change while nothing changes (a time, never an age), so a report of it is written
 * once, not on every look.
 */
import { conditionsOf, type KubeObject } from "@kleff/core"
import { Predicate } from "effect"

/** The namespace controller's own finalizer, in `spec.finalizers`: removed once the namespace is empty. */
const namespaceControllerFinalizer = "kubernetes"

/** Conditions that, when True, mean someone other than the namespace controller must act. */
const blockingConditions = [
  "NamespaceFinalizersRemaining",
  "NamespaceDeletionContentFailure",
  "NamespaceDeletionDiscoveryFailure",
  "NamespaceDeletionGroupVersionParsingFailure"
] as const

/** Conditions that, when True, mean the namespace controller is still at work. */
const progressConditions = ["NamespaceContentRemaining"] as const

export interface Termination {
  /** When its deletion began (`metadata.deletionTimestamp`). */
  readonly since: string | undefined
  /** True when a finalizer or a failure that the namespace controller cannot clear holds it. */
  readonly blocked: boolean
  /** What holds it, for a person: finalizers, then the namespace controller's conditions (type: message). */
  readonly holders: ReadonlyArray<string>
}

const stringsAt = (value: unknown, key: string): ReadonlyArray<string> => {
  if (!Predicate.isObject(value)) return []
  const list = value[key]
  return Array.isArray(list) ? list.filter(Predicate.isString) : []
}

/** What holds `namespace`, a Namespace being deleted. */
export const terminationOf = (namespace: KubeObject): Termination => {
  const finalizers = namespace.metadata.finalizers ?? []
  const specFinalizers = stringsAt(namespace.spec, "finalizers").filter(
    (name) => name !== namespaceControllerFinalizer
  )
  const conditions = conditionsOf(namespace.status).filter((condition) => condition.status === "True")
  const holding = (types: ReadonlyArray<string>) =>
    conditions.filter((condition) => types.includes(condition.type))
  const blocking = holding(blockingConditions)
  const holders = [
    ...(finalizers.length === 0 ? [] : [`finalizers on the namespace: ${finalizers.join(", ")}`]),
    ...(specFinalizers.length === 0
      ? []
      : [`spec.finalizers of the namespace: ${specFinalizers.join(", ")}`]),
    ...[...blocking, ...holding(progressConditions)].map(
      (condition) => `${condition.type}: ${condition.message}`
    )
  ]
  return {
    since: namespace.metadata.deletionTimestamp,
    blocked: finalizers.length > 0 || specFinalizers.length > 0 || blocking.length > 0,
    holders
  }
}

/** The reason a Tenant reports while its namespace is held in Terminating by someone else. */
export const namespaceDeletionBlockedReason = "NamespaceDeletionBlocked"

/** A sentence on a terminating namespace: since when, and what holds it (if anything is known). */
export const describeTermination = (name: string, termination: Termination): string => {
  const since = termination.since === undefined ? "" : ` since ${termination.since}`
  if (termination.holders.length === 0) return `Namespace "${name}" has been terminating${since}.`
  const advice = termination.blocked
    ? " Finalizers belong to other controllers: once the controller behind one is gone, nothing removes it. " +
      "Find what holds them (kubectl api-resources --verbs=list --namespaced -o name | xargs -n 1 " +
      `kubectl get --show-kind --ignore-not-found -n ${name}), then let their controller finish, or remove the ` +
      "finalizers by hand if it never will."
    : ""
  return `Namespace "${name}" has been terminating${since}, held by ${termination.holders.join("; ")}.${advice}`
}
