/**
 * A controller from a core `Reconciler`: watches feed caches, cache changes become primary
 * keys on a work queue, and a worker per key takes a snapshot from the caches, asks core's
 * `plan` what to do, and hands the plan to the Interpreter. It owns the wiring only: what to do
 * is the reconciler's, how to write is the Interpreter's, and no API read happens on the
 * reconcile path (snapshots come from the caches alone).
 *
 * A reconcile runs core's one protocol (`Reconcile`): decide once, write the children, plan again
 * from the caches (which by then hold the API server's answers) and write the status only if it
 * changed. Caches keep this controller's own managed-fields entries (how a plan knows which fields
 * it owns) and decode typed kinds on their way in.
 *
 * Events that requeue a primary:
 * - the primary itself changed (an unchanged object re-delivered by a relist: low priority);
 * - an object of an owned type changed whose controller reference names the primary's kind;
 * - an object of a referenced type changed, mapped by the reconciler's `references`.
 *
 * A reconcile whose plan holds a deleting primary's children (`holdDeletion`) logs a warning
 * with the reason; the plan's own backoff keeps that from repeating often.
 */

import { hostname } from "node:os"
import {
  groupOf,
  type KubeObject,
  keyOfType,
  type ObjectKey,
  Reconcile,
  type Reconciler,
  type ResourceType
} from "@kleff/core"
import { Clock, Effect, type Scope, Stream } from "effect"
import { Client } from "./Client.ts"
import type { KubeError } from "./Errors.ts"
import { EventType, execute, typeRegistry } from "./Interpreter.ts"
import { Outcome } from "./internal/workers.ts"
import { queueRunnable, type Runnable } from "./Manager.ts"
import { formatMicroTime } from "./MicroTime.ts"
import { caches, kindsOf, observe, selectorsOf, typeKey } from "./Snapshot.ts"
import { type Change, make as makeStore, type Store } from "./Store.ts"
import { watcher } from "./Watcher.ts"
import { make as makeQueue, type WorkQueue } from "./WorkQueue.ts"

export interface ControllerOptions<P extends KubeObject, D> {
  readonly reconciler: Reconciler<P, D>
  /** Keys reconciled at once (never the same key twice). Default 8. */
  readonly concurrency?: number | undefined
  /** Identity written on Events (`reportingInstance`). Default: the host name. */
  readonly instance?: string | undefined
}

export interface Controller {
  readonly name: string
  /** Completes once every cache has its first complete list. */
  readonly ready: Effect.Effect<void>
  /** Whether every cache has its first complete list (for a readiness probe). */
  readonly isReady: Effect.Effect<boolean>
  /** The cache of primaries, as stored (decoded on demand through `decodeObject`). */
  readonly primaries: Store
  readonly queue: WorkQueue
  /** The reconcile loop, to run under a Manager (leader-only by default). */
  readonly runnable: Runnable
  /** Reconciles one primary key now (what a worker does): exposed for `plan`-style tools and tests. */
  readonly reconcile: (key: ObjectKey) => Effect.Effect<Outcome, KubeError, Client>
}

/**
 * Builds the controller: its caches start watching in the enclosing scope right away (so a
 * standby replica is warm when it becomes leader); its workers run when `runnable` runs.
 */
export const make = Effect.fnUntraced(function* <P extends KubeObject, D>(
  options: ControllerOptions<P, D>
): Effect.fn.Return<Controller, never, Client | Scope.Scope> {
  const { reconciler } = options
  const primaryType = reconciler.primary
  const references = reconciler.references ?? []

  // One cache per kind, whatever role the kind plays. Each store is made and subscribed to
  // before its watcher starts, so no change is missed.
  const types = kindsOf(reconciler)
  const stores = new Map<string, Store>()
  const managers = new Set([reconciler.name])
  for (const type of types) stores.set(typeKey(type), yield* makeStore({ managers, type }))
  const storeOf = (apiVersion: string, kind: string) => stores.get(`${groupOf(apiVersion)}/${kind}`)
  // biome-ignore lint/style/noNonNullAssertion: the primary's store was made just above.
  const primaries = stores.get(typeKey(primaryType))!
  const snapshotFrom = caches(new Map([...stores].map(([key, store]) => [key, store.cache])), reconciler)

  const queue = yield* makeQueue({ name: reconciler.name })
  const client = yield* Client

  // Changes → primary keys.
  const enqueueFor = (type: ResourceType, change: Change): void => {
    const object = change.after ?? change.before
    if (object === undefined) return
    if (typeKey(type) === typeKey(primaryType)) {
      queue.addUnsafe(change.key, change.unchanged ? "low" : "normal")
      return
    }
    if (change.unchanged) return
    if (reconciler.owned.some((owned) => typeKey(owned) === typeKey(type))) {
      for (const candidate of [change.before, change.after]) {
        const owner = candidate?.metadata.ownerReferences?.find(
          (ref) =>
            ref.controller === true &&
            ref.kind === primaryType.kind &&
            groupOf(ref.apiVersion) === primaryType.group
        )
        if (owner !== undefined) {
          queue.addUnsafe(keyOfType(primaryType, owner.name, candidate?.metadata.namespace))
        }
      }
    }
    for (const reference of references) {
      if (typeKey(reference.type) !== typeKey(type)) continue
      for (const key of reference.toPrimaries(object, primaries.cache.list())) queue.addUnsafe(key)
    }
  }
  for (const type of types) {
    // biome-ignore lint/style/noNonNullAssertion: every type has a store.
    const store = stores.get(typeKey(type))!
    const changes = yield* store.subscribe
    yield* changes.pipe(
      Stream.runForEach((change) => Effect.sync(() => enqueueFor(type, change))),
      Effect.forkScoped
    )
    yield* watcher(type, selectorsOf(reconciler, type)).pipe(
      Stream.runForEach(store.apply),
      Effect.forkScoped
    )
  }
  const ready = Effect.forEach(stores.values(), (store) => store.ready, { discard: true })
  const isReady = Effect.sync(() => [...stores.values()].every((store) => store.cache.ready))

  const registry = typeRegistry([...types, EventType])
  const instance = options.instance ?? hostname()

  const writeThrough = (object: KubeObject): Effect.Effect<void> => {
    const store = storeOf(object.apiVersion, object.kind)
    if (store === undefined) return Effect.void
    return store.apply({ _tag: "Applied", object })
  }

  const reconcile = Effect.fnUntraced(function* (key: ObjectKey) {
    if (primaries.cache.get(key) === undefined) return Outcome.done
    const nowMillis = yield* Clock.currentTimeMillis
    const eventTime = formatMicroTime(nowMillis)
    const reconciled = yield* Reconcile.reconcile(reconciler, {
      now: new Date(nowMillis).toISOString(),
      snapshot: Effect.sync(() => {
        const primary = primaries.cache.get(key)
        return primary === undefined ? undefined : observe(primary, snapshotFrom)
      }),
      execute: (actions, snapshot) =>
        execute(actions, {
          controller: reconciler.name,
          instance,
          types: registry,
          primary: snapshot.primary,
          writeThrough,
          now: eventTime
        })
    })
    const held = reconciled.plan?.outcome.held
    if (held !== undefined) {
      yield* Effect.logWarning(`Deletion held, nothing deleted: ${held.reason}: ${held.message}`)
    }
    const after = reconciled.requeueAfterMillis
    return after === undefined ? Outcome.done : Outcome.requeueAfter(after)
  })

  const runnable = queueRunnable(reconciler.name, queue, {
    concurrency: options.concurrency ?? 8,
    handler: (key) =>
      reconcile(key).pipe(
        Effect.provideService(Client, client),
        Effect.annotateLogs({ controller: reconciler.name, key })
      )
  })

  const controller: Controller = {
    name: reconciler.name,
    ready,
    isReady,
    primaries,
    queue,
    runnable: {
      name: runnable.name,
      run: (shutdown) =>
        Effect.gen(function* () {
          yield* ready
          // Every primary once at start; later only what changes.
          for (const key of primaries.cache.keys()) queue.addUnsafe(key)
          yield* runnable.run(shutdown)
        })
    },
    reconcile
  }
  return controller
})
