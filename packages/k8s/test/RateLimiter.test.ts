import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import {
  bucket,
  defaultControllerRateLimiter,
  exponential,
  fastSlow,
  maxOf,
  type RateLimiter
} from "../src/RateLimiter.ts"

/** `n` successive delays for `key` (or for `key-0`, `key-1`, … when `distinct`). */
const delays = (limiter: RateLimiter, n: number, key: string, distinct = false) =>
  Array.from({ length: n }, (_, i) => limiter.when(distinct ? `${key}-${i}` : key))

describe("RateLimiter", () => {
  it("exponential: 5 ms doubling per failure of a key, capped at 1000 s; forget starts over", () => {
    const limiter = exponential()
    const got = delays(limiter, 22, "k")
    assert.deepStrictEqual(
      got,
      Array.from({ length: 22 }, (_, i) => Math.min(5 * 2 ** i, 1_000_000))
    )
    assert.strictEqual(got[17], 655_360)
    assert.strictEqual(got[18], 1_000_000)
    assert.strictEqual(limiter.retries("k"), 22)
    // Other keys have their own count; far past the cap the delay stays capped.
    assert.strictEqual(limiter.when("other"), 5)
    for (let i = 0; i < 5000; i++) limiter.when("k")
    assert.strictEqual(limiter.when("k"), 1_000_000)
    limiter.forget("k")
    assert.strictEqual(limiter.retries("k"), 0)
    assert.strictEqual(limiter.when("k"), 5)
    assert.strictEqual(limiter.retries("other"), 1)
  })

  it("fastSlow: the first attempts wait the fast delay, later ones the slow delay", () => {
    const limiter = fastSlow({ fastMillis: 10, slowMillis: 5_000, maxFastAttempts: 2 })
    assert.deepStrictEqual(delays(limiter, 4, "k"), [10, 10, 5_000, 5_000])
    assert.strictEqual(limiter.retries("k"), 4)
    limiter.forget("k")
    assert.strictEqual(limiter.when("k"), 10)
  })

  it.effect("bucket: 100 go at once, then one every 100 ms; time refills it up to the burst only", () =>
    Effect.gen(function* () {
      const limiter = yield* bucket({ qps: 10, burst: 100 })
      assert.deepStrictEqual(delays(limiter, 100, "k", true), Array(100).fill(0))
      // The bucket is empty: each further try reserves the next token, 100 ms after the previous one.
      assert.deepStrictEqual(
        delays(limiter, 10, "late", true),
        [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
      )
      assert.strictEqual(limiter.retries("late-0"), 0)
      // 2 s later 20 tokens have come back, 10 of them already promised: 10 free, then spacing again.
      yield* TestClock.adjust(2_000)
      assert.deepStrictEqual(delays(limiter, 11, "again", true), [...Array(10).fill(0), 100])
      // A long quiet period refills to the burst, never beyond it.
      yield* TestClock.adjust(3_600_000)
      const afterQuiet = delays(limiter, 101, "quiet", true)
      assert.deepStrictEqual(afterQuiet.slice(0, 100), Array(100).fill(0))
      assert.strictEqual(afterQuiet[100], 100)
    })
  )

  it.effect("maxOf: every limiter counts the failure and the longest delay wins", () =>
    Effect.gen(function* () {
      const limiter = maxOf(exponential(), yield* bucket({ qps: 1, burst: 1 }))
      // Exponential 5 ms vs a free token; then 10 ms vs 1 s; then 20 ms vs 2 s.
      assert.deepStrictEqual(delays(limiter, 3, "k"), [5, 1_000, 2_000])
      assert.strictEqual(limiter.retries("k"), 3)
      yield* TestClock.adjust(10_000)
      // The bucket is full again: the per-key delay (40 ms) is the larger one now.
      assert.strictEqual(limiter.when("k"), 40)
    })
  )

  it.effect("default controller limiter: forget resets the key's backoff but refunds no bucket token", () =>
    Effect.gen(function* () {
      const limiter = yield* defaultControllerRateLimiter
      assert.deepStrictEqual(delays(limiter, 3, "k"), [5, 10, 20])
      assert.deepStrictEqual(delays(limiter, 97, "burst", true), Array(97).fill(5))
      limiter.forget("k")
      for (let i = 0; i < 97; i++) limiter.forget(`burst-${i}`)
      assert.strictEqual(limiter.retries("k"), 0)
      // 100 tokens are spent and stay spent: the forgotten key waits for the bucket, not 5 ms.
      assert.strictEqual(limiter.when("k"), 100)
      assert.strictEqual(limiter.retries("k"), 1)
      assert.strictEqual(limiter.when("fresh"), 200)
    })
  )
})
