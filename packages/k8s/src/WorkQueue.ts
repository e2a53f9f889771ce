/**
 * The work queue between watch events and reconciles, after client-go's `workqueue`:
 * - a dirty set dedupes keys: adding a key that is already waiting is a no-op;
 * - a processing set keeps one worker per key: a key added while it is being processed waits
 *   and is queued again, once, when the worker calls `done`;
 * - two priorities: normal adds are handed out before low-priority adds (low = unchanged objects
 *   from a relist/resync); a normal add of a key waiting at low priority promotes it;
 * - delayed adds (`addAfter`) live in one binary heap (`internal/delayHeap.ts`) served by one
 *   timer fiber, so 10,000 delayed keys cost 10,000 heap entries, not 10,000 fibers;
 * - `addRateLimited` waits what the queue's `RateLimiter` says (default: client-go's controller
 *   limiter, per key 5 ms doubling to 1000 s and overall 10 qps after a burst of 100), reset by `forget`;
 * - `shutdown` stops handing out keys; `drain` waits for in-flight keys to be `done`.
 * Workers that drain the queue and act on reconcile results are `internal/workers.ts`'s.
 *
 * Time comes from Effect's `Clock` (tests drive it with `TestClock`). This module must not talk
 * to the API server, know what a key means (keys are opaque strings) or run handlers.
 */
import { Clock, Duration, Effect, Option, type Scope } from "effect"
import { DelayHeap } from "./internal/delayHeap.ts"
import { KeyFifo } from "./internal/keyFifo.ts"
import { registerPort, type Slot } from "./internal/queuePort.ts"
import { type WorkqueueMetrics, workqueueMetrics } from "./Metrics.ts"
import { defaultControllerRateLimiter, type RateLimiter } from "./RateLimiter.ts"

/** `normal` keys are handed out before `low` keys; within a priority, first in first out. */
export type Priority = "normal" | "low"

export interface WorkQueueOptions {
  /** The controller name: the `name`/`controller` label of the `workqueue_*` metrics. */
  readonly name: string
  /** Decides the delays of `addRateLimited`. Default: `RateLimiter.defaultControllerRateLimiter`, one per queue. */
  readonly rateLimiter?: RateLimiter | undefined
  /** How often the unfinished-work gauges are refreshed while keys are in flight; 0 disables. Default 500 ms. */
  readonly unfinishedWorkUpdatePeriodMillis?: number | undefined
}

export interface WorkQueue {
  readonly name: string
  /** Marks `key` as needing processing. No-op after shutdown or while the key is already waiting (except promotion low → normal). */
  readonly add: (key: string, priority?: Priority) => Effect.Effect<void>
  /** Adds `key` after `millis`. A later request for a key already scheduled keeps the earlier time. */
  readonly addAfter: (key: string, millis: number) => Effect.Effect<void>
  /** Adds `key` after the rate limiter's delay for it, which counts a failure of `key`. */
  readonly addRateLimited: (key: string) => Effect.Effect<void>
  /** Resets the rate limiter's per-key state of `key` (call on success). */
  readonly forget: (key: string) => Effect.Effect<void>
  /** How many failures the rate limiter counts for `key` since the last `forget`. */
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
// Internal state
// ---------------------------------------------------------------------------------------------

interface Dirty {
  priority: Priority
  /** The sequence number of the one valid FIFO entry for this key (older entries are stale). */
  seq: number
  /** When the key became dirty (ms), for `workqueue_queue_duration_seconds`. */
  addedAt: number
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

// ---------------------------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------------------------

/** Creates a queue whose timer fibers live in the current scope. */
export const make = Effect.fnUntraced(function* (
  options: WorkQueueOptions
): Effect.fn.Return<WorkQueue, never, Scope.Scope> {
  const clock = yield* Clock.Clock
  const context = yield* Effect.context<never>()
  const metrics: WorkqueueMetrics = workqueueMetrics(options.name)
  const rateLimiter = options.rateLimiter ?? (yield* defaultControllerRateLimiter)
  const unfinishedPeriod = options.unfinishedWorkUpdatePeriodMillis ?? 500

  const dirty = new Map<string, Dirty>()
  const processing = new Map<string, number>()
  const normal = new KeyFifo()
  const low = new KeyFifo()
  const delayed = new DelayHeap()
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
    if (!shuttingDown) addAfterUnsafe(key, rateLimiter.when(key))
  }

  const forgetUnsafe = (key: string): void => rateLimiter.forget(key)

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

  const queue: WorkQueue = {
    name: options.name,
    add: (key, priority) => Effect.sync(() => addUnsafe(key, priority)),
    addAfter: (key, millis) => Effect.sync(() => addAfterUnsafe(key, millis)),
    addRateLimited: (key) => Effect.sync(() => addRateLimitedUnsafe(key)),
    forget: (key) => Effect.sync(() => forgetUnsafe(key)),
    retries: (key) => Effect.sync(() => rateLimiter.retries(key)),
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
    addUnsafe
  }
  registerPort(queue, {
    getInto,
    doneUnsafe,
    addAfterUnsafe,
    addRateLimitedUnsafe,
    forgetUnsafe,
    rateLimiter
  })
  return queue
})
