import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Metric, Option } from "effect"
import { TestClock } from "effect/testing"
import { fastSlow } from "../src/RateLimiter.ts"
import { make, type WorkQueue } from "../src/WorkQueue.ts"

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

  it.effect("the default limiter lets a burst of 100 rate-limited keys through, then 10 per second", () =>
    Effect.gen(function* () {
      const queue = yield* newQueue()
      for (let i = 0; i < 150; i++) yield* queue.addRateLimited(`k${i}`)
      assert.strictEqual(yield* queue.delayedLen, 150)
      // The first 100 wait only their own 5 ms; every later one waits for the next token.
      yield* TestClock.adjust(5)
      assert.strictEqual(yield* queue.len, 100)
      yield* TestClock.adjust(94)
      assert.strictEqual(yield* queue.len, 100)
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* queue.len, 101)
      yield* TestClock.adjust(900)
      assert.strictEqual(yield* queue.len, 110)
      yield* TestClock.adjust(3_999)
      assert.strictEqual(yield* queue.len, 149)
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* queue.len, 150)
      assert.strictEqual(yield* queue.delayedLen, 0)
    })
  )

  it.effect("addRateLimited, forget and retries go through the queue's own rate limiter", () =>
    Effect.gen(function* () {
      const queue = yield* make({
        name: "custom",
        rateLimiter: fastSlow({ fastMillis: 10, slowMillis: 1_000, maxFastAttempts: 1 })
      })
      yield* queue.addRateLimited("k")
      yield* TestClock.adjust(10)
      yield* queue.done(yield* take(queue))
      yield* queue.addRateLimited("k")
      assert.strictEqual(yield* queue.retries("k"), 2)
      yield* TestClock.adjust(999)
      assert.strictEqual(yield* queue.len, 0)
      yield* TestClock.adjust(1)
      yield* queue.done(yield* take(queue))
      yield* queue.forget("k")
      assert.strictEqual(yield* queue.retries("k"), 0)
      yield* queue.addRateLimited("k")
      yield* TestClock.adjust(10)
      assert.strictEqual(yield* queue.len, 1)
    })
  )
})
