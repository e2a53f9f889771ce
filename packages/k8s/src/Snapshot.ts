/**
 * Builds core `Snapshot`s from caches, one cache per kind. Shared by the Controller (live
 * caches fed by watches) and the dry run (caches filled by one list each), so both see a primary
 * the same way. Reads caches only; never the API server.
 */
import {
  byGroupKind,
  type KubeObject,
  keyOfRef,
  managedByLabel,
  type ObjectKey,
  type ObjectRef,
  type Reconciler,
  type ResourceType,
  type Snapshot
} from "@kleff/core"
import type { Cache } from "./Store.ts"

/** What snapshots read of a cache. */
type CacheView = Pick<Cache, "get" | "ownedBy">

export const typeKey = (type: Pick<ResourceType, "group" | "kind">): string => `${type.group}/${type.kind}`

/** Every kind a controller reads: its primary, its owned kinds and the kinds it refers to, once each. */
export const kindsOf = <P extends KubeObject, D>(
  reconciler: Reconciler<P, D>
): ReadonlyArray<ResourceType> => {
  const types = new Map<string, ResourceType>()
  const referenced = (reconciler.references ?? []).map((reference) => reference.type)
  for (const type of [reconciler.primary, ...reconciler.owned, ...referenced]) types.set(typeKey(type), type)
  return [...types.values()]
}

/** What a controller caches of one kind (a watch selection; see `Informers.Selection`). */
export interface Selection {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
}

/**
 * How to watch (and list) `type` for a reconciler:
 * - its primary, and a kind it owns and also refers to without a name: every object;
 * - a kind it only owns: by its managed-by label (`managedBy`, default its name), so it caches its
 *   own children and nothing else of their kinds (a foreign object at a child's name is then only
 *   found by the API server refusing the create);
 * - a kind it only refers to: by `metadata.name` when every `Reference` of the kind names the same
 *   object (RBAC may then grant that one object), otherwise every object;
 * and, with a `namespace` scope, a namespaced kind in that namespace only.
 */
export const selectionOf = <P extends KubeObject, D>(
  reconciler: Reconciler<P, D>,
  type: ResourceType,
  namespace?: string | undefined
): Selection => {
  const key = typeKey(type)
  const scope = type.namespaced && namespace !== undefined ? { namespace } : {}
  const references = (reconciler.references ?? []).filter((reference) => typeKey(reference.type) === key)
  const owned = reconciler.owned.some((other) => typeKey(other) === key)
  if (typeKey(reconciler.primary) === key) return scope
  if (owned) {
    if (references.some((reference) => reference.name === undefined)) return scope
    return { ...scope, labelSelector: `${managedByLabel}=${reconciler.managedBy ?? reconciler.name}` }
  }
  const names = new Set(references.map((reference) => reference.name))
  const [name] = names
  return names.size === 1 && name !== undefined ? { ...scope, fieldSelector: `metadata.name=${name}` } : scope
}

export interface Caches {
  /** The cache holding objects of this apiVersion's group and kind, if the controller reads that kind. */
  readonly of: (apiVersion: string, kind: string) => CacheView | undefined
  /** The caches of the reconciler's owned kinds. */
  readonly owned: ReadonlyArray<CacheView>
}

export const caches = <P extends KubeObject, D>(
  byType: ReadonlyMap<string, CacheView>,
  reconciler: Reconciler<P, D>
): Caches => ({
  // Looked up for every desired child of every reconcile, so without building a key.
  of: byGroupKind(byType),
  owned: reconciler.owned.flatMap((type) => byType.get(typeKey(type)) ?? [])
})

export const observe = (primary: KubeObject, from: Caches): Snapshot => {
  const uid = primary.metadata.uid
  return {
    primary,
    owned: uid === undefined ? [] : from.owned.flatMap((cache) => cache.ownedBy(uid)),
    get: (ref: ObjectRef, key?: ObjectKey) => from.of(ref.apiVersion, ref.kind)?.get(key ?? keyOfRef(ref))
  }
}
