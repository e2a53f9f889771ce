/**
 * The order a plan writes in: Namespaces first (what is inside one is created after it), then other
 * cluster-scoped objects, then namespaced ones; within each, kinds in the order of the reconciler's
 * `owned`, then by key. Deletes go the other way round.
 *
 * Pure. Must not decide what is written: that is `Plan`.
 */
import { isNamespace, isOfType, type KubeObject, keyOf, type ObjectKey, type ResourceType } from "./Object.ts"

/** 0: Namespaces, 1: other cluster-scoped objects, 2: namespaced objects. */
export const rankOf = (object: KubeObject): number =>
  isNamespace(object)
    ? 0
    : object.metadata.namespace === undefined || object.metadata.namespace === ""
      ? 1
      : 2

export interface Keyed {
  readonly object: KubeObject
  readonly key: ObjectKey
  readonly rank: number
  /** The position of the object's type in the reconciler's `owned` (after them all when absent). */
  readonly position: number
}

/** The position of the object's type in `owned`, the reconciler's kinds in the order it creates them (after them all when absent). */
export const positionOf = (owned: ReadonlyArray<ResourceType>, object: KubeObject): number => {
  const position = owned.findIndex((type) => isOfType(object, type))
  return position === -1 ? owned.length : position
}

/** Keys objects for ordering by `owned`. */
export const keyedBy =
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
export const creationOrder = (a: Keyed, b: Keyed): number =>
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
export const creationOrderOf =
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
export const deletionOrder = (a: Keyed, b: Keyed): number => creationOrder(b, a)
