/**
 * The reflector cache: every object of one watched type, by `ObjectKey`, fed by a `Watcher`, with
 * indexes by controller owner UID and by label, a readiness signal, and a change feed. It is the
 * source of every `observed` snapshot; reconciles read it and never the API server.
 *
 * Consistency: a `Restarted` (complete relist) builds new maps and indexes on the side and swaps
 * them in one step, so a reader sees either the old complete state or the new one. `Applied` and
 * `Deleted` update the maps and indexes in place, synchronously. An `Applied` at the
 * resourceVersion already cached (the watch's echo of a write's answer, written through when it
 * came) changes nothing and is not published, nor is a `Deleted` of an object not cached (the echo
 * of a deletion written through): a controller is not woken by its own writes twice.
 * A deletion leaves a tombstone (its resourceVersion, for the most recent `maxTombstones`
 * deletions): a write's answer that arrives after the deletion's watch event, from before it, must
 * not bring the object back. (The API server answers the removal of a deleting object's last
 * finalizer with the object at a resourceVersion older than its deletion's.)
 *
 * Memory: one reference per object; indexes hold key strings, never copies. On ingest
 * `metadata.managedFields` (typically a third of an object's JSON) is cut down to the `Apply`
 * entries of the field managers named in `managers` (the controllers that read this cache: their
 * own entry is how a plan knows which fields it owns), and dropped when none is left; the field sets
 * left are interned (`internal/intern.ts`: one frozen copy of each part, shared by every object
 * that repeats it). Every other value equal to one cached lately (a string, a spec, the labels a
 * tenant's children repeat) becomes that one's frozen copy (`internal/sharedValues.ts`); each
 * object's top level and metadata stay its own. An object of a type with a schema is decoded on
 * its way in (`decodeObject`, memoised on the object, so a reconcile reads it decoded without
 * decoding again). Objects are shared with readers, and parts of them with other objects: they
 * must be treated as immutable (a shared part throws on a write). A list in progress is ingested
 * page by page (`prepare`, which the watcher calls), so a relist holds what the cache will keep.
 *
 * It must not talk to the API server (the watcher does) nor decide what a change means (the
 * controller maps changes to primary keys).
 */
import {
  decodeObject,
  type KubeObject,
  keyOf,
  ManagedFields,
  type ObjectKey,
  type ResourceType
} from "@kleff/core"
import { Deferred, Effect, PubSub, type Scope, Stream } from "effect"
import type { Client } from "./Client.ts"
import { Generation, type IndexFunction } from "./internal/generation.ts"
import { internEntry } from "./internal/intern.ts"
import { shareValues } from "./internal/sharedValues.ts"
import { type WatcherEvent, type WatcherOptions, watcher } from "./Watcher.ts"

export type { IndexFunction }

/** One change to the cache, for controllers to map to primary keys. */
export interface Change<T extends KubeObject = KubeObject> {
  readonly key: ObjectKey
  /** The object before the change; undefined when it was added. */
  readonly before: T | undefined
  /** The object after the change; undefined when it was deleted. */
  readonly after: T | undefined
  /**
   * True when a relist re-delivered the object at the same resourceVersion: nothing changed, but
   * the controller may want to re-check it at low priority (a periodic resync).
   */
  readonly unchanged: boolean
}

export interface StoreOptions<T extends KubeObject = KubeObject> {
  /**
   * Label keys maintained as an index for `byLabel`. Defaults to `"all"`; with a list, `byLabel` on
   * any other key scans the cache.
   */
  readonly indexLabels?: ReadonlyArray<string> | "all" | undefined
  /**
   * Which `metadata.managedFields` entries cached objects keep: `"all"`, or the `Apply` entries
   * of these field managers (default: none).
   */
  readonly managers?: ReadonlySet<string> | "all" | undefined
  /** The objects' type: with a schema, each object is decoded on ingest (the memo reconciles read). */
  readonly type?: ResourceType<T> | undefined
  /** A further transform on ingest (e.g. drop fields no controller reads). */
  readonly transform?: ((object: T) => T) | undefined
}

/**
 * resourceVersions are opaque to clients, but one resource's come from etcd's revision counter:
 * when both are integers, the smaller is the older.
 */
export const isOlderThan = (candidate: KubeObject, cached: KubeObject | undefined): boolean => {
  if (cached === undefined) return false
  const a = Number(candidate.metadata.resourceVersion)
  const b = Number(cached.metadata.resourceVersion)
  return Number.isSafeInteger(a) && Number.isSafeInteger(b) && a < b
}

/** Whether two objects of one key carry the same (non-empty) resourceVersion: the same stored object. */
const isSameVersion = (candidate: KubeObject, cached: KubeObject): boolean => {
  const version = candidate.metadata.resourceVersion
  return version !== undefined && version !== "" && version === cached.metadata.resourceVersion
}

/** Whether `candidate` is from no later than the deletion at `deletedAt` (both integer resourceVersions). */
const isFromBefore = (candidate: KubeObject, deletedAt: string | undefined): boolean => {
  const a = Number(candidate.metadata.resourceVersion)
  const b = Number(deletedAt)
  return Number.isSafeInteger(a) && Number.isSafeInteger(b) && a <= b
}

/** How many recent deletions a cache remembers (a late write answer comes within seconds of its deletion). */
export const maxTombstones = 1024

// ---------------------------------------------------------------------------------------------
// The synchronous cache (no Effect): ingest and the swap (the indexes are `internal/generation.ts`'s).
// Exported for tests and benchmarks.

/**
 * The cache proper. Every method is synchronous; `apply` returns the changes it made. Not safe to
 * share across threads (there are none); safe across fibers because no method yields.
 */
export class Cache<T extends KubeObject = KubeObject> {
  private current: Generation<T>
  private readonly indexLabels: ReadonlySet<string> | "all"
  private readonly managers: ReadonlySet<string> | "all"
  private readonly transform: ((object: T) => T) | undefined
  private readonly type: ResourceType<T> | undefined
  private readonly indexers = new Map<string, IndexFunction<T>>()
  /** The resourceVersions of recent deletions, by key, oldest first. */
  private readonly tombstones = new Map<ObjectKey, string | undefined>()
  private readyFlag = false
  /** Objects `prepare` ingested that a relist has not taken in yet. */
  private readonly prepared = new WeakSet<T>()

  constructor(options: StoreOptions<T> = {}) {
    this.indexLabels =
      options.indexLabels === undefined || options.indexLabels === "all"
        ? "all"
        : new Set(options.indexLabels)
    this.managers = options.managers ?? new Set()
    this.transform = options.transform
    this.type = options.type?.schema === undefined ? undefined : options.type
    this.current = new Generation<T>(this.indexLabels, this.indexers)
  }

  /** True once a complete list has been applied. */
  get ready(): boolean {
    return this.readyFlag
  }

  get size(): number {
    return this.current.objects.size
  }

  get(key: ObjectKey): T | undefined {
    return this.current.objects.get(key)
  }

  list(): Array<T> {
    return Array.from(this.current.objects.values())
  }

  keys(): Array<ObjectKey> {
    return Array.from(this.current.objects.keys())
  }

  /** Objects whose controller owner reference has this UID. */
  ownedBy(uid: string): Array<T> {
    return this.resolve(this.current, this.current.byOwner.get(uid))
  }

  /**
   * Adds an index (client-go's `AddIndexers`): objects held now are indexed at once, and every
   * later change keeps it current. A name already in use is replaced.
   */
  addIndex(name: string, indexer: IndexFunction<T>): void {
    this.indexers.set(name, indexer)
    this.current.addIndex(name, indexer)
  }

  /** Objects indexed under `value` by the index `name` (none for an unknown index). */
  byIndex(name: string, value: string): Array<T> {
    return this.resolve(this.current, this.current.byIndex.get(name)?.get(value))
  }

  byLabel(label: string, value: string): Array<T> {
    const generation = this.current
    if (generation.indexes(label)) return this.resolve(generation, generation.labelIndex(label)?.get(value))
    const found: Array<T> = []
    for (const object of generation.objects.values()) {
      if (object.metadata.labels?.[label] === value) found.push(object)
    }
    return found
  }

  /**
   * What this cache would hold of `object`, a fresh object of a list in progress: the instance it
   * holds already at the same resourceVersion, or `object` ingested now (trimmed, its values
   * shared, decoded), which the relist's `Restarted` then takes in as it is. A watcher calls it
   * page by page (`WatcherOptions.prepare`), so a list of 40,000 objects is not held as parsed
   * until its last page.
   */
  prepare(object: T): T {
    const cached = this.current.objects.get(keyOf(object))
    if (cached !== undefined && isSameVersion(object, cached)) return cached
    const ingested = this.ingest(object)
    this.prepared.add(ingested)
    return ingested
  }

  /** Applies one watcher event; returns the changes, in order. */
  apply(event: WatcherEvent<T>): Array<Change<T>> {
    switch (event._tag) {
      case "Applied": {
        const key = keyOf(event.object)
        const generation = this.current
        const before = generation.objects.get(key)
        // A controller writes the API server's answers through to the cache; the watch event for
        // an earlier write can arrive after that and must not roll the object back.
        if (isOlderThan(event.object, before)) return []
        // Nor is the watch's echo of a write already written through a change: the same
        // resourceVersion is the same object, and its change was published when it was written.
        if (before !== undefined && isSameVersion(event.object, before)) return []
        // Nor must the answer to a write the object's deletion overtook bring it back.
        if (before === undefined && this.tombstones.has(key)) {
          if (isFromBefore(event.object, this.tombstones.get(key))) return []
          this.tombstones.delete(key)
        }
        const object = this.ingest(event.object)
        generation.put(key, object, before)
        return [{ key, before, after: object, unchanged: false }]
      }
      case "Deleted": {
        const key = keyOf(event.object)
        const generation = this.current
        const before = generation.objects.get(key)
        if (before !== undefined) generation.remove(key, before)
        this.tombstones.delete(key)
        this.tombstones.set(key, event.object.metadata.resourceVersion)
        if (this.tombstones.size > maxTombstones) {
          const [oldest] = this.tombstones.keys()
          if (oldest !== undefined) this.tombstones.delete(oldest)
        }
        // Not cached (the watch's echo of a deletion written through): nothing changed.
        return before === undefined ? [] : [{ key, before, after: undefined, unchanged: false }]
      }
      case "Restarted":
        return this.restart(event.objects)
    }
  }

  /** Builds the next generation from a complete list, then swaps it in. */
  private restart(objects: ReadonlyArray<T>): Array<Change<T>> {
    const previous = this.current
    const next = new Generation<T>(this.indexLabels, this.indexers)
    const changes: Array<Change<T>> = []
    for (const incoming of objects) {
      const key = keyOf(incoming)
      const before = previous.objects.get(key)
      const rv = incoming.metadata.resourceVersion
      if (before !== undefined && rv !== undefined && before.metadata.resourceVersion === rv) {
        // Same version: keep the instance we already hold, let the fresh copy be collected.
        next.put(key, before, undefined)
        changes.push({ key, before, after: before, unchanged: true })
      } else {
        const object = this.prepared.delete(incoming) ? incoming : this.ingest(incoming)
        next.put(key, object, undefined)
        changes.push({ key, before, after: object, unchanged: false })
      }
    }
    for (const [key, before] of previous.objects) {
      if (!next.objects.has(key)) changes.push({ key, before, after: undefined, unchanged: false })
    }
    this.current = next
    this.readyFlag = true
    return changes
  }

  private ingest(object: T): T {
    const entries = object.metadata.managedFields
    if (entries !== undefined) {
      // Assigning (rather than deleting) keeps the object's shape and fast properties. The object
      // is fresh from the wire and not yet shared, so it is still ours to trim.
      const kept = this.managers === "all" ? entries : ManagedFields.entriesOf(entries, this.managers)
      ;(object.metadata as { managedFields?: unknown }).managedFields = kept?.map(internEntry)
    }
    shareValues(object)
    const stored = this.transform === undefined ? object : this.transform(object)
    if (this.type !== undefined) decodeObject(this.type, stored)
    return stored
  }

  private resolve(generation: Generation<T>, keys: Iterable<ObjectKey> | undefined): Array<T> {
    if (keys === undefined) return []
    const found: Array<T> = []
    for (const key of keys) {
      const object = generation.objects.get(key)
      if (object !== undefined) found.push(object)
    }
    return found
  }
}

// ---------------------------------------------------------------------------------------------
// The Effect face of the cache

export interface Store<T extends KubeObject = KubeObject> {
  /** Completes once the first complete list is in; reconciles wait on it. */
  readonly ready: Effect.Effect<void>
  readonly isReady: Effect.Effect<boolean>
  get(key: ObjectKey): Effect.Effect<T | undefined>
  readonly list: Effect.Effect<ReadonlyArray<T>>
  readonly keys: Effect.Effect<ReadonlyArray<ObjectKey>>
  readonly size: Effect.Effect<number>
  /** Objects whose controller owner reference has this UID. */
  ownedBy(uid: string): Effect.Effect<ReadonlyArray<T>>
  byLabel(label: string, value: string): Effect.Effect<ReadonlyArray<T>>
  /**
   * Subscribes now: every change applied after this returns is delivered to the stream, in order.
   * Subscribe before starting the feed (or enqueue `keys` after `ready`) not to miss the first list.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<Change<T>>, never, Scope.Scope>
  /** A stream that subscribes when it starts. */
  readonly changes: Stream.Stream<Change<T>>
  /** Feeds one watcher event (what the reflector does). */
  apply(event: WatcherEvent<T>): Effect.Effect<void>
  /** The synchronous cache underneath, for code that reads many objects at once. */
  readonly cache: Cache<T>
}

/** An empty store; feed it with `apply` (or use `reflect`). */
export const make = <T extends KubeObject>(
  options: StoreOptions<T> = {}
): Effect.Effect<Store<T>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const cache = new Cache<T>(options)
    const readyLatch = yield* Deferred.make<void>()
    // Unbounded: a slow subscriber must never stall the reflector. Without subscribers, publishing is dropped.
    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<Change<T>>(), PubSub.shutdown)
    const store: Store<T> = {
      ready: Deferred.await(readyLatch),
      isReady: Effect.sync(() => cache.ready),
      get: (key) => Effect.sync(() => cache.get(key)),
      list: Effect.sync(() => cache.list()),
      keys: Effect.sync(() => cache.keys()),
      size: Effect.sync(() => cache.size),
      ownedBy: (uid) => Effect.sync(() => cache.ownedBy(uid)),
      byLabel: (label, value) => Effect.sync(() => cache.byLabel(label, value)),
      subscribe: Effect.map(PubSub.subscribe(pubsub), Stream.fromSubscription),
      changes: Stream.fromPubSub(pubsub),
      apply: (event) =>
        Effect.suspend(() => {
          const changes = cache.apply(event)
          const published = changes.length === 0 ? Effect.void : PubSub.publishAll(pubsub, changes)
          return event._tag === "Restarted"
            ? Effect.andThen(published, Deferred.succeed(readyLatch, undefined))
            : published
        }).pipe(Effect.asVoid),
      cache
    }
    return store
  })

/**
 * A store kept in sync with the cluster: a `watcher` for `type` feeding a new store, running in
 * the enclosing scope (closing the scope stops the watch). Await `store.ready` before reading.
 */
export const reflect = <T extends KubeObject>(
  type: ResourceType<T>,
  options: StoreOptions<T> & Omit<WatcherOptions<T>, "resumeFrom" | "prepare"> = {}
): Effect.Effect<Store<T>, never, Client | Scope.Scope> =>
  Effect.gen(function* () {
    const store = yield* make<T>(options)
    yield* watcher(type, { ...options, prepare: (object) => store.cache.prepare(object) }).pipe(
      Stream.runForEach(store.apply),
      Effect.forkScoped
    )
    return store
  })
