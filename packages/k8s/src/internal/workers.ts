/**
 * The workers of a controller: N fibers draining a `WorkQueue` (`get → handler → done`), and
 * what a handler's result means for its key (controller-runtime's `reconcile.Result` and
 * `TerminalError`), with the `controller_runtime_*` metrics that count them:
 * - `Done` → forget the key's rate-limiter state;
 * - `Requeue` → rate-limited add;
 * - `RequeueAfter(millis)` → forget, then add after `millis`;
 * - `Terminal(error)` → the handler already reported an error that retrying soon cannot fix
 *   (say, a write the API server refused as Invalid or Forbidden): count it as an error and a
 *   terminal error, and look again only slowly, after max(the rate limiter's delay, a floor);
 * - a failure or defect of the handler → log once with the key, count it, rate-limited add.
 *
 * It owns the reconcile-result handling so that the queue stays a queue. It must not know what
 * a key means or decide what a reconcile does: that is the handler's.
 */
import { Cause, Clock, Effect, Exit, Option } from "effect"
import { type ControllerMetrics, controllerMetrics, initControllerMetrics } from "../Metrics.ts"
import type { WorkQueue } from "../WorkQueue.ts"
import { portOf, type Slot } from "./queuePort.ts"

/** What a handler decided about its key. */
export type Outcome =
  /** Converged: forget the key's rate-limiter state. */
  | { readonly _tag: "Done" }
  /** Run again after the key's rate-limited delay (no error). */
  | { readonly _tag: "Requeue" }
  /** Forget the rate-limiter state and run again after `millis`. */
  | { readonly _tag: "RequeueAfter"; readonly millis: number }
  /** The handler reported `error` (on the object, for people); retry only slowly. */
  | { readonly _tag: "Terminal"; readonly error: unknown }

export const Outcome = {
  done: { _tag: "Done" } as Outcome,
  requeue: { _tag: "Requeue" } as Outcome,
  requeueAfter: (millis: number): Outcome => ({ _tag: "RequeueAfter", millis }),
  terminal: (error: unknown): Outcome => ({ _tag: "Terminal", error })
} as const

/** The least wait before a key whose reconcile ended in a terminal error runs again. */
export const defaultTerminalRetryMillis = 60_000

export interface RunOptions<E, R> {
  /** Number of workers; one key is never processed by two workers at once. */
  readonly concurrency: number
  /** Processes one key. A failure or defect is logged once with the key, counted, and retried rate-limited. */
  readonly handler: (key: string) => Effect.Effect<Outcome, E, R>
  /** Floor of the delay after a `Terminal` outcome. Default {@link defaultTerminalRetryMillis}. */
  readonly terminalRetryMillis?: number | undefined
}

/**
 * Runs `concurrency` workers, each `get → handler → done`, until the queue shuts down and
 * every worker has finished its current key; the outcome decides what happens next (see the
 * module comment). Interrupting `run` interrupts the handlers and still marks their keys done.
 * Records `controller_runtime_*` metrics with `controller` = the queue's name.
 */
export const run = <E, R>(queue: WorkQueue, options: RunOptions<E, R>): Effect.Effect<void, never, R> =>
  Effect.gen(function* () {
    const q = portOf(queue)
    if (q === undefined) return yield* Effect.die(new Error("run: not a queue made by WorkQueue.make"))
    const clock = yield* Clock.Clock
    const context = yield* Effect.context<never>()
    const metrics: ControllerMetrics = controllerMetrics(queue.name)
    const concurrency = Math.max(1, Math.floor(options.concurrency))
    const terminalFloor = options.terminalRetryMillis ?? defaultTerminalRetryMillis
    yield* initControllerMetrics(metrics, concurrency)

    const countError = () => {
      metrics.reconcileTotal.error.updateUnsafe(1, context)
      metrics.reconcileErrors.updateUnsafe(1, context)
    }

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
            return Effect.void
          case "Requeue":
            q.addRateLimitedUnsafe(key)
            metrics.reconcileTotal.requeue.updateUnsafe(1, context)
            return Effect.void
          case "RequeueAfter":
            q.forgetUnsafe(key)
            q.addAfterUnsafe(key, outcome.millis)
            metrics.reconcileTotal.requeue_after.updateUnsafe(1, context)
            return Effect.void
          case "Terminal": {
            countError()
            metrics.terminalReconcileErrors.updateUnsafe(1, context)
            // The limiter still counts the failure (and takes a token), so repeated terminal
            // errors back off past the floor; the floor keeps the first retries from being hot.
            const millis = Math.max(q.rateLimiter.when(key), terminalFloor)
            q.addAfterUnsafe(key, millis)
            return Effect.logError("Reconciler terminal error", outcome.error).pipe(
              Effect.annotateLogs({ controller: queue.name, key, retryAfterMillis: millis })
            )
          }
        }
      }
      const cause = exit.cause
      if (Cause.hasInterruptsOnly(cause)) return Effect.void
      const isDefect = !Cause.hasFails(cause)
      countError()
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
