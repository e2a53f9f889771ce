/**
 * A controller from a core `Reconciler`: watches feed caches, cache changes become primary
 * keys on a work queue, and a worker per key takes a snapshot from the caches, asks core's
 * `plan` what to do, and hands the plan to the Interpreter. It owns the wiring only: what to do
 * is the reconciler's, how to write is the Interpreter's, and no API read happens on the
 * reconcile path (snapshots come from the caches alone).
 *
 * A plan that creates or updates children reports a status computed before those writes. So the
 * children are written first, the plan is made again from the caches (which now hold the API
 * server's answers), and only that second plan's status is written: one status write per
 * reconcile, never "not created yet" about a child just created.
 *
 * Events that requeue a primary:
 * - the primary itself changed (an unchanged object re-delivered by a relist: low priority);
 * - an object of an owned type changed whose controller reference names the primary's kind;
 * - an object of a referenced type changed, mapped by the reconciler's `references`.
 */

import { hostname } from "node:os"
import {
  groupOf,
  type KubeObject,
  keyOfType,
  type ObjectKey,
  plan,
  type Reconciler,
  type ResourceType
} from "@kleff/core"
import { Clock, Effect, type Scope, Stream } from "effect"
import { Client } from "./Client.ts"
import type { KubeError } from "./Errors.ts"
import { EventType, execute, typeRegistry } from "./Interpreter.ts"
import { queueRunnable, type Runnable } from "./Manager.ts"
import { formatMicroTime } from "./MicroTime.ts"
import { caches, kindsOf, observe, typeKey } from "./Snapshot.ts"
import { type Change, make as makeStore, type Store } from "./Store.ts"
import { watcher } from "./Watcher.ts"
import { make as makeQueue, Outcome, type WorkQueue } from "./WorkQueue.ts"

export interface ControllerOptions<P extends KubeObject> {
  readonly reconciler: Reconciler<P>
  /** Keys reconciled at once (never the same key twice). Default 8. */
  readonly concurrency?: number | undefined
  /** Identity written on Events (`reportingInstance`). Default: the host name. */
  readonly instance?: string | undefined
}

export interface Controller<P extends KubeObject = KubeObject> {
  readonly name: string
  /** Completes once every cache has its first complete list. */
  readonly ready: Effect.Effect<void>
  /** Whether every cache has its first complete list (for a readiness probe). */
  readonly isReady: Effect.Effect<boolean>
  readonly primaries: Store<P>
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
export const make = Effect.fnUntraced(function* <P extends KubeObject>(
  options: ControllerOptions<P>
): Effect.fn.Return<Controller<P>, never, Client | Scope.Scope> {
  const { reconciler } = options
  const primaryType = reconciler.primary
  const references = reconciler.references ?? []

  // One cache per kind, whatever role the kind plays. Each store is made and subscribed to
  // before its watcher starts, so no change is missed.
  const types = kindsOf(reconciler)
  const stores = new Map<string, Store>()
  for (const type of types) stores.set(typeKey(type), yield* makeStore())
  const storeOf = (apiVersion: string, kind: string) => stores.get(`${groupOf(apiVersion)}/${kind}`)
  // biome-ignore lint/style/noNonNullAssertion: the primary's store was made just above.
  const primaries = stores.get(typeKey(primaryType))! as unknown as Store<P>
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
    yield* watcher(type).pipe(Stream.runForEach(store.apply), Effect.forkScoped)
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
    const primary = primaries.cache.get(key)
    if (primary === undefined) return Outcome.done
    const nowMillis = yield* Clock.currentTimeMillis
    const now = new Date(nowMillis).toISOString()
    const decided = plan(reconciler, observe(primary, snapshotFrom), now)
    const contextFor = (observed: P) => ({
      controller: reconciler.name,
      instance,
      types: registry,
      primary: observed,
      writeThrough,
      now: formatMicroTime(nowMillis)
    })
    if (decided.actions.some((action) => action._tag === "Apply")) {
      // Children first; the status from a plan that sees them (see the module comment).
      yield* execute(
        decided.actions.filter((action) => action._tag !== "PatchStatus"),
        contextFor(primary)
      )
      const written = primaries.cache.get(key)
      if (written !== undefined) {
        const status = plan(reconciler, observe(written, snapshotFrom), now).actions.filter(
          (action) => action._tag === "PatchStatus"
        )
        if (status.length > 0) yield* execute(status, contextFor(written))
      }
    } else if (decided.actions.length > 0) {
      yield* execute(decided.actions, contextFor(primary))
    }
    const requeue = decided.actions.find((action) => action._tag === "Requeue")
    return requeue === undefined ? Outcome.done : Outcome.requeueAfter(requeue.afterMillis)
  })

  const runnable = queueRunnable(reconciler.name, queue, {
    concurrency: options.concurrency ?? 8,
    handler: (key) =>
      reconcile(key).pipe(
        Effect.provideService(Client, client),
        Effect.annotateLogs({ controller: reconciler.name, key })
      )
  })

  const controller: Controller<P> = {
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
