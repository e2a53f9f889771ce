/**
 * Builds core `Snapshot`s from caches, one cache per kind. Shared by the Controller (live
 * caches fed by watches) and the dry run (caches filled by one list each), so both see a primary
 * the same way. Reads caches only; never the API server.
 */
import {
  groupOf,
  type KubeObject,
  keyOfRef,
  type ObjectRef,
  type Reconciler,
  type ResourceType,
  type Snapshot
} from "@kleff/core"
import type { Cache } from "./Store.ts"

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

/**
 * How to watch (and list) `type` for a reconciler: by `metadata.name` when the reconciler only
 * refers to one object of it (every `Reference` of the type names the same object, and it is
 * neither the primary nor owned), so that is the one object cached, and RBAC may grant it by
 * name; otherwise every object of the type.
 */
export const selectorsOf = <P extends KubeObject, D>(
  reconciler: Reconciler<P, D>,
  type: ResourceType
): { readonly fieldSelector?: string } => {
  const key = typeKey(type)
  if ([reconciler.primary, ...reconciler.owned].some((other) => typeKey(other) === key)) return {}
  const names = new Set(
    (reconciler.references ?? [])
      .filter((reference) => typeKey(reference.type) === key)
      .map((reference) => reference.name)
  )
  const [name] = names
  return names.size === 1 && name !== undefined ? { fieldSelector: `metadata.name=${name}` } : {}
}

export interface Caches {
  /** The cache holding objects of this apiVersion's group and kind, if the controller reads that kind. */
  readonly of: (apiVersion: string, kind: string) => Cache | undefined
  /** The caches of the reconciler's owned kinds. */
  readonly owned: ReadonlyArray<Cache>
}

export const caches = <P extends KubeObject, D>(
  byType: ReadonlyMap<string, Cache>,
  reconciler: Reconciler<P, D>
): Caches => ({
  of: (apiVersion, kind) => byType.get(`${groupOf(apiVersion)}/${kind}`),
  owned: reconciler.owned.flatMap((type) => byType.get(typeKey(type)) ?? [])
})

export const observe = (primary: KubeObject, from: Caches): Snapshot => {
  const uid = primary.metadata.uid
  return {
    primary,
    owned: uid === undefined ? [] : from.owned.flatMap((cache) => cache.ownedBy(uid)),
    get: (ref: ObjectRef) => from.of(ref.apiVersion, ref.kind)?.get(keyOfRef(ref))
  }
}
