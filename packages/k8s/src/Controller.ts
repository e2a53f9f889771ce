/**
 * A controller from a core `Reconciler`: the shared informers (`Informers`) feed caches, cache
 * changes become primary keys on a work queue, and a worker per key takes a snapshot from the
 * caches, runs core's one reconcile protocol (`Reconcile`) and hands its writes to the
 * Interpreter. It owns the wiring and what a reconcile's result means for its key; what to do is
 * the reconciler's, how to write is the Interpreter's, and no API read happens on the reconcile
 * path (snapshots come from the caches alone).
 *
 * What it caches (`selectionOf`): its primaries, its own children (through its managed-by label),
 * the objects it refers to, and with `namespace` only that namespace's objects of namespaced kinds.
 *
 * Events that requeue a primary, with the reason logged by its reconcile:
 * - the primary itself changed (an unchanged object re-delivered by a relist: low priority);
 * - an object of an owned type changed whose controller reference names the primary's kind
 *   (unless only its status changed and the reconciler does not read that kind's status:
 *   `readsStatusOf`);
 * - an object of a referenced type changed: the primaries indexed under its key by the
 *   reference's `refersTo` (an index of the primaries' cache, never a scan).
 *
 * A reconcile's result: converged → the key's backoff is forgotten; waiting → requeued after the
 * plan's delay; a write the API server refused for good (see `Interpreter.Refused`) → reported on
 * the primary's status by the protocol and retried slowly (`terminal`); any other failure or a
 * defect → logged once, counted and retried with the key's backoff. Each reconcile has an id in
 * its log lines and a span (`Controller.reconcile`) carrying the key and why it was queued.
 */

import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import {
  describeRef,
  groupOf,
  type KubeObject,
  keyOf,
  keyOfType,
  type ObjectKey,
  onlyStatusChanged,
  Reconcile,
  type Reconciler,
  type ResourceType,
  refOf
} from "@kleff/core"
import { Clock, Effect, type Scope, Stream } from "effect"
import { Client } from "./Client.ts"
import { type Informer, Informers } from "./Informers.ts"
import { EventType, execute, typeRegistry, type WriteError } from "./Interpreter.ts"
import { Outcome } from "./internal/workers.ts"
import { queueRunnable, type Runnable } from "./Manager.ts"
import { formatMicroTime } from "./MicroTime.ts"
import { caches, kindsOf, observe, selectionOf, typeKey } from "./Snapshot.ts"
import type { Change } from "./Store.ts"
import { make as makeQueue, type Priority, type WorkQueue } from "./WorkQueue.ts"

export interface ControllerOptions<P extends KubeObject, D> {
  readonly reconciler: Reconciler<P, D>
  /** Keys reconciled at once (never the same key twice). Default 8. */
  readonly concurrency?: number | undefined
  /** Identity written on Events (`reportingInstance`). Default: the host name. */
  readonly instance?: string | undefined
  /**
   * Reconcile only primaries in this namespace and cache only its objects of namespaced kinds
   * (a deployment that a Role in that namespace can authorise). Default: every namespace.
   */
  readonly namespace?: string | undefined
  /** A refused write is tried again after at least this long (and the key's backoff). Default 60 s. */
  readonly refusedRetryMillis?: number | undefined
}

export interface Controller {
  readonly name: string
  /** Starts the informers (if nothing has yet) and completes once every cache this controller reads has its first complete list. */
  readonly ready: Effect.Effect<void>
  /** Whether every cache this controller reads has its first complete list (for a readiness probe). */
  readonly isReady: Effect.Effect<boolean>
  /** The informer of primaries (decoded on demand through `decodeObject`). */
  readonly primaries: Informer
  readonly queue: WorkQueue
  /** The reconcile loop, to run under a Manager (leader-only by default). */
  readonly runnable: Runnable
  /** Reconciles one primary key now (what a worker does): exposed for `plan`-style tools and tests. */
  readonly reconcile: (key: ObjectKey, reason?: string) => Effect.Effect<Outcome, WriteError, Client>
}

/** The index of primaries by the objects a reference of theirs names. */
const referenceIndex = (reconciler: { readonly name: string }, position: number): string =>
  `${reconciler.name}/reference/${position}`

/**
 * Builds the controller: registers what it reads with the shared `Informers` (whose watches start
 * with the Manager, warm on a standby replica) and subscribes to their changes; its workers run
 * when `runnable` runs.
 */
export const make = Effect.fnUntraced(function* <P extends KubeObject, D>(
  options: ControllerOptions<P, D>
): Effect.fn.Return<Controller, never, Client | Informers | Scope.Scope> {
  const { reconciler } = options
  const primaryType = reconciler.primary
  const references = reconciler.references ?? []
  const informers = yield* Informers
  const scope = options.namespace

  // One informer per kind, whatever role the kind plays; subscribed to before any watch starts.
  const types = kindsOf(reconciler)
  const byType = new Map<string, Informer>()
  for (const type of types) {
    byType.set(
      typeKey(type),
      yield* informers.informer(type, selectionOf(reconciler, type, scope), { manager: reconciler.name })
    )
  }
  // biome-ignore lint/style/noNonNullAssertion: the primary's informer was made just above.
  const primaries = byType.get(typeKey(primaryType))!
  for (const [position, reference] of references.entries()) {
    primaries.cache.addIndex(referenceIndex(reconciler, position), reference.refersTo)
  }
  const snapshotFrom = caches(
    new Map([...byType].map(([key, informer]) => [key, informer.cache])),
    reconciler
  )

  const queue = yield* makeQueue({ name: reconciler.name })
  const client = yield* Client

  /** Why each waiting key was queued (the first reason since it was last handed out). */
  const reasons = new Map<ObjectKey, string>()
  const enqueue = (key: ObjectKey, reason: string, priority?: Priority): void => {
    if (!reasons.has(key)) reasons.set(key, reason)
    queue.addUnsafe(key, priority)
  }

  // Changes → primary keys.
  const isOwned = (type: ResourceType) => reconciler.owned.some((owned) => typeKey(owned) === typeKey(type))
  const readsStatus =
    reconciler.readsStatusOf === undefined ? undefined : new Set(reconciler.readsStatusOf.map(typeKey))
  /** A change to nothing but the status of an owned object whose status the reconciler does not read. */
  const statusOnly = (type: ResourceType, change: Change): boolean =>
    change.before !== undefined &&
    change.after !== undefined &&
    readsStatus !== undefined &&
    !readsStatus.has(typeKey(type)) &&
    onlyStatusChanged(change.before, change.after)
  const enqueueFor = (type: ResourceType, change: Change): void => {
    const object = change.after ?? change.before
    if (object === undefined) return
    if (typeKey(type) === typeKey(primaryType)) {
      enqueue(change.key, change.unchanged ? "resync" : "changed", change.unchanged ? "low" : "normal")
      return
    }
    if (change.unchanged) return
    if (isOwned(type) && !statusOnly(type, change)) {
      for (const candidate of [change.before, change.after]) {
        const owner = candidate?.metadata.ownerReferences?.find(
          (ref) =>
            ref.controller === true &&
            ref.kind === primaryType.kind &&
            groupOf(ref.apiVersion) === primaryType.group
        )
        if (candidate !== undefined && owner !== undefined) {
          enqueue(
            keyOfType(primaryType, owner.name, candidate.metadata.namespace),
            `owned ${describeRef(refOf(candidate))} changed`
          )
        }
      }
    }
    references.forEach((reference, position) => {
      if (typeKey(reference.type) !== typeKey(type)) return
      if (reference.matters !== undefined && !reference.matters(object)) return
      const reason = `${describeRef(refOf(object))} changed`
      for (const primary of primaries.cache.byIndex(referenceIndex(reconciler, position), keyOf(object))) {
        enqueue(keyOf(primary), reason)
      }
    })
  }
  for (const informer of byType.values()) {
    const changes = yield* informer.subscribe
    yield* changes.pipe(
      Stream.runForEach((change) => Effect.sync(() => enqueueFor(informer.type, change))),
      Effect.forkScoped
    )
  }
  const ready = Effect.andThen(
    informers.start,
    Effect.forEach(byType.values(), (informer) => informer.ready, { discard: true })
  )
  const isReady = Effect.sync(() => [...byType.values()].every((informer) => informer.cache.ready))

  const registry = typeRegistry([...types, EventType])
  const instance = options.instance ?? hostname()

  const reconcile = Effect.fn("Controller.reconcile")(function* (key: ObjectKey, reason = "requeued") {
    yield* Effect.annotateCurrentSpan({ controller: reconciler.name, key, reason })
    if (primaries.cache.get(key) === undefined) return Outcome.done
    const nowMillis = yield* Clock.currentTimeMillis
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
          writeThrough: informers.recordWrite,
          deleteThrough: informers.recordDelete,
          // Formatted per batch of writes, not per reconcile: most reconciles write nothing.
          now: formatMicroTime(nowMillis)
        }),
      refusal: (error) => (error._tag === "Refused" ? error.refusal : undefined)
    })
    const held = reconciled.plan?.outcome.held
    if (held !== undefined) {
      yield* Effect.logWarning(`Deletion held, nothing deleted: ${held.reason}: ${held.message}`)
    }
    const refused = reconciled.refused
    if (refused !== undefined) {
      return Outcome.terminal(
        `write refused, reported on the status: ${describeRef(refused.ref)}: ${refused.reason}: ${refused.message}`
      )
    }
    const after = reconciled.requeueAfterMillis
    return after === undefined ? Outcome.done : Outcome.requeueAfter(after)
  })

  const runnable = queueRunnable(reconciler.name, queue, {
    concurrency: options.concurrency ?? 8,
    terminalRetryMillis: options.refusedRetryMillis,
    handler: (key) => {
      const reason = reasons.get(key) ?? "requeued"
      reasons.delete(key)
      return reconcile(key, reason).pipe(
        Effect.provideService(Client, client),
        Effect.annotateLogs({ controller: reconciler.name, key, reconcileID: randomUUID() })
      )
    }
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
          for (const key of primaries.cache.keys()) enqueue(key, "start")
          yield* runnable.run(shutdown)
        })
    },
    reconcile
  }
  return controller
})
