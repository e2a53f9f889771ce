/**
 * WorkQueue throughput: 10,000 keys, each added 3 times (duplicates arrive while the key is
 * waiting and while it is processing), drained by 1, 4 and 16 workers through `run` with a
 * handler that yields once (adds, reconciles and queue operations per second); then 10,000 keys
 * scheduled with `addAfter` over 1–100 ms (time until all are delivered); then the cost of 10,000
 * `addRateLimited` calls through the default rate limiter (per-key exponential and the shared
 * token bucket, whose 10 qps spreads them over ~1000 s: only the scheduling is timed). Medians of 5 runs.
 * Run: `node bench/queue.bench.ts` (from packages/k8s). Absolute figures depend on the machine.
 */
import { cpus } from "node:os"
import { Effect, Fiber, Metric } from "effect"
import { Outcome, run } from "../src/internal/workers.ts"
import { make } from "../src/WorkQueue.ts"

const keys = 10_000
const duplicates = 3
const lag = 16
const runs = 5
const yieldEvery = 64

interface Row {
  readonly workers: number
  readonly adds: number
  readonly reconciles: number
  readonly millis: number
}

const measure = (workers: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const queue = yield* make({ name: `bench-${workers}` })
      let reconciles = 0
      // Yields once, like a reconcile that awaits something, so other keys are in flight meanwhile.
      const handler = () =>
        Effect.yieldNow.pipe(
          Effect.map(() => {
            reconciles++
            return Outcome.done
          })
        )
      const started = performance.now()
      const fiber = yield* Effect.forkChild(run(queue, { concurrency: workers, handler }))
      let adds = 0
      const key = (i: number) => `ns-${i % 100}/tenant-${i}`
      for (let i = 0; i < keys + 2 * lag; i++) {
        // Each key is added three times: now, `lag` adds later and `2·lag` adds later. By then it
        // is waiting (deduped), in flight (re-queued once on done) or finished (queued again).
        for (const j of [i, i - lag, i - 2 * lag]) {
          if (j >= 0 && j < keys) {
            yield* queue.add(key(j))
            adds++
          }
        }
        if (i % yieldEvery === 0) yield* Effect.yieldNow
      }
      while ((yield* queue.len) > 0 || (yield* queue.processingLen) > 0) yield* Effect.yieldNow
      const millis = performance.now() - started
      yield* queue.shutdown
      yield* Fiber.join(fiber)
      return { workers, adds, reconciles, millis } satisfies Row
    })
  ).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))

/** 10,000 keys scheduled with `addAfter` over 1..100 ms: one heap and one timer fiber serve them all. */
const measureDelayed = (n: number, spreadMillis: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const queue = yield* make({ name: "bench-delayed" })
      let delivered = 0
      const fiber = yield* Effect.forkChild(
        run(queue, {
          concurrency: 4,
          handler: () =>
            Effect.sync(() => {
              delivered++
              return Outcome.done
            })
        })
      )
      const started = performance.now()
      for (let i = 0; i < n; i++) yield* queue.addAfter(`delayed-${i}`, (i % spreadMillis) + 1)
      const scheduledMillis = performance.now() - started
      while (delivered < n) yield* Effect.sleep(1)
      const millis = performance.now() - started
      yield* queue.shutdown
      yield* Fiber.join(fiber)
      return { n, spreadMillis, scheduledMillis, millis }
    })
  ).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))

/** `n` distinct keys through `addRateLimited` (default limiter), then `forget`: the limiter's cost per failure. */
const measureRateLimited = (n: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const queue = yield* make({ name: "bench-rate-limited" })
      const started = performance.now()
      for (let i = 0; i < n; i++) yield* queue.addRateLimited(`failing-${i}`)
      for (let i = 0; i < n; i++) yield* queue.forget(`failing-${i}`)
      return performance.now() - started
    })
  ).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))

const median = (samples: Array<number>): number =>
  samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? 0

const main = Effect.gen(function* () {
  // Warm up the JIT once, then take the median of `runs` runs per row (these machines are shared).
  yield* measure(4)
  const rows: Array<Row> = []
  for (const workers of [1, 4, 16]) {
    const samples: Array<Row> = []
    for (let i = 0; i < runs; i++) samples.push(yield* measure(workers))
    samples.sort((a, b) => a.millis - b.millis)
    rows.push(samples[Math.floor(runs / 2)] as Row)
  }
  const cpu = cpus()[0]?.model ?? "unknown cpu"
  console.log(
    `WorkQueue throughput — ${keys} keys × ${duplicates} adds, handler that yields once, node ${process.version}, ${cpu}`
  )
  console.log("")
  console.log("| workers | adds | reconciles | ms | adds/s | reconciles/s | ops/s (add+get+done) |")
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
  for (const row of rows) {
    const seconds = row.millis / 1000
    const ops = row.adds + 2 * row.reconciles
    console.log(
      `| ${row.workers} | ${row.adds} | ${row.reconciles} | ${row.millis.toFixed(0)} | ` +
        `${Math.round(row.adds / seconds).toLocaleString("en")} | ` +
        `${Math.round(row.reconciles / seconds).toLocaleString("en")} | ` +
        `${Math.round(ops / seconds).toLocaleString("en")} |`
    )
  }
  yield* measureDelayed(10_000, 100)
  const delayedSamples = []
  for (let i = 0; i < runs; i++) delayedSamples.push(yield* measureDelayed(10_000, 100))
  delayedSamples.sort((a, b) => a.millis - b.millis)
  const delayed = delayedSamples[Math.floor(runs / 2)] ?? delayedSamples[0]
  if (delayed === undefined) return
  console.log("")
  console.log("| delayed keys | deadlines | addAfter ×n ms | all delivered after ms (ideal ≈ 100) |")
  console.log("| ---: | ---: | ---: | ---: |")
  console.log(
    `| ${delayed.n} | 1–${delayed.spreadMillis} ms | ${delayed.scheduledMillis.toFixed(1)} | ${delayed.millis.toFixed(0)} |`
  )
  yield* measureRateLimited(10_000)
  const rateLimited: Array<number> = []
  for (let i = 0; i < runs; i++) rateLimited.push(yield* measureRateLimited(10_000))
  console.log("")
  console.log("| rate-limited keys | addRateLimited + forget ×n ms |")
  console.log("| ---: | ---: |")
  console.log(`| 10000 | ${median(rateLimited).toFixed(1)} |`)
})

Effect.runPromise(main)
