import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Metric, Option } from "effect"
import { TestClock } from "effect/testing"
import { exponentialBackoffMillis, make, Outcome, run, type WorkQueue } from "../src/WorkQueue.ts"

const newQueue = (name = "test") => make({ name })

/** Takes the next key, failing the test if none is waiting (never blocks). */
const take = (queue: WorkQueue) =>
  Effect.gen(function* () {
    const waiting = yield* queue.len
    assert.isAbove(waiting, 0, "expected a waiting key")
    return Option.getOrThrow(yield* queue.get)
  })

/** Takes every waiting key in order, marking each done. */
const takeAll = (queue: WorkQueue) =>
  Effect.gen(function* () {
    const keys: Array<string> = []
    while ((yield* queue.len) > 0) {
      const key = yield* take(queue)
      keys.push(key)
      yield* queue.done(key)
    }
    return keys
  })

const withRegistry = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Metric.MetricRegistry, new Map())

describe("WorkQueue", () => {
  it.effect("dedupes a key that is already waiting", () =>
    withRegistry(
      Effect.gen(function* () {
        const queue = yield* newQueue("dedupe")
        yield* queue.add("a")
        yield* queue.add("a")
        yield* queue.add("b")
        yield* queue.add("a")
        assert.strictEqual(yield* queue.len, 2)
        assert.deepStrictEqual(yield* takeAll(queue), ["a", "b"])
        const adds = yield* Metric.value(
          Metric.counter("workqueue_adds_total", {
            description: "Total number of adds handled by workqueue",
            attributes: { name: "dedupe", controller: "dedupe" },
            incremental: true
          })
        )
        assert.strictEqual(adds.count, 2)
      })
    )
  )

  it.effect("never hands out a key that is processing; a re-add runs once after done", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      yield* queue.add("a")
      assert.strictEqual(yield* take(queue), "a")
      yield* queue.add("a")
      yield* queue.add("a")
      yield* queue.add("b")
      // "a" is dirty but processing: only "b" may be handed out.
      assert.strictEqual(yield* queue.len, 1)
      assert.strictEqual(yield* take(queue), "b")
      yield* queue.done("b")
      assert.strictEqual(yield* queue.len, 0)
      yield* queue.done("a")
      assert.strictEqual(yield* queue.len, 1)
      assert.strictEqual(yield* take(queue), "a")
      yield* queue.done("a")
      assert.strictEqual(yield* queue.len, 0)
      assert.strictEqual(yield* queue.processingLen, 0)
    })
  )

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

  it("backoff is 5 ms doubling, capped at 1000 s", () => {
    assert.strictEqual(exponentialBackoffMillis(0, 5, 1_000_000), 5)
    assert.strictEqual(exponentialBackoffMillis(1, 5, 1_000_000), 10)
    assert.strictEqual(exponentialBackoffMillis(17, 5, 1_000_000), 655_360)
    assert.strictEqual(exponentialBackoffMillis(18, 5, 1_000_000), 1_000_000)
    assert.strictEqual(exponentialBackoffMillis(5000, 5, 1_000_000), 1_000_000)
  })

  it.effect("addRateLimited waits 5, 10, 20 … ms up to 1000 s; forget resets", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      for (let i = 0; i < 22; i++) {
        const expected = Math.min(5 * 2 ** i, 1_000_000)
        yield* queue.addRateLimited("k")
        assert.strictEqual(yield* queue.retries("k"), i + 1)
        yield* TestClock.adjust(expected - 1)
        assert.strictEqual(yield* queue.len, 0, `retry ${i} came before ${expected} ms`)
        yield* TestClock.adjust(1)
        assert.strictEqual(yield* queue.len, 1, `retry ${i} not there after ${expected} ms`)
        yield* queue.done(yield* take(queue))
      }
      yield* queue.forget("k")
      assert.strictEqual(yield* queue.retries("k"), 0)
      yield* queue.addRateLimited("k")
      yield* TestClock.adjust(4)
      assert.strictEqual(yield* queue.len, 0)
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* queue.len, 1)
    })
  )

  it.effect("addAfter releases keys in time order; the earlier of two times wins", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      yield* queue.addAfter("c", 30)
      yield* queue.addAfter("a", 10)
      yield* queue.addAfter("b", 20)
      yield* queue.addAfter("d", 100)
      yield* queue.addAfter("d", 25)
      yield* queue.addAfter("a", 50)
      assert.strictEqual(yield* queue.delayedLen, 4)
      yield* TestClock.adjust(9)
      assert.strictEqual(yield* queue.len, 0)
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(yield* takeAll(queue), ["a"])
      yield* TestClock.adjust(20)
      assert.deepStrictEqual(yield* takeAll(queue), ["b", "d", "c"])
      yield* TestClock.adjust(100)
      assert.strictEqual(yield* queue.len, 0)
      assert.strictEqual(yield* queue.delayedLen, 0)
    })
  )

  it.effect("addAfter of a waiting key is dropped; taking a key cancels its pending delayed add", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      yield* queue.add("a")
      yield* queue.addAfter("a", 10)
      assert.strictEqual(yield* queue.delayedLen, 0)
      yield* queue.addAfter("b", 10)
      yield* queue.add("b")
      assert.deepStrictEqual(yield* takeAll(queue), ["a", "b"])
      assert.strictEqual(yield* queue.delayedLen, 0)
      yield* TestClock.adjust(10)
      assert.strictEqual(yield* queue.len, 0)
    })
  )

  it.effect("10,000 delayed keys come out in deadline order", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      const n = 10_000
      // A deterministic permutation of deadlines 1..n ms.
      for (let i = 0; i < n; i++) {
        const deadline = ((i * 7919) % n) + 1
        yield* queue.addAfter(`k${deadline}`, deadline)
      }
      assert.strictEqual(yield* queue.delayedLen, n)
      yield* TestClock.adjust(n)
      const keys = yield* takeAll(queue)
      assert.strictEqual(keys.length, n)
      assert.deepStrictEqual(
        keys,
        Array.from({ length: n }, (_, i) => `k${i + 1}`)
      )
    })
  )

  it.effect("normal adds go before low-priority adds; a normal add promotes a low key", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      yield* queue.add("l1", "low")
      yield* queue.add("l2", "low")
      yield* queue.add("l3", "low")
      yield* queue.add("n1")
      yield* queue.add("l2")
      yield* queue.add("l3", "low")
      yield* queue.add("n2", "normal")
      assert.strictEqual(yield* queue.len, 5)
      assert.deepStrictEqual(yield* takeAll(queue), ["n1", "l2", "n2", "l1", "l3"])
    })
  )

  it.effect("a low add while processing, promoted to normal, re-runs at normal priority", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      yield* queue.add("a")
      const a = yield* take(queue)
      yield* queue.add("a", "low")
      yield* queue.add("z", "low")
      yield* queue.add("a")
      yield* queue.done(a)
      assert.deepStrictEqual(yield* takeAll(queue), ["a", "z"])
    })
  )

  it.effect("shutdown: no key is handed out or accepted, in-flight keys finish, drain waits for them", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      yield* queue.add("a")
      yield* queue.add("b")
      yield* queue.addAfter("c", 10)
      const a = yield* take(queue)
      const blockedGet = yield* Effect.forkChild(queue.get)
      yield* queue.shutdown
      assert.isTrue(Option.isNone(yield* queue.get))
      assert.isTrue(Option.isNone(yield* Fiber.join(blockedGet)))
      yield* queue.add("d")
      yield* TestClock.adjust(10)
      assert.strictEqual(yield* queue.len, 0)
      const drained = yield* Effect.forkChild(queue.drain)
      yield* Effect.yieldNow
      assert.isUndefined(drained.pollUnsafe())
      yield* queue.done(a)
      yield* Fiber.join(drained)
      assert.strictEqual(yield* queue.processingLen, 0)
    })
  )

  it.effect("a blocked get is woken by an add", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      const getter = yield* Effect.forkChild(queue.get)
      yield* Effect.yieldNow
      yield* queue.add("x")
      assert.deepStrictEqual(yield* Fiber.join(getter), Option.some("x"))
    })
  )

  it.effect("an interrupted getter does not strand a key", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      const first = yield* Effect.forkChild(queue.get)
      const second = yield* Effect.forkChild(queue.get)
      yield* Effect.yieldNow
      yield* Fiber.interrupt(first)
      yield* queue.add("x")
      assert.deepStrictEqual(yield* Fiber.join(second), Option.some("x"))
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

        const total = (result: string) =>
          Metric.value(
            Metric.counter("controller_runtime_reconcile_total", {
              description: "Total number of reconciliations per controller",
              attributes: { controller: "outcomes", result },
              incremental: true
            })
          ).pipe(Effect.map((s) => s.count))
        assert.strictEqual(yield* total("error"), 4)
        assert.strictEqual(yield* total("success"), 1)
        assert.strictEqual(yield* total("requeue_after"), 2)
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
})
