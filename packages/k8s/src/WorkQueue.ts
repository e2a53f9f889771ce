/**
 * The work queue between watch events and reconciles, after client-go's `workqueue`:
 * - a dirty set dedupes keys: adding a key that is already waiting is a no-op;
 * - a processing set keeps one worker per key: a key added while it is being processed waits
 *   and is queued again, once, when the worker calls `done`;
 * - two priorities: normal adds are handed out before low-priority adds (low = unchanged objects
 *   from a relist/resync); a normal add of a key waiting at low priority promotes it;
 * - delayed adds (`addAfter`) live in one binary heap served by one timer fiber, so 10,000
 *   delayed keys cost 10,000 heap entries, not 10,000 fibers;
 * - per-key exponential backoff for `addRateLimited` (5 ms doubling to 1000 s), reset by `forget`;
 * - `shutdown` stops handing out keys; `drain` waits for in-flight keys to be `done`.
 * `run` drives N workers (`get → handler → done`) and turns the handler's outcome into
 * forget / rate-limited requeue / requeue-after, recording controller-runtime metrics.
 *
 * Time comes from Effect's `Clock` (tests drive it with `TestClock`). This module must not talk
 * to the API server or know what a key means: keys are opaque strings.
 */
import { Cause, Clock, Duration, Effect, Exit, Option, type Scope } from "effect"
import {
  type ControllerMetrics,
  controllerMetrics,
  initControllerMetrics,
  type WorkqueueMetrics,
  workqueueMetrics
} from "./Metrics.ts"

/** `normal` keys are handed out before `low` keys; within a priority, first in first out. */
export type Priority = "normal" | "low"

export interface WorkQueueOptions {
  /** The controller name: the `name`/`controller` label of the `workqueue_*` metrics. */
  readonly name: string
  /** First rate-limited delay; doubles per failure. Default 5 ms (client-go). */
  readonly baseDelayMillis?: number | undefined
  /** Cap of the rate-limited delay. Default 1000 s (client-go). */
  readonly maxDelayMillis?: number | undefined
  /** How often the unfinished-work gauges are refreshed while keys are in flight; 0 disables. Default 500 ms. */
  readonly unfinishedWorkUpdatePeriodMillis?: number | undefined
}

export const defaultBaseDelayMillis = 5
export const defaultMaxDelayMillis = 1_000_000

/** The delay before the `failures + 1`-th retry: `base · 2^failures`, capped at `max`. */
export const exponentialBackoffMillis = (failures: number, baseMillis: number, maxMillis: number): number => {
  const delay = baseMillis * 2 ** failures
  return Number.isFinite(delay) && delay < maxMillis ? delay : maxMillis
}

export interface WorkQueue {
  readonly name: string
  /** Marks `key` as needing processing. No-op after shutdown or while the key is already waiting (except promotion low → normal). */
  readonly add: (key: string, priority?: Priority) => Effect.Effect<void>
  /** Adds `key` after `millis`. A later request for a key already scheduled keeps the earlier time. */
  readonly addAfter: (key: string, millis: number) => Effect.Effect<void>
  /** Adds `key` after its per-key exponential backoff and counts a failure. */
  readonly addRateLimited: (key: string) => Effect.Effect<void>
  /** Resets the backoff of `key` (call on success). */
  readonly forget: (key: string) => Effect.Effect<void>
  /** How many rate-limited requeues `key` has had since the last `forget`. */
  readonly retries: (key: string) => Effect.Effect<number>
  /** Waits for a key and marks it processing; `None` once the queue is shut down. Call `done` after. */
  readonly get: Effect.Effect<Option.Option<string>>
  /** Ends processing of `key`; if it was added meanwhile, it is queued again. */
  readonly done: (key: string) => Effect.Effect<void>
  /** Keys waiting to be handed out (the `workqueue_depth` gauge). */
  readonly len: Effect.Effect<number>
  /** Keys scheduled by `addAfter`/`addRateLimited` and not yet added. */
  readonly delayedLen: Effect.Effect<number>
  /** Keys being processed. */
  readonly processingLen: Effect.Effect<number>
  /** Stops handing out keys and accepting adds; waiting `get`s return `None`. In-flight keys may still `done`. */
  readonly shutdown: Effect.Effect<void>
  /** Waits until no key is being processed (use after `shutdown`). */
  readonly drain: Effect.Effect<void>
  readonly isShuttingDown: Effect.Effect<boolean>
  /** Synchronous `add`, for callbacks outside Effect (e.g. event handlers). */
  readonly addUnsafe: (key: string, priority?: Priority) => void
}

// ---------------------------------------------------------------------------------------------
// Internal data structures
// ---------------------------------------------------------------------------------------------

interface Dirty {
  priority: Priority
  /** The sequence number of the one valid FIFO entry for this key (older entries are stale). */
  seq: number
  /** When the key became dirty (ms), for `workqueue_queue_duration_seconds`. */
  addedAt: number
}

/** A FIFO of (key, seq) with O(1) push/shift; entries whose seq is stale are skipped on shift. */
class Fifo {
  private keys: Array<string> = []
  private seqs: Array<number> = []
  private head = 0

  get size(): number {
    return this.keys.length - this.head
  }

  push(key: string, seq: number): void {
    this.keys.push(key)
    this.seqs.push(seq)
  }

  /** Removes and returns the first entry whose seq matches the key's dirty seq. */
  shiftValid(dirty: Map<string, Dirty>): string | undefined {
    while (this.head < this.keys.length) {
      const i = this.head++
      const key = this.keys[i] as string
      const seq = this.seqs[i] as number
      if (this.head > 1024 && this.head * 2 > this.keys.length) this.compact()
      const state = dirty.get(key)
      if (state !== undefined && state.seq === seq) return key
    }
    return undefined
  }

  clear(): void {
    this.keys = []
    this.seqs = []
    this.head = 0
  }

  private compact(): void {
    this.keys = this.keys.slice(this.head)
    this.seqs = this.seqs.slice(this.head)
    this.head = 0
  }
}

interface Delayed {
  readonly key: string
  readyAt: number
  index: number
}

/** A binary min-heap on `readyAt` with positions tracked for decrease-key and removal. */
class DelayHeap {
  private readonly items: Array<Delayed> = []
  readonly byKey = new Map<string, Delayed>()

  get size(): number {
    return this.items.length
  }

  peek(): Delayed | undefined {
    return this.items[0]
  }

  /** Schedules `key` at `readyAt`, or moves it earlier; returns true if the heap head changed. */
  schedule(key: string, readyAt: number): boolean {
    const existing = this.byKey.get(key)
    if (existing !== undefined) {
      if (readyAt >= existing.readyAt) return false
      existing.readyAt = readyAt
      this.up(existing.index)
      return existing.index === 0
    }
    const entry: Delayed = { key, readyAt, index: this.items.length }
    this.items.push(entry)
    this.byKey.set(key, entry)
    this.up(entry.index)
    return entry.index === 0
  }

  pop(): Delayed | undefined {
    const top = this.items[0]
    if (top !== undefined) this.removeAt(0)
    return top
  }

  remove(key: string): void {
    const entry = this.byKey.get(key)
    if (entry !== undefined) this.removeAt(entry.index)
  }

  clear(): void {
    this.items.length = 0
    this.byKey.clear()
  }

  private removeAt(index: number): void {
    const entry = this.items[index] as Delayed
    this.byKey.delete(entry.key)
    const last = this.items.pop() as Delayed
    if (index < this.items.length) {
      this.items[index] = last
      last.index = index
      this.down(index)
      this.up(last.index)
    }
  }

  private up(index: number): void {
    const entry = this.items[index] as Delayed
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = this.items[parentIndex] as Delayed
      if (parent.readyAt <= entry.readyAt) break
      this.items[index] = parent
      parent.index = index
      index = parentIndex
    }
    this.items[index] = entry
    entry.index = index
  }

  private down(index: number): void {
    const n = this.items.length
    const entry = this.items[index] as Delayed
    for (;;) {
      const left = 2 * index + 1
      if (left >= n) break
      const right = left + 1
      let child = left
      if (right < n && (this.items[right] as Delayed).readyAt < (this.items[left] as Delayed).readyAt)
        child = right
      const childEntry = this.items[child] as Delayed
      if (childEntry.readyAt >= entry.readyAt) break
      this.items[index] = childEntry
      childEntry.index = index
      index = child
    }
    this.items[index] = entry
    entry.index = index
  }
}

/**
 * Wakes one background fiber. A `notify` that arrives while the fiber is not yet waiting is
 * remembered, so a fiber that `reset`s, inspects state, then `wait`s never misses a change.
 */
class Signal {
  private pending = false
  private waiter: (() => void) | undefined

  notify(): void {
    const waiter = this.waiter
    if (waiter === undefined) {
      this.pending = true
      return
    }
    this.waiter = undefined
    waiter()
  }

  reset(): void {
    this.pending = false
  }

  readonly wait: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.pending) {
      this.pending = false
      resume(Effect.void)
      return
    }
    this.waiter = () => resume(Effect.void)
    return Effect.sync(() => {
      this.waiter = undefined
    })
  })
}

/** Where a worker records the key it holds, written in the same step the key is taken. */
interface Slot {
  key: string | undefined
}

// ---------------------------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------------------------

interface Internal extends WorkQueue {
  readonly getInto: (slot: Slot) => Effect.Effect<Option.Option<string>>
  readonly doneUnsafe: (key: string) => void
  readonly addAfterUnsafe: (key: string, millis: number) => void
  readonly addRateLimitedUnsafe: (key: string) => void
  readonly forgetUnsafe: (key: string) => void
}

const internals = new WeakMap<WorkQueue, Internal>()

/** Creates a queue whose timer fibers live in the current scope. */
export const make = Effect.fnUntraced(function* (
  options: WorkQueueOptions
): Effect.fn.Return<WorkQueue, never, Scope.Scope> {
  const clock = yield* Clock.Clock
  const context = yield* Effect.context<never>()
  const metrics: WorkqueueMetrics = workqueueMetrics(options.name)
  const baseDelay = options.baseDelayMillis ?? defaultBaseDelayMillis
  const maxDelay = options.maxDelayMillis ?? defaultMaxDelayMillis
  const unfinishedPeriod = options.unfinishedWorkUpdatePeriodMillis ?? 500

  const dirty = new Map<string, Dirty>()
  const processing = new Map<string, number>()
  const normal = new Fifo()
  const low = new Fifo()
  const delayed = new DelayHeap()
  const failures = new Map<string, number>()
  const getters = new Set<() => void>()
  const drainers = new Set<() => void>()
  let queued = 0
  let seq = 0
  let shuttingDown = false
  const timerSignal = new Signal()
  const unfinishedSignal = new Signal()

  const now = () => clock.currentTimeMillisUnsafe()
  const setDepth = () => metrics.depth.updateUnsafe(queued, context)

  const signalOneGetter = () => {
    const next = getters.values().next()
    if (next.done !== true) {
      getters.delete(next.value)
      next.value()
    }
  }

  const signalAll = (set: Set<() => void>) => {
    const all = [...set]
    set.clear()
    for (const resume of all) resume()
  }

  const enqueue = (key: string, state: Dirty) => {
    state.seq = ++seq
    ;(state.priority === "normal" ? normal : low).push(key, state.seq)
    queued++
    setDepth()
    signalOneGetter()
  }

  const addUnsafe = (key: string, priority: Priority = "normal"): void => {
    if (shuttingDown) return
    const state = dirty.get(key)
    if (state !== undefined) {
      if (priority === "normal" && state.priority === "low") {
        state.priority = "normal"
        if (!processing.has(key)) {
          // Promotion: a fresh normal entry; the low one becomes stale. `queued` is unchanged.
          state.seq = ++seq
          normal.push(key, state.seq)
        }
      }
      return
    }
    const fresh: Dirty = { priority, seq: 0, addedAt: now() }
    dirty.set(key, fresh)
    metrics.adds.updateUnsafe(1, context)
    if (processing.has(key)) return
    enqueue(key, fresh)
  }

  const takeUnsafe = (slot: Slot | undefined): string | undefined => {
    if (shuttingDown || queued === 0) return undefined
    const key = normal.shiftValid(dirty) ?? low.shiftValid(dirty)
    if (key === undefined) return undefined
    const state = dirty.get(key) as Dirty
    dirty.delete(key)
    queued--
    const at = now()
    if (processing.size === 0) unfinishedSignal.notify()
    processing.set(key, at)
    if (slot !== undefined) slot.key = key
    // A key handed out now supersedes any pending delayed add of it: this run decides the next requeue.
    delayed.remove(key)
    setDepth()
    metrics.queueDuration.updateUnsafe((at - state.addedAt) / 1000, context)
    return key
  }

  const waitForWork = Effect.callback<void>((resume) => {
    const wake = () => resume(Effect.void)
    getters.add(wake)
    return Effect.sync(() => {
      getters.delete(wake)
    })
  })

  // If a getter is interrupted after being signalled, hand the signal on so no key is stranded.
  const passOnSignal = Effect.sync(() => {
    if (queued > 0) signalOneGetter()
  })

  const getInto = (slot: Slot | undefined): Effect.Effect<Option.Option<string>> =>
    Effect.suspend(() => {
      const key = takeUnsafe(slot)
      if (key !== undefined) return Effect.succeed(Option.some(key))
      if (shuttingDown) return Effect.succeed(Option.none())
      return waitForWork.pipe(
        Effect.flatMap(() => getInto(slot)),
        Effect.onInterrupt(() => passOnSignal)
      )
    })

  const doneUnsafe = (key: string): void => {
    const startedAt = processing.get(key)
    if (startedAt === undefined) return
    processing.delete(key)
    metrics.workDuration.updateUnsafe((now() - startedAt) / 1000, context)
    const state = dirty.get(key)
    if (state !== undefined && !shuttingDown) enqueue(key, state)
    if (processing.size === 0) signalAll(drainers)
  }

  const addAfterUnsafe = (key: string, millis: number): void => {
    if (shuttingDown) return
    metrics.retries.updateUnsafe(1, context)
    if (millis <= 0) {
      addUnsafe(key)
      return
    }
    // Already waiting (or re-queued behind its in-flight run): that run will decide.
    if (dirty.has(key)) return
    if (delayed.schedule(key, now() + millis)) timerSignal.notify()
  }

  const addRateLimitedUnsafe = (key: string): void => {
    const n = failures.get(key) ?? 0
    failures.set(key, n + 1)
    addAfterUnsafe(key, exponentialBackoffMillis(n, baseDelay, maxDelay))
  }

  const forgetUnsafe = (key: string): void => {
    failures.delete(key)
  }

  const shutdownUnsafe = (): void => {
    if (shuttingDown) return
    shuttingDown = true
    delayed.clear()
    normal.clear()
    low.clear()
    queued = 0
    setDepth()
    timerSignal.notify()
    unfinishedSignal.notify()
    signalAll(getters)
    if (processing.size === 0) signalAll(drainers)
  }

  // The one timer fiber: moves due keys from the heap to the queue, sleeps until the next is due.
  const timerLoop = Effect.gen(function* () {
    while (!shuttingDown) {
      timerSignal.reset()
      const at = now()
      for (let head = delayed.peek(); head !== undefined && head.readyAt <= at; head = delayed.peek()) {
        delayed.pop()
        addUnsafe(head.key)
      }
      const next = delayed.peek()
      if (next === undefined) yield* timerSignal.wait
      else yield* Effect.race(Effect.sleep(Duration.millis(next.readyAt - at)), timerSignal.wait)
    }
  })
  yield* Effect.forkScoped(timerLoop)

  if (unfinishedPeriod > 0) {
    const updateUnfinished = () => {
      const at = now()
      let total = 0
      let longest = 0
      for (const startedAt of processing.values()) {
        const age = (at - startedAt) / 1000
        total += age
        if (age > longest) longest = age
      }
      metrics.unfinishedWork.updateUnsafe(total, context)
      metrics.longestRunningProcessor.updateUnsafe(longest, context)
    }
    const unfinishedLoop = Effect.gen(function* () {
      while (!shuttingDown || processing.size > 0) {
        unfinishedSignal.reset()
        updateUnfinished()
        if (processing.size === 0) yield* unfinishedSignal.wait
        else yield* Effect.sleep(Duration.millis(unfinishedPeriod))
      }
      updateUnfinished()
    })
    yield* Effect.forkScoped(unfinishedLoop)
  }

  yield* Effect.addFinalizer(() => Effect.sync(shutdownUnsafe))
  setDepth()
  metrics.adds.updateUnsafe(0, context)
  metrics.retries.updateUnsafe(0, context)

  const queue: Internal = {
    name: options.name,
    add: (key, priority) => Effect.sync(() => addUnsafe(key, priority)),
    addAfter: (key, millis) => Effect.sync(() => addAfterUnsafe(key, millis)),
    addRateLimited: (key) => Effect.sync(() => addRateLimitedUnsafe(key)),
    forget: (key) => Effect.sync(() => forgetUnsafe(key)),
    retries: (key) => Effect.sync(() => failures.get(key) ?? 0),
    get: getInto(undefined),
    done: (key) => Effect.sync(() => doneUnsafe(key)),
    len: Effect.sync(() => queued),
    delayedLen: Effect.sync(() => delayed.size),
    processingLen: Effect.sync(() => processing.size),
    shutdown: Effect.sync(shutdownUnsafe),
    drain: Effect.callback<void>((resume) => {
      if (processing.size === 0) return resume(Effect.void)
      const wake = () => resume(Effect.void)
      drainers.add(wake)
      return Effect.sync(() => {
        drainers.delete(wake)
      })
    }),
    isShuttingDown: Effect.sync(() => shuttingDown),
    addUnsafe,
    getInto,
    doneUnsafe,
    addAfterUnsafe,
    addRateLimitedUnsafe,
    forgetUnsafe
  }
  internals.set(queue, queue)
  return queue
})

// ---------------------------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------------------------

/** What a handler decided about its key (controller-runtime's `reconcile.Result`). */
export type Outcome =
  /** Converged: forget the key's backoff. */
  | { readonly _tag: "Done" }
  /** Run again after the key's exponential backoff (no error). */
  | { readonly _tag: "Requeue" }
  /** Forget the backoff and run again after `millis`. */
  | { readonly _tag: "RequeueAfter"; readonly millis: number }

export const Outcome = {
  done: { _tag: "Done" } as Outcome,
  requeue: { _tag: "Requeue" } as Outcome,
  requeueAfter: (millis: number): Outcome => ({ _tag: "RequeueAfter", millis })
} as const

export interface RunOptions<E, R> {
  /** Number of workers; one key is never processed by two workers at once. */
  readonly concurrency: number
  /** Processes one key. A failure or defect is logged once with the key, counted, and retried with backoff. */
  readonly handler: (key: string) => Effect.Effect<Outcome, E, R>
}

/**
 * Runs `concurrency` workers, each `get → handler → done`, until the queue shuts down and
 * every worker has finished its current key. The outcome decides what happens next:
 * `Done` → forget; `Requeue` → rate-limited add; `RequeueAfter` → forget + add after;
 * failure or defect → rate-limited add. Interrupting `run` interrupts the handlers and still
 * marks their keys done. Records `controller_runtime_*` metrics with `controller` = queue name.
 */
export const run = <E, R>(queue: WorkQueue, options: RunOptions<E, R>): Effect.Effect<void, never, R> =>
  Effect.gen(function* () {
    const q = internals.get(queue)
    if (q === undefined)
      return yield* Effect.die(new Error("WorkQueue.run: not a queue made by WorkQueue.make"))
    const clock = yield* Clock.Clock
    const context = yield* Effect.context<never>()
    const metrics: ControllerMetrics = controllerMetrics(queue.name)
    const concurrency = Math.max(1, Math.floor(options.concurrency))
    yield* initControllerMetrics(metrics, concurrency)

    const settle = (key: string, startedAt: number, exit: Exit.Exit<Outcome, E>): Effect.Effect<void> => {
      metrics.activeWorkers.modifyUnsafe(-1, context)
      metrics.reconcileTime.updateUnsafe((clock.currentTimeMillisUnsafe() - startedAt) / 1000, context)
      q.doneUnsafe(key)
      if (Exit.isSuccess(exit)) {
        const outcome = exit.value
        switch (outcome._tag) {
          case "Done":
            q.forgetUnsafe(key)
            metrics.reconcileTotal.success.updateUnsafe(1, context)
            break
          case "Requeue":
            q.addRateLimitedUnsafe(key)
            metrics.reconcileTotal.requeue.updateUnsafe(1, context)
            break
          case "RequeueAfter":
            q.forgetUnsafe(key)
            q.addAfterUnsafe(key, outcome.millis)
            metrics.reconcileTotal.requeue_after.updateUnsafe(1, context)
            break
        }
        return Effect.void
      }
      const cause = exit.cause
      if (Cause.hasInterruptsOnly(cause)) return Effect.void
      const isDefect = !Cause.hasFails(cause)
      metrics.reconcileTotal.error.updateUnsafe(1, context)
      metrics.reconcileErrors.updateUnsafe(1, context)
      if (isDefect) metrics.reconcilePanics.updateUnsafe(1, context)
      q.addRateLimitedUnsafe(key)
      return Effect.logError(isDefect ? "Reconciler defect" : "Reconciler error", cause).pipe(
        Effect.annotateLogs({ controller: queue.name, key })
      )
    }

    const worker = Effect.suspend(() => {
      const slot: Slot = { key: undefined }
      const step: Effect.Effect<boolean, never, R> = Effect.flatMap(q.getInto(slot), (next) => {
        if (Option.isNone(next)) return Effect.succeed(false)
        const key = next.value
        const startedAt = clock.currentTimeMillisUnsafe()
        metrics.activeWorkers.modifyUnsafe(1, context)
        return options.handler(key).pipe(
          Effect.onExit((exit) => {
            slot.key = undefined
            return settle(key, startedAt, exit)
          }),
          Effect.exit,
          Effect.as(true)
        )
      })
      let more = true
      return Effect.whileLoop({
        while: () => more,
        body: () => step,
        step: (next) => {
          more = next
        }
      }).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            // Interrupted between taking a key and starting its handler.
            if (slot.key !== undefined) q.doneUnsafe(slot.key)
          })
        )
      )
    })

    yield* Effect.forEach(Array.from({ length: concurrency }), () => worker, {
      concurrency,
      discard: true
    })
  })
