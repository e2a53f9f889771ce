/**
 * One generation of a `Store`'s cache: its objects by key and its indexes (by controller owner
 * UID, by label, by the indexes a controller adds), updated together and swapped as a unit on a
 * relist. Index entries hold key strings, never copies, and a lone key without a `Set`.
 *
 * It must not decide what is stored (the `Cache` ingests) nor publish changes.
 */
import { controllerUidOf, type KubeObject, type ObjectKey } from "@kleff/core"

/** One key, or several: most index entries (a tenant's UID, a per-tenant label) hold a single object. */
type Entry = ObjectKey | Set<ObjectKey>

const noKeys: ReadonlyArray<ObjectKey> = []

/** A multimap `K → keys` that stores a lone key without a `Set` and forgets empty entries. */
export class KeyIndex<K> {
  readonly map = new Map<K, Entry>()

  add(k: K, key: ObjectKey): void {
    const entry = this.map.get(k)
    if (entry === undefined) this.map.set(k, key)
    else if (typeof entry === "string") {
      if (entry !== key) this.map.set(k, new Set([entry, key]))
    } else entry.add(key)
  }

  remove(k: K, key: ObjectKey): void {
    const entry = this.map.get(k)
    if (entry === undefined) return
    if (typeof entry === "string") {
      if (entry === key) this.map.delete(k)
      return
    }
    entry.delete(key)
    if (entry.size === 1) {
      for (const last of entry) this.map.set(k, last)
    } else if (entry.size === 0) this.map.delete(k)
  }

  get(k: K): Iterable<ObjectKey> {
    const entry = this.map.get(k)
    return entry === undefined ? noKeys : typeof entry === "string" ? [entry] : entry
  }
}

/** Computes the values an object is indexed under (client-go's `IndexFunc`). Pure. */
export type IndexFunction<T extends KubeObject = KubeObject> = (object: T) => Iterable<string>

/** One complete generation of the cache: objects and their indexes, swapped as a unit. */
export class Generation<T extends KubeObject> {
  readonly objects = new Map<ObjectKey, T>()
  readonly byOwner = new KeyIndex<string>()
  /** label key → label value → keys. Holds the objects' own key and value strings, no copies. */
  readonly byLabel = new Map<string, KeyIndex<string>>()
  /** index name → value → keys, for the indexes added with `addIndex`. */
  readonly byIndex = new Map<string, KeyIndex<string>>()
  private readonly indexLabels: ReadonlySet<string> | "all"
  private readonly indexers: ReadonlyMap<string, IndexFunction<T>>

  constructor(indexLabels: ReadonlySet<string> | "all", indexers: ReadonlyMap<string, IndexFunction<T>>) {
    this.indexLabels = indexLabels
    this.indexers = indexers
    for (const name of indexers.keys()) this.byIndex.set(name, new KeyIndex<string>())
  }

  /** Indexes every object held under a newly added index. */
  addIndex(name: string, indexer: IndexFunction<T>): void {
    const index = new KeyIndex<string>()
    for (const [key, object] of this.objects) for (const value of indexer(object)) index.add(value, key)
    this.byIndex.set(name, index)
  }

  private reindex(key: ObjectKey, object: T | undefined, before: T | undefined): void {
    for (const [name, indexer] of this.indexers) {
      const index = this.byIndex.get(name)
      if (index === undefined) continue
      if (before !== undefined) for (const value of indexer(before)) index.remove(value, key)
      if (object !== undefined) for (const value of indexer(object)) index.add(value, key)
    }
  }

  indexes(label: string): boolean {
    return this.indexLabels === "all" || this.indexLabels.has(label)
  }

  labelIndex(label: string): KeyIndex<string> | undefined {
    return this.byLabel.get(label)
  }

  /** Inserts, or replaces `before` with `object`, touching only the index entries that differ. */
  put(key: ObjectKey, object: T, before: T | undefined): void {
    this.objects.set(key, object)
    if (this.indexers.size > 0) this.reindex(key, object, before)
    const ownerBefore = before === undefined ? undefined : controllerUidOf(before)
    const ownerAfter = controllerUidOf(object)
    if (ownerBefore !== ownerAfter) {
      if (ownerBefore !== undefined) this.byOwner.remove(ownerBefore, key)
      if (ownerAfter !== undefined) this.byOwner.add(ownerAfter, key)
    }
    const labelsBefore = before?.metadata.labels
    const labelsAfter = object.metadata.labels
    if (labelsBefore === labelsAfter) return
    if (labelsBefore !== undefined) {
      for (const label in labelsBefore) {
        const value = labelsBefore[label]
        if (value !== undefined && labelsAfter?.[label] !== value && this.indexes(label)) {
          this.byLabel.get(label)?.remove(value, key)
          if (this.byLabel.get(label)?.map.size === 0) this.byLabel.delete(label)
        }
      }
    }
    if (labelsAfter !== undefined) {
      for (const label in labelsAfter) {
        const value = labelsAfter[label]
        if (value !== undefined && labelsBefore?.[label] !== value && this.indexes(label)) {
          let index = this.byLabel.get(label)
          if (index === undefined) {
            index = new KeyIndex<string>()
            this.byLabel.set(label, index)
          }
          index.add(value, key)
        }
      }
    }
  }

  remove(key: ObjectKey, object: T): void {
    this.objects.delete(key)
    if (this.indexers.size > 0) this.reindex(key, undefined, object)
    const owner = controllerUidOf(object)
    if (owner !== undefined) this.byOwner.remove(owner, key)
    const labels = object.metadata.labels
    if (labels === undefined) return
    for (const label in labels) {
      const value = labels[label]
      const index = this.byLabel.get(label)
      if (value === undefined || index === undefined) continue
      index.remove(value, key)
      if (index.map.size === 0) this.byLabel.delete(label)
    }
  }
}
