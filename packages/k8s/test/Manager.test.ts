import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Metric } from "effect"
import { HealthChecks } from "../src/HealthServer.ts"
import { Outcome } from "../src/internal/workers.ts"
import { gracefulTeardown, Leadership, queueRunnable, type Runnable, run } from "../src/Manager.ts"
import { make as makeQueue } from "../src/WorkQueue.ts"

const noServers = { healthProbeBindAddress: "0", metricsBindAddress: "0" }

const withChecks = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(HealthChecks.layer), Effect.provideService(Metric.MetricRegistry, new Map()))

describe("Manager", () => {
  it.live("on stop, signals runnables, lets in-flight work finish, and reports not ready meanwhile", () =>
    withChecks(
      Effect.gen(function* () {
        const checks = yield* HealthChecks
        const started = yield* Deferred.make<void>()
        const log: Array<string> = []
        const worker: Runnable = {
          name: "worker",
          run: (shutdown) =>
            Effect.gen(function* () {
              yield* Deferred.succeed(started, undefined)
              yield* shutdown.await
              const ready = yield* checks.readyz
              log.push(ready.ok ? "ready while stopping" : "not ready while stopping")
              // In-flight work that outlives the signal but not the grace period.
              yield* Effect.sleep(50)
              log.push("finished in-flight work")
            })
        }
        const cache: Runnable = {
          name: "cache",
          needLeaderElection: false,
          run: (shutdown) => shutdown.await.pipe(Effect.andThen(Effect.sync(() => log.push("cache stopped"))))
        }
        const manager = yield* Effect.forkChild(
          run({ ...noServers, gracefulShutdownTimeoutMillis: 10_000 }, [worker, cache])
        )
        yield* Deferred.await(started)
        assert.isTrue((yield* checks.readyz).ok)
        const exit = yield* Fiber.interrupt(manager).pipe(Effect.andThen(Fiber.await(manager)))
        assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
        assert.sameMembers(log, ["not ready while stopping", "finished in-flight work", "cache stopped"])
      })
    )
  )

  it.live("interrupts work that outlasts the grace period", () =>
    withChecks(
      Effect.gen(function* () {
        const started = yield* Deferred.make<void>()
        let interrupted = false
        const stubborn: Runnable = {
          name: "stubborn",
          run: () =>
            Deferred.succeed(started, undefined).pipe(
              Effect.andThen(Effect.never),
              Effect.onInterrupt(() =>
                Effect.sync(() => {
                  interrupted = true
                })
              )
            )
        }
        const manager = yield* Effect.forkChild(
          run({ ...noServers, gracefulShutdownTimeoutMillis: 100 }, [stubborn])
        )
        yield* Deferred.await(started)
        yield* Fiber.interrupt(manager)
        assert.isTrue(interrupted)
      })
    )
  )

  it.live("a failing runnable stops the others gracefully and fails the manager", () =>
    withChecks(
      Effect.gen(function* () {
        let otherStopped = false
        const failing: Runnable<string> = { name: "failing", run: () => Effect.fail("broken") }
        const other: Runnable<string> = {
          name: "other",
          needLeaderElection: false,
          run: (shutdown) =>
            shutdown.await.pipe(
              Effect.andThen(
                Effect.sync(() => {
                  otherStopped = true
                })
              )
            )
        }
        const exit = yield* Effect.exit(run(noServers, [failing, other]))
        assert.deepStrictEqual(exit, Exit.fail("broken"))
        assert.isTrue(otherStopped)
      })
    )
  )

  it.live("a queue runnable stops taking keys at shutdown and finishes the ones in flight", () =>
    withChecks(
      Effect.scoped(
        Effect.gen(function* () {
          const queue = yield* makeQueue({ name: "manager-test" })
          const inFlight = yield* Deferred.make<void>()
          const finished: Array<string> = []
          const controller = queueRunnable("manager-test", queue, {
            concurrency: 1,
            handler: (key) =>
              Deferred.succeed(inFlight, undefined).pipe(
                Effect.andThen(Effect.sleep(50)),
                Effect.andThen(Effect.sync(() => finished.push(key))),
                Effect.as(Outcome.done)
              )
          })
          const manager = yield* Effect.forkChild(run(noServers, [controller]))
          yield* queue.add("a")
          yield* queue.add("b")
          yield* Deferred.await(inFlight)
          yield* Fiber.interrupt(manager)
          assert.deepStrictEqual(finished, ["a"])
          assert.strictEqual(yield* queue.processingLen, 0)
        })
      )
    )
  )

  it.live("leader-only runnables wait for Leadership; a process still campaigning stops at once", () =>
    withChecks(
      Effect.gen(function* () {
        const elected = yield* Deferred.make<void>()
        const leadership = Layer.succeed(Leadership, {
          run: (whileLeader) => Deferred.await(elected).pipe(Effect.andThen(whileLeader)),
          isLeader: Deferred.isDone(elected)
        })
        const cacheStarted = yield* Deferred.make<void>()
        const log: Array<string> = []
        const controller: Runnable = {
          name: "controller",
          run: (shutdown) =>
            Effect.sync(() => log.push("controller started")).pipe(Effect.andThen(shutdown.await))
        }
        const cache: Runnable = {
          name: "cache",
          needLeaderElection: false,
          run: (shutdown) => Deferred.succeed(cacheStarted, undefined).pipe(Effect.andThen(shutdown.await))
        }
        const manager = yield* Effect.forkChild(
          run({ ...noServers, gracefulShutdownTimeoutMillis: 60_000 }, [controller, cache]).pipe(
            Effect.provide(leadership)
          )
        )
        yield* Deferred.await(cacheStarted)
        yield* Effect.sleep(100)
        assert.deepStrictEqual(log, [])
        // Nothing to drain while campaigning: the stop does not wait out the 60 s grace period.
        yield* Fiber.interrupt(manager).pipe(
          Effect.timeoutOrElse({
            duration: "5 seconds",
            orElse: () => Effect.die("waited for the grace period")
          })
        )
        assert.deepStrictEqual(log, [])
      })
    )
  )

  it("a stop by signal exits 0, a failure exits 1", () => {
    const codes: Array<number> = []
    gracefulTeardown(Exit.void, (code) => codes.push(code))
    gracefulTeardown(Exit.interrupt(1), (code) => codes.push(code))
    gracefulTeardown(Exit.fail("x"), (code) => codes.push(code))
    gracefulTeardown(Exit.die(new Error("x")), (code) => codes.push(code))
    assert.deepStrictEqual(codes, [0, 0, 1, 1])
  })

  it("a real process serves /metrics, then stops on SIGTERM after draining, with exit code 0", async () => {
    const script = fileURLToPath(new URL("./fixtures/manager-main.ts", import.meta.url))
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString()
        if (stdout.includes("started")) resolve()
      })
      child.on("exit", () => reject(new Error(`exited before starting: ${stdout}${stderr}`)))
    })
    const metricsUrl = /Serving metrics on (\S+)/.exec(stdout)?.[1]
    assert.isDefined(metricsUrl, stdout)
    // The fixture added its queue's one key before the Manager started.
    const response = await fetch(metricsUrl ?? "")
    const scraped = { type: response.headers.get("content-type"), body: await response.text() }
    assert.strictEqual(scraped.type, "text/plain; version=0.0.4; charset=utf-8")
    assert.include(
      scraped.body,
      '# TYPE workqueue_adds_total counter\nworkqueue_adds_total{name="manager-main",controller="manager-main"} 1\n'
    )
    child.kill("SIGTERM")
    const code = await exited
    assert.strictEqual(code, 0, stderr)
    assert.match(stdout, /started\n(.|\n)*draining\n(.|\n)*drained\n/)
  }, 30_000)
})
