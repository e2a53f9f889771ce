/**
 * The process's shared informer cache, after controller-runtime's cache: one watch and one
 * `Store` per (kind, namespace, label selector, field selector), however many controllers read
 * it. Controllers register what they read while they are built; the watches start together
 * (`start`, idempotent: the Manager or the first controller to run calls it), and a controller
 * reconciles only once every informer it reads has its first complete list.
 *
 * Who writes a cache: its watch, and the API server's answers to this process's own writes
 * (`recordWrite`: the object the server returned, so the next snapshot holds it before the watch
 * event arrives; ignored by informers whose selection it does not match, and by the resourceVersion
 * guard when older than what is cached; `recordDelete`: an object this process deleted leaves the
 * caches holding it at the UID deleted, unless the answer shows it still there, terminating).
 * Readers get `ReadonlyCache`: no method that changes it.
 *
 * Field managers: each cache keeps the `Apply` managed-fields entries of every controller reading
 * it (how a plan knows which fields it owns); an informer registered after `start` by a controller
 * with a new field manager relists, so its objects carry that manager's entries too.
 *
 * It must not decide what a change means (controllers map changes to their primaries) nor talk to
 * the API server other than through its watches.
 */
import { groupOf, type KubeObject, keyOfRef, type ObjectRef, type ResourceType } from "@kleff/core"
import { Context, Effect, Fiber, Layer, Queue, Scope, Stream } from "effect"
import { Client } from "./Client.ts"
import { resourceName } from "./internal/paths.ts"
import type { Runnable } from "./Manager.ts"
import { type Selection, typeKey } from "./Snapshot.ts"
import { type Cache, type Change, make as makeStore, type Store } from "./Store.ts"
import { watcher } from "./Watcher.ts"

/** Which objects of a kind one informer holds (empty: every object in the cluster). */
export type { Selection }

/** The cache of an informer, as readers see it: queries only. */
export type ReadonlyCache<T extends KubeObject = KubeObject> = Pick<
  Cache<T>,
  "ready" | "size" | "get" | "list" | "keys" | "ownedBy" | "byLabel" | "byIndex" | "addIndex"
>

export interface Informer<T extends KubeObject = KubeObject> {
  readonly type: ResourceType<T>
  readonly selection: Selection
  /** `kind selection`, for logs and tests. */
  readonly description: string
  readonly cache: ReadonlyCache<T>
  /** Completes once the first complete list is in. */
  readonly ready: Effect.Effect<void>
  /** Every change applied after subscribing, in order (subscribe before `start` not to miss the first list). */
  readonly subscribe: Effect.Effect<Stream.Stream<Change<T>>, never, Scope.Scope>
}

export interface InformerOptions {
  /** The field manager whose `Apply` entries cached objects must keep. */
  readonly manager?: string | undefined
}

export interface InformersService {
  /** The informer for `type` and `selection`, made on first request and shared after. */
  readonly informer: <T extends KubeObject>(
    type: ResourceType<T>,
    selection: Selection,
    options?: InformerOptions
  ) => Effect.Effect<Informer<T>>
  /** Starts every registered watch not started yet; informers registered later start at once. */
  readonly start: Effect.Effect<void>
  /** The informers registered, one watch each once started. */
  readonly informers: Effect.Effect<ReadonlyArray<Informer>>
  /** Records the API server's answer to a write of this process in every informer it belongs to. */
  readonly recordWrite: (object: KubeObject) => Effect.Effect<void>
  /** Records a delete of this process the API server answered (or found already done) in every informer holding the object. */
  readonly recordDelete: (deletion: Deletion) => Effect.Effect<void>
}

/** A delete the API server answered: of `ref`, preconditioned on `uid`, and its answer (`Client.delete`'s). */
export interface Deletion {
  readonly ref: ObjectRef
  readonly uid: string | undefined
  /** The object the server answered with; `undefined` for a `Status` or a `NotFound` (gone). */
  readonly answer: KubeObject | undefined
}

export class Informers extends Context.Service<Informers, InformersService>()("@kleff/k8s/Informers") {
  /** Informers whose watches live as long as the layer. */
  static readonly layer: Layer.Layer<Informers, never, Client> = Layer.effect(
    Informers,
    Effect.gen(function* () {
      return yield* make
    })
  )
}

/** The canonical form of a selection, for the registry key. */
const selectionKey = (selection: Selection): string =>
  [
    selection.namespace ?? "",
    sortedTerms(selection.labelSelector).join(","),
    sortedTerms(selection.fieldSelector).join(",")
  ].join("|")

const sortedTerms = (selector: string | undefined): Array<string> =>
  selector === undefined || selector === ""
    ? []
    : selector
        .split(",")
        .map((term) => term.trim())
        .sort()

export const describe = (type: ResourceType, selection: Selection): string => {
  const parts = [
    selection.namespace === undefined ? "all namespaces" : `namespace ${selection.namespace}`,
    selection.labelSelector === undefined ? undefined : `labels ${selection.labelSelector}`,
    selection.fieldSelector === undefined ? undefined : `fields ${selection.fieldSelector}`
  ].filter((part) => part !== undefined)
  return `${resourceName(type)} (${type.namespaced ? parts.join(", ") : parts.slice(1).join(", ") || "all"})`
}

/** One `key=value` term of a selector; `undefined` for any other form. */
const equality = (term: string): readonly [string, string] | undefined => {
  const [key, value, extra] = term.split("=")
  return extra !== undefined || key === undefined || value === undefined || key.endsWith("!")
    ? undefined
    : [key, value]
}

/**
 * Whether an object belongs to an informer with this selection, the selectors parsed once.
 * Terms this framework does not write (set-based label selectors, other fields) never match: an
 * answer is then left to the watch.
 */
export const matcher = (selection: Selection): ((object: KubeObject) => boolean) => {
  const labels = sortedTerms(selection.labelSelector).map(equality)
  const fields = sortedTerms(selection.fieldSelector).map(equality)
  if (labels.includes(undefined) || fields.includes(undefined)) return () => false
  const wantedLabels = labels as ReadonlyArray<readonly [string, string]>
  const wantedFields = fields as ReadonlyArray<readonly [string, string]>
  if (wantedFields.some(([field]) => field !== "metadata.name" && field !== "metadata.namespace")) {
    return () => false
  }
  return (object) => {
    const namespace = object.metadata.namespace ?? ""
    if (selection.namespace !== undefined && selection.namespace !== namespace) return false
    for (const [key, value] of wantedLabels) if (object.metadata.labels?.[key] !== value) return false
    for (const [field, value] of wantedFields) {
      if ((field === "metadata.name" ? object.metadata.name : namespace) !== value) return false
    }
    return true
  }
}

interface Entry {
  readonly informer: Informer
  readonly store: Store
  readonly managers: Set<string>
  readonly matches: (object: KubeObject) => boolean
  /** Signalled by each write of this process the informer's selection matches: the kind is served. */
  readonly written: Queue.Queue<void>
  /** The running watch, once started. */
  fiber: Fiber.Fiber<void> | undefined
}

/** Informers whose watches run in the enclosing scope. */
export const make: Effect.Effect<InformersService, never, Client | Scope.Scope> = Effect.gen(function* () {
  const client = yield* Client
  const scope = yield* Scope.Scope
  const entries = new Map<string, Entry>()
  let started = false

  const run = (entry: Entry): Effect.Effect<void> =>
    Effect.gen(function* () {
      if (entry.fiber !== undefined) yield* Fiber.interrupt(entry.fiber)
      const { type, selection } = entry.informer
      const cache = entry.store.cache
      entry.fiber = yield* watcher(type, {
        ...selection,
        served: Queue.take(entry.written),
        prepare: (object) => cache.prepare(object)
      }).pipe(
        Stream.runForEach(entry.store.apply),
        Effect.provideService(Client, client),
        Effect.annotateLogs({ informer: entry.informer.description }),
        Effect.forkIn(scope)
      )
    })

  const informer = <T extends KubeObject>(
    type: ResourceType<T>,
    selection: Selection,
    options: InformerOptions = {}
  ): Effect.Effect<Informer<T>> =>
    Effect.gen(function* () {
      const key = `${typeKey(type)}|${selectionKey(selection)}`
      const existing = entries.get(key)
      if (existing !== undefined) {
        const manager = options.manager
        if (manager !== undefined && !existing.managers.has(manager)) {
          existing.managers.add(manager)
          // Objects already ingested lack the new manager's entries: list them again.
          if (existing.fiber !== undefined) yield* run(existing)
        }
        return existing.informer as unknown as Informer<T>
      }
      const managers = new Set(options.manager === undefined ? [] : [options.manager])
      // No label index: controllers find objects by owner (`ownedBy`) and by the indexes they add
      // (`addIndex`), and `byLabel` scans. Indexing every label of every object cost 1.1 KiB
      // of heap per tenant of the tenant operator, 7% of its caches.
      const store = yield* makeStore<T>({ managers, type, indexLabels: [] }).pipe(Scope.provide(scope))
      const informer: Informer<T> = {
        type,
        selection,
        description: describe(type, selection),
        cache: store.cache,
        ready: store.ready,
        subscribe: store.subscribe
      }
      const entry: Entry = {
        informer: informer as unknown as Informer,
        store: store as unknown as Store,
        managers,
        matches: matcher(selection),
        written: yield* Queue.sliding<void>(1),
        fiber: undefined
      }
      entries.set(key, entry)
      if (started) yield* run(entry)
      return informer
    })

  /** The informers of the kind `ref` names, whatever their selection. */
  const entriesOfKind = function* (ref: { readonly apiVersion: string; readonly kind: string }) {
    const group = groupOf(ref.apiVersion)
    for (const entry of entries.values()) {
      const { type } = entry.informer
      if (type.kind === ref.kind && type.group === group) yield entry
    }
  }

  const service: InformersService = {
    informer,
    start: Effect.suspend(() => {
      started = true
      return Effect.forEach(
        [...entries.values()].filter((entry) => entry.fiber === undefined),
        run,
        { discard: true }
      )
    }),
    informers: Effect.sync(() => [...entries.values()].map((entry) => entry.informer)),
    recordWrite: (object) =>
      Effect.suspend(() => {
        const writes: Array<Effect.Effect<void>> = []
        for (const entry of entriesOfKind(object)) {
          if (!entry.matches(object)) continue
          // Each cache trims managed fields to its own managers on ingest: one copy of the metadata each.
          const copy = writes.length === 0 ? object : { ...object, metadata: { ...object.metadata } }
          writes.push(entry.store.apply({ _tag: "Applied", object: copy }))
          Queue.offerUnsafe(entry.written, undefined)
        }
        return Effect.all(writes, { discard: true })
      }),
    recordDelete: ({ ref, uid, answer }) =>
      Effect.suspend(() => {
        // Still there while its finalizers or grace period run: the answer is its current state.
        if (answer?.metadata.deletionTimestamp !== undefined) return service.recordWrite(answer)
        const key = keyOfRef(ref)
        const deletes: Array<Effect.Effect<void>> = []
        for (const entry of entriesOfKind(ref)) {
          const cached = entry.store.cache.get(key)
          // Only the object deleted: one that took its name since (another UID) is left to the watch.
          if (cached === undefined || (uid !== undefined && cached.metadata.uid !== uid)) continue
          deletes.push(entry.store.apply({ _tag: "Deleted", object: answer ?? cached }))
        }
        return Effect.all(deletes, { discard: true })
      })
  }
  return service
})

/**
 * The informers as a Manager runnable that runs whether or not this process leads, so a standby
 * replica's caches are warm when it takes over: starts every watch, then waits for the stop.
 */
export const runnable = (informers: InformersService): Runnable => ({
  name: "informers",
  needLeaderElection: false,
  run: (shutdown) => Effect.andThen(informers.start, shutdown.await)
})
