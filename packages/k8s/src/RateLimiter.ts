/**
 * How long a key waits before it is retried, after client-go's `workqueue` rate limiters
 * (`default_rate_limiters.go`), written for this project:
 * - `exponential`: per key, `base · 2^failures` capped at `max` (client-go: 5 ms … 1000 s);
 * - `bucket`: one token bucket for every key (`qps` refill, `burst` capacity): the delay is when
 *   the bucket next has a token, and a token once reserved is never refunded (golang.org/x/time/rate's
 *   `Reserve().Delay()`);
 * - `fastSlow`: per key, `fast` for the first attempts, then `slow`;
 * - `maxOf`: asks every limiter (each counts the failure) and takes the longest delay;
 * - `defaultControllerRateLimiter`: `maxOf(exponential 5 ms … 1000 s, bucket 10 qps / burst 100)`,
 *   client-go's `DefaultTypedControllerRateLimiter`.
 *
 * The interface is synchronous because the queue consults it on every rate-limited add; limiters
 * that need time read it from Effect's `Clock` (captured when built, so `TestClock` drives them).
 * This module must not schedule anything: the queue turns a delay into a delayed add.
 */
import { Clock, Effect } from "effect"

export interface RateLimiter {
  /** How long `key` should wait before its next try, in ms; counts a failure of `key`. */
  readonly when: (key: string) => number
  /** Stops tracking `key` (it succeeded, or is given up): its per-key delay starts over. */
  readonly forget: (key: string) => void
  /** Failures counted for `key` since the last `forget`. */
  readonly retries: (key: string) => number
}

/** Per-key failure counts, shared by the per-key limiters. */
const failureCounts = (delayFor: (failuresBefore: number) => number): RateLimiter => {
  const failures = new Map<string, number>()
  return {
    when: (key) => {
      const before = failures.get(key) ?? 0
      failures.set(key, before + 1)
      return delayFor(before)
    },
    forget: (key) => {
      failures.delete(key)
    },
    retries: (key) => failures.get(key) ?? 0
  }
}

export interface ExponentialOptions {
  /** Delay after the first failure. Default 5 ms (client-go). */
  readonly baseMillis?: number | undefined
  /** Cap of the delay. Default 1000 s (client-go). */
  readonly maxMillis?: number | undefined
}

/** client-go's `ItemExponentialFailureRateLimiter`: the `n`-th failure of a key waits `base · 2^(n-1)`, at most `max`. */
export const exponential = (options: ExponentialOptions = {}): RateLimiter => {
  const base = options.baseMillis ?? 5
  const max = options.maxMillis ?? 1_000_000
  return failureCounts((before) => {
    const delay = base * 2 ** before
    return Number.isFinite(delay) && delay < max ? delay : max
  })
}

export interface FastSlowOptions {
  readonly fastMillis: number
  readonly slowMillis: number
  /** How many failures of a key wait `fastMillis`; later ones wait `slowMillis`. */
  readonly maxFastAttempts: number
}

/** client-go's `ItemFastSlowRateLimiter`. */
export const fastSlow = (options: FastSlowOptions): RateLimiter =>
  failureCounts((before) => (before < options.maxFastAttempts ? options.fastMillis : options.slowMillis))

export interface BucketOptions {
  /** Tokens added per second. */
  readonly qps: number
  /** Capacity: how many tries may go at once after a quiet period. At least 1. */
  readonly burst: number
}

/**
 * client-go's `BucketRateLimiter`: one token bucket for all keys, full at start. Each `when`
 * reserves a token; when none is left the reservation is in the future, so successive delays
 * grow by `1000 / qps` ms. Knows no keys: `forget` refunds nothing and `retries` is 0.
 */
export const bucket = (options: BucketOptions): Effect.Effect<RateLimiter> =>
  Effect.map(Clock.Clock, (clock) => {
    const qps = options.qps
    const burst = Math.max(1, options.burst)
    let tokens = burst
    let last = clock.currentTimeMillisUnsafe()
    return {
      when: () => {
        if (qps === Number.POSITIVE_INFINITY) return 0
        const now = clock.currentTimeMillisUnsafe()
        // Refill for the time since the last reservation (a clock that went back refills nothing).
        if (now > last) {
          tokens = Math.min(burst, tokens + ((now - last) * qps) / 1000)
          last = now
        }
        tokens -= 1
        return tokens < 0 ? (-tokens * 1000) / qps : 0
      },
      forget: () => {},
      retries: () => 0
    }
  })

/** client-go's `MaxOfRateLimiter`: every limiter counts the failure; the longest delay wins. */
export const maxOf = (...limiters: ReadonlyArray<RateLimiter>): RateLimiter => ({
  when: (key) => {
    let delay = 0
    for (const limiter of limiters) {
      const next = limiter.when(key)
      if (next > delay) delay = next
    }
    return delay
  },
  forget: (key) => {
    for (const limiter of limiters) limiter.forget(key)
  },
  retries: (key) => {
    let retries = 0
    for (const limiter of limiters) retries = Math.max(retries, limiter.retries(key))
    return retries
  }
})

/**
 * client-go's `DefaultTypedControllerRateLimiter`: per key 5 ms doubling to 1000 s, and overall
 * at most 10 retries per second after a burst of 100.
 */
export const defaultControllerRateLimiter: Effect.Effect<RateLimiter> = Effect.map(
  bucket({ qps: 10, burst: 100 }),
  (overall) => maxOf(exponential({ baseMillis: 5, maxMillis: 1_000_000 }), overall)
)
