/**
 * The process supervisor, after controller-runtime's Manager: starts the health/metrics
 * server, the runnables that must always run (caches, informers), and — only while this
 * process holds the leader Lease, when leader election is on — the controllers. On
 * interruption (SIGTERM/SIGINT through `runMain`) it stops gracefully: it signals every
 * runnable to stop taking new work, waits for in-flight work up to a grace period, interrupts
 * what is left, releases the Lease, closes the servers, and the process exits 0.
 *
 * A runnable is an Effect given a `Shutdown` signal: it runs until the signal, then drains and
 * returns (a controller: `queueRunnable`). The Manager must not know what a runnable does; a
 * runnable that fails stops the whole process (non-zero exit), as controller-runtime does.
 *
 * Its dependencies come from the context: `HealthChecks` (a Layer the caller shares with the
 * parts that register checks) and `Leadership`, which runs leader-only runnables at once unless
 * `layerLeaderElection(config)` is provided; that Layer is the only part that needs a `LeaseClient`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Option } from "effect"
import type { HttpServerError } from "effect/http"
import { type Collector, HealthChecks, HealthServer, type InvalidBindAddress } from "./HealthServer.ts"
import { type RunOptions, run as runQueue } from "./internal/workers.ts"
import {
  type InvalidLeaderElectionConfig,
  type LeaderElectionConfig,
  type LeaseClient,
  make as makeLeaderElector
} from "./LeaderElection.ts"
import type { WorkQueue } from "./WorkQueue.ts"

/** Told to a runnable when the process is stopping. */
export interface Shutdown {
  /** Completes when the manager starts to stop. */
  readonly await: Effect.Effect<void>
  readonly isShuttingDown: Effect.Effect<boolean>
}

export interface Runnable<E = never, R = never> {
  /** For logs. */
  readonly name: string
  /** Runs until `shutdown`, then stops taking new work, finishes in-flight work and returns. */
  readonly run: (shutdown: Shutdown) => Effect.Effect<void, E, R>
  /** Default true: runs only while this process leads. False: always (caches, informers, webhooks). */
  readonly needLeaderElection?: boolean | undefined
}

export interface ManagerOptions {
  /** Serves `/healthz`, `/readyz`. Default `:8081`; `0` disables. */
  readonly healthProbeBindAddress?: string | undefined
  /** Serves `/metrics`. Default `:8080`; `0` disables. */
  readonly metricsBindAddress?: string | undefined
  /** Series `/metrics` computes at each scrape (see `HealthServer.Collector`). */
  readonly collectors?: ReadonlyArray<Collector> | undefined
  /** How long in-flight work may take to finish after the stop signal. Default 30 s (controller-runtime). */
  readonly gracefulShutdownTimeoutMillis?: number | undefined
}

/** How leader-only runnables are started: at once by default, or under `layerLeaderElection`. */
export interface Leadership {
  /** Runs `whileLeader` only while this process leads; returns when it ends by itself. */
  readonly run: <A, E, R>(whileLeader: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Whether this process leads now: at shutdown, a process still campaigning has nothing to drain. */
  readonly isLeader: Effect.Effect<boolean>
}

/** Without leader election (the default), every process leads. */
export const Leadership = Context.Reference<Leadership>("@kleff/k8s/Manager/Leadership", {
  defaultValue: () => ({ run: (whileLeader) => whileLeader, isLeader: Effect.succeed(true) })
})

/**
 * Leader election for the Manager: leader-only runnables run only while this process holds the
 * Lease of `config` (see `LeaderElection`), and `/healthz` fails if its renew loop wedges.
 */
export const layerLeaderElection = (
  config: LeaderElectionConfig
): Layer.Layer<never, InvalidLeaderElectionConfig, LeaseClient | HealthChecks> =>
  Layer.effect(
    Leadership,
    Effect.gen(function* () {
      const elector = yield* makeLeaderElector(config)
      const checks = yield* HealthChecks
      yield* checks.addHealthzCheck("leaderElection", elector.healthCheck(20_000))
      return { run: elector.run, isLeader: elector.isLeader }
    })
  )

/** A controller as a runnable: its queue stops handing out keys at shutdown; `run` returns once in-flight keys are done. */
export const queueRunnable = <E, R>(
  name: string,
  queue: WorkQueue,
  options: RunOptions<E, R>,
  extra?: { readonly needLeaderElection?: boolean | undefined }
): Runnable<never, R> => ({
  name,
  needLeaderElection: extra?.needLeaderElection,
  run: (shutdown) =>
    Effect.gen(function* () {
      const stopper = yield* Effect.forkChild(shutdown.await.pipe(Effect.andThen(queue.shutdown)))
      yield* runQueue(queue, options)
      yield* Fiber.interrupt(stopper)
    })
})

/**
 * Runs the runnables until interrupted (then stops gracefully, see the module comment) or until
 * one of them fails (then stops the others the same way and fails with its error).
 */
export const run = <E, R>(
  options: ManagerOptions,
  runnables: ReadonlyArray<Runnable<E, R>>
): Effect.Effect<never, E | InvalidBindAddress | HttpServerError.ServeError, R | HealthChecks> =>
  Effect.scoped(
    Effect.gen(function* () {
      const checks = yield* HealthChecks
      const leadership = yield* Leadership
      yield* Layer.build(
        HealthServer.layer({
          healthProbeBindAddress: options.healthProbeBindAddress,
          metricsBindAddress: options.metricsBindAddress,
          collectors: options.collectors
        })
      )

      const stopping = yield* Deferred.make<void>()
      const shutdown: Shutdown = {
        await: Deferred.await(stopping),
        isShuttingDown: Deferred.isDone(stopping)
      }
      yield* checks.addReadyzCheck(
        "shutdown",
        Effect.suspend(() => (Deferred.isDoneUnsafe(stopping) ? Effect.fail("shutting down") : Effect.void))
      )

      const start = (runnable: Runnable<E, R>) =>
        runnable.run(shutdown).pipe(Effect.annotateLogs({ runnable: runnable.name }))

      const fibers: Array<Fiber.Fiber<void, E>> = []
      for (const runnable of runnables) {
        if (runnable.needLeaderElection === false) fibers.push(yield* Effect.forkChild(start(runnable)))
      }
      const leaderWork = Effect.forEach(
        runnables.filter((r) => r.needLeaderElection !== false),
        start,
        { concurrency: "unbounded", discard: true }
      )
      const campaign = yield* Effect.forkChild(leadership.run(leaderWork))
      fibers.push(campaign)
      /** While campaigning (not leading), there is nothing to drain: stop at once. */
      const stopCampaign = Effect.flatMap(leadership.isLeader, (leading) =>
        leading ? Effect.void : Fiber.interrupt(campaign)
      )

      const grace = Duration.millis(options.gracefulShutdownTimeoutMillis ?? 30_000)
      const stopGracefully = Effect.gen(function* () {
        yield* Deferred.succeed(stopping, undefined)
        yield* stopCampaign
        yield* Effect.logInfo(`Stopping: waiting up to ${Duration.format(grace)} for in-flight work`)
        const drained = yield* Effect.forEach(fibers, (fiber) => Fiber.await(fiber), {
          concurrency: "unbounded",
          discard: true
        }).pipe(Effect.interruptible, Effect.timeoutOption(grace))
        if (Option.isNone(drained))
          yield* Effect.logWarning("Grace period exceeded: interrupting in-flight work")
        // Leader work ends (and the Lease is released) before the servers close with the scope.
        yield* Fiber.interruptAll(fibers)
        yield* Effect.logInfo("Stopped")
      })

      // Runs forever; fails as soon as a runnable fails. A runnable that returns early is fine.
      return yield* Effect.forEach(fibers, (fiber) => Fiber.join(fiber).pipe(Effect.andThen(Effect.never)), {
        concurrency: "unbounded",
        discard: true
      }).pipe(Effect.andThen(Effect.never), Effect.ensuring(Effect.uninterruptible(stopGracefully)))
    })
  )

/**
 * `NodeRuntime.runMain` for an operator: SIGTERM/SIGINT interrupt the program, which stops
 * gracefully; a stop by signal exits 0 (not 130), a failure exits 1.
 */
export const runMain = <E, A>(program: Effect.Effect<A, E>): void =>
  NodeRuntime.runMain(program, { teardown: gracefulTeardown })

/** Exit code 0 for success or interruption (a requested stop), 1 otherwise. */
export const gracefulTeardown = <E, A>(exit: Exit.Exit<A, E>, onExit: (code: number) => void): void =>
  onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)
