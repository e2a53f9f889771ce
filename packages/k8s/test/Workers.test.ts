import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber, Metric } from "effect"
import { TestClock } from "effect/testing"
import { defaultTerminalRetryMillis, Outcome, run } from "../src/internal/workers.ts"
import { fastSlow } from "../src/RateLimiter.ts"
import { make } from "../src/WorkQueue.ts"

const newQueue = (name = "test") => make({ name })

const withRegistry = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Metric.MetricRegistry, new Map())

/** The value of a `controller_runtime_*` counter of controller `controller`. */
const counter = (name: string, description: string, attributes: Record<string, string>) =>
  Metric.value(Metric.counter(name, { description, attributes, incremental: true })).pipe(
    Effect.map((state) => state.count)
  )
const reconcileTotal = (controller: string, result: string) =>
  counter("controller_runtime_reconcile_total", "Total number of reconciliations per controller", {
    controller,
    result
  })
const reconcileErrors = (controller: string) =>
  counter(
    "controller_runtime_reconcile_errors_total",
    "Total number of reconciliation errors per controller",
    {
      controller
    }
  )
const terminalErrors = (controller: string) =>
  counter(
    "controller_runtime_terminal_reconcile_errors_total",
    "Total number of terminal reconciliation errors per controller",
    { controller }
  )

describe("workers", () => {
  it.effect("run: one worker per key even with many workers and re-adds", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      const inFlight = new Map<string, number>()
      const runs = new Map<string, number>()
      let overlap = false
      const handler = (key: string) =>
        Effect.gen(function* () {
          const n = (inFlight.get(key) ?? 0) + 1
          inFlight.set(key, n)
          if (n > 1) overlap = true
          runs.set(key, (runs.get(key) ?? 0) + 1)
          yield* Effect.sleep(10)
          inFlight.set(key, n - 1)
          return Outcome.done
        })
      const fiber = yield* Effect.forkChild(run(queue, { concurrency: 8, handler }))
      yield* queue.add("a")
      yield* queue.add("b")
      yield* Effect.yieldNow
      // While "a" and "b" are in flight, add them again, several times.
      for (let i = 0; i < 5; i++) {
        yield* queue.add("a")
        yield* queue.add("b")
      }
      yield* queue.add("c")
      yield* TestClock.adjust(10)
      yield* TestClock.adjust(10)
      yield* TestClock.adjust(10)
      assert.isFalse(overlap)
      assert.strictEqual(runs.get("a"), 2)
      assert.strictEqual(runs.get("b"), 2)
      assert.strictEqual(runs.get("c"), 1)
      yield* queue.shutdown
      yield* Fiber.join(fiber)
    })
  )

  it.effect("run: outcomes decide forget, backoff and requeue-after; failures never stop the workers", () =>
    withRegistry(
      Effect.gen(function* () {
        const queue = yield* newQueue("outcomes")
        const calls: Array<string> = []
        let failuresLeft = 3
        const handler = (key: string): Effect.Effect<Outcome, string> =>
          Effect.gen(function* () {
            calls.push(key)
            if (key === "fail" && failuresLeft-- > 0) return yield* Effect.fail("boom")
            if (key === "defect" && failuresLeft < 0) {
              failuresLeft = 0
              return yield* Effect.die(new Error("bug"))
            }
            if (key === "later") return Outcome.requeueAfter(1_000)
            return Outcome.done
          })
        const fiber = yield* Effect.forkChild(run(queue, { concurrency: 2, handler }))
        yield* queue.add("fail")
        yield* queue.add("later")
        yield* Effect.yieldNow
        assert.deepStrictEqual(calls, ["fail", "later"])
        assert.strictEqual(yield* queue.retries("fail"), 1)
        yield* TestClock.adjust(5)
        assert.strictEqual(yield* queue.retries("fail"), 2)
        yield* TestClock.adjust(10)
        assert.strictEqual(yield* queue.retries("fail"), 3)
        yield* TestClock.adjust(20)
        // The fourth attempt succeeded: backoff forgotten.
        assert.strictEqual(yield* queue.retries("fail"), 0)
        assert.deepStrictEqual(calls, ["fail", "later", "fail", "fail", "fail"])
        yield* TestClock.adjust(1_000)
        assert.strictEqual(calls.filter((k) => k === "later").length, 2)
        yield* queue.add("defect")
        yield* Effect.yieldNow
        assert.strictEqual(yield* queue.retries("defect"), 1)

        assert.strictEqual(yield* reconcileTotal("outcomes", "error"), 4)
        assert.strictEqual(yield* reconcileTotal("outcomes", "success"), 1)
        assert.strictEqual(yield* reconcileTotal("outcomes", "requeue_after"), 2)
        assert.strictEqual(yield* reconcileErrors("outcomes"), 4)
        assert.strictEqual(yield* terminalErrors("outcomes"), 0)
        yield* queue.shutdown
        yield* Fiber.join(fiber)
      })
    )
  )

  it.effect("run: interrupting the workers interrupts handlers and marks their keys done", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(
        run(queue, {
          concurrency: 1,
          handler: () => Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never))
        })
      )
      yield* queue.add("a")
      yield* Deferred.await(started)
      assert.strictEqual(yield* queue.processingLen, 1)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* queue.processingLen, 0)
      yield* queue.add("a")
      assert.strictEqual(yield* queue.len, 1)
    })
  )

  it.effect("run: after shutdown, workers finish their current key and return", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      const done: Array<string> = []
      const fiber = yield* Effect.forkChild(
        run(queue, {
          concurrency: 2,
          handler: (key) =>
            Effect.sleep(100).pipe(Effect.andThen(Effect.sync(() => done.push(key))), Effect.as(Outcome.done))
        })
      )
      yield* queue.add("a")
      yield* queue.add("b")
      yield* queue.add("c")
      yield* Effect.yieldNow
      yield* queue.shutdown
      yield* TestClock.adjust(100)
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(done.sort(), ["a", "b"])
    })
  )

  it.effect("Terminal: counted as a terminal error and retried no sooner than the floor, never hot", () =>
    withRegistry(
      Effect.gen(function* () {
        const queue = yield* newQueue("terminal")
        let runs = 0
        const fiber = yield* Effect.forkChild(
          run(queue, {
            concurrency: 2,
            handler: () =>
              Effect.sync(() => {
                runs++
                return Outcome.terminal(new Error("Invalid: spec.plan: Unsupported value"))
              })
          })
        )
        yield* queue.add("bad")
        yield* Effect.yieldNow
        assert.strictEqual(runs, 1)
        assert.strictEqual(yield* terminalErrors("terminal"), 1)
        assert.strictEqual(yield* reconcileErrors("terminal"), 1)
        assert.strictEqual(yield* reconcileTotal("terminal", "error"), 1)
        assert.strictEqual(yield* reconcileTotal("terminal", "success"), 0)
        // The limiter alone would retry after 5 ms; the floor holds the key for 60 s.
        assert.strictEqual(yield* queue.retries("bad"), 1)
        assert.strictEqual(yield* queue.delayedLen, 1)
        yield* TestClock.adjust(defaultTerminalRetryMillis - 1)
        assert.strictEqual(runs, 1)
        yield* TestClock.adjust(1)
        assert.strictEqual(runs, 2)
        assert.strictEqual(yield* terminalErrors("terminal"), 2)
        assert.strictEqual(yield* queue.retries("bad"), 2)
        yield* queue.shutdown
        yield* Fiber.join(fiber)
      })
    )
  )

  it.effect("Terminal: the rate limiter's delay wins once it exceeds the floor; success forgets it", () =>
    withRegistry(
      Effect.gen(function* () {
        const queue = yield* make({
          name: "terminal-slow",
          rateLimiter: fastSlow({ fastMillis: 0, slowMillis: 5_000, maxFastAttempts: 1 })
        })
        const times: Array<number> = []
        let fixed = false
        const fiber = yield* Effect.forkChild(
          run(queue, {
            concurrency: 1,
            terminalRetryMillis: 1_000,
            handler: () =>
              Effect.gen(function* () {
                times.push(yield* Clock.currentTimeMillis)
                return fixed ? Outcome.done : Outcome.terminal("Forbidden")
              })
          })
        )
        yield* queue.add("k")
        yield* Effect.yieldNow
        // First terminal error: limiter 0 ms, floor 1 s. Second: limiter 5 s beats the floor.
        yield* TestClock.adjust(1_000)
        yield* TestClock.adjust(4_999)
        assert.deepStrictEqual(times, [0, 1_000])
        fixed = true
        yield* TestClock.adjust(1)
        assert.deepStrictEqual(times, [0, 1_000, 6_000])
        assert.strictEqual(yield* queue.retries("k"), 0)
        assert.strictEqual(yield* terminalErrors("terminal-slow"), 2)
        assert.strictEqual(yield* reconcileTotal("terminal-slow", "success"), 1)
        yield* queue.shutdown
        yield* Fiber.join(fiber)
      })
    )
  )
})
