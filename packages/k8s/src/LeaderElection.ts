/**
 * Leader election on a `coordination.k8s.io/v1` Lease, after client-go's `leaderelection`:
 * candidates acquire the Lease when it is free or expired, the leader renews it every
 * `retryPeriod`, gives leadership up when it cannot renew within `renewDeadline`, and on
 * shutdown releases it (empty holder, 1 s duration) so a standby takes over at once.
 * Expiry is judged on the local clock, from when this process last saw the Lease change
 * (its resourceVersion), never from the timestamps written by another machine.
 *
 * Owns the election state machine, the `leader_election_master_status{name}` gauge, and
 * `run(effect)`: the effect runs only while this process leads and is interrupted on loss.
 * It talks to the API server only through the small `LeaseClient` interface (get, create,
 * update with resourceVersion concurrency; `LeaseClient.ts`, re-exported here), whose
 * `LeaseClient.layer` implements it on the shared `Client`. It must not decide what the leader
 * does.
 */
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import {
  Clock,
  Duration,
  Effect,
  type Exit,
  Fiber,
  Metric,
  Option,
  Random,
  Schema,
  type Stream,
  SubscriptionRef
} from "effect"
import { LeaseClient, type LeaseRecord, type LeaseRef, type ObservedLease } from "./LeaseClient.ts"
import { leaderElectionMasterStatus } from "./Metrics.ts"
import { formatMicroTime } from "./MicroTime.ts"

export {
  LeaseApiError,
  LeaseClient,
  LeaseConflict,
  type LeaseRecord,
  type LeaseRef,
  LeaseType,
  type ObservedLease
} from "./LeaseClient.ts"

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

export interface LeaderElectionConfig {
  /** The Lease's namespace. */
  readonly namespace: string
  /** The Lease's name; also the `name` label of `leader_election_master_status`. */
  readonly name: string
  /** Default: hostname + "_" + a random UUID. Must be unique per process. */
  readonly identity?: string | undefined
  /** How long a standby waits, after last seeing the Lease change, before taking it. Default 15 s. */
  readonly leaseDurationMillis?: number | undefined
  /** How long the leader keeps retrying a failing renewal before giving up. Default 10 s. */
  readonly renewDeadlineMillis?: number | undefined
  /** Interval between acquire/renew attempts (acquisition adds up to 1.2× jitter). Default 2 s. */
  readonly retryPeriodMillis?: number | undefined
  /** Release the Lease when `run` ends or is interrupted while leading. Default true. */
  readonly releaseOnCancel?: boolean | undefined
}

export class InvalidLeaderElectionConfig extends Schema.TaggedError<InvalidLeaderElectionConfig>()(
  "InvalidLeaderElectionConfig",
  { message: Schema.String }
) {}

const jitterFactor = 1.2

interface Timing {
  readonly leaseDurationMillis: number
  readonly renewDeadlineMillis: number
  readonly retryPeriodMillis: number
}

const validate = (config: LeaderElectionConfig): Effect.Effect<Timing, InvalidLeaderElectionConfig> => {
  const timing: Timing = {
    leaseDurationMillis: config.leaseDurationMillis ?? 15_000,
    renewDeadlineMillis: config.renewDeadlineMillis ?? 10_000,
    retryPeriodMillis: config.retryPeriodMillis ?? 2_000
  }
  const invalid = (message: string) => Effect.fail(new InvalidLeaderElectionConfig({ message }))
  if (timing.leaseDurationMillis < 1000 || timing.leaseDurationMillis % 1000 !== 0)
    return invalid("leaseDuration must be a whole number of seconds, at least 1 s")
  if (timing.leaseDurationMillis <= timing.renewDeadlineMillis)
    return invalid("leaseDuration must be greater than renewDeadline")
  if (timing.retryPeriodMillis <= 0) return invalid("retryPeriod must be greater than zero")
  if (timing.renewDeadlineMillis <= jitterFactor * timing.retryPeriodMillis)
    return invalid("renewDeadline must be greater than retryPeriod*1.2")
  if (config.name === "" || config.namespace === "") return invalid("the Lease needs a namespace and a name")
  return Effect.succeed(timing)
}

/** client-go's default identity shape: hostname, underscore, random suffix. */
export const defaultIdentity = (): string => `${hostname()}_${randomUUID()}`

// ---------------------------------------------------------------------------------------------
// The elector
// ---------------------------------------------------------------------------------------------

export interface LeaderElector {
  readonly identity: string
  readonly lease: LeaseRef
  /** Whether this process currently leads (as of its last successful acquire/renew). */
  readonly isLeader: Effect.Effect<boolean>
  /** `isLeader`, now and at every change. */
  readonly leadership: Stream.Stream<boolean>
  /** The holder last seen on the Lease ("" if none or not yet read). */
  readonly observedLeader: Effect.Effect<string>
  /**
   * Campaigns for the Lease and runs `whileLeader` once elected. If leadership is lost,
   * `whileLeader` is interrupted (and awaited) and the campaign starts again. Returns
   * `whileLeader`'s result when it ends by itself. On exit or interruption while leading, the
   * Lease is released if `releaseOnCancel`. Run it at most once at a time per elector.
   */
  readonly run: <A, E, R>(whileLeader: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * A liveness check (client-go's `HealthzAdaptor`): fails if this process believes it leads
   * but has not renewed for `leaseDuration + toleranceMillis` (a wedged renew loop).
   */
  readonly healthCheck: (toleranceMillis: number) => Effect.Effect<void, string>
}

export const make = Effect.fnUntraced(function* (
  config: LeaderElectionConfig
): Effect.fn.Return<LeaderElector, InvalidLeaderElectionConfig, LeaseClient> {
  const timing = yield* validate(config)
  const client = yield* LeaseClient
  const clock = yield* Clock.Clock
  const identity = config.identity ?? defaultIdentity()
  const lease: LeaseRef = { namespace: config.namespace, name: config.name }
  const releaseOnCancel = config.releaseOnCancel ?? true
  const gauge = leaderElectionMasterStatus(config.name)
  const leaderRef = yield* SubscriptionRef.make(false)
  const leaseDurationSeconds = timing.leaseDurationMillis / 1000

  let observed: ObservedLease | undefined
  /** Local time at which `observed` was last seen to change. */
  let observedTime = 0
  let reportedLeader = ""

  const annotate = Effect.annotateLogs({ lease: `${lease.namespace}/${lease.name}`, identity })
  const microNow = () => formatMicroTime(clock.currentTimeMillisUnsafe())
  const holdsRecord = () => observed !== undefined && observed.record.holderIdentity === identity
  const leaseValid = (now: number) =>
    observed !== undefined && observedTime + observed.record.leaseDurationSeconds * 1000 > now

  const observe = (next: ObservedLease) => {
    if (observed === undefined || observed.resourceVersion !== next.resourceVersion) {
      observed = next
      observedTime = clock.currentTimeMillisUnsafe()
    }
  }

  const setLeader = (leading: boolean) =>
    SubscriptionRef.set(leaderRef, leading).pipe(Effect.andThen(Metric.update(gauge, leading ? 1 : 0)))

  const reportTransition = Effect.suspend(() => {
    const holder = observed?.record.holderIdentity ?? ""
    if (holder === reportedLeader) return Effect.void
    reportedLeader = holder
    return holder === ""
      ? Effect.logInfo("Lease is free")
      : Effect.logInfo(
          holder === identity ? "This process is now the leader" : `New leader elected: ${holder}`
        )
  })

  /** One attempt; false (and logged at debug) on any failure or after renewDeadline. Never fails. */
  const tryAcquireOrRenew: Effect.Effect<boolean> = Effect.gen(function* () {
    const now = clock.currentTimeMillisUnsafe()
    const stamp = microNow()
    // Fast path: we hold a valid Lease; write the renewal straight on our last version.
    if (observed !== undefined && holdsRecord() && leaseValid(now)) {
      const renewal: LeaseRecord = { ...observed.record, leaseDurationSeconds, renewTime: stamp }
      const renewed = yield* Effect.option(client.updateLease(lease, renewal, observed.resourceVersion))
      if (Option.isSome(renewed)) {
        observed = renewed.value
        observedTime = clock.currentTimeMillisUnsafe()
        return true
      }
      yield* Effect.logDebug("Fast-path renewal failed; re-reading the Lease")
    }
    const current = yield* client.getLease(lease)
    if (Option.isNone(current)) {
      const created = yield* client.createLease(lease, {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: stamp,
        renewTime: stamp,
        leaseTransitions: 0
      })
      observed = created
      observedTime = clock.currentTimeMillisUnsafe()
      return true
    }
    observe(current.value)
    const record = current.value.record
    if (record.holderIdentity !== "" && record.holderIdentity !== identity && leaseValid(now)) return false
    const ours = record.holderIdentity === identity
    const next: LeaseRecord = {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: ours ? record.acquireTime : stamp,
      renewTime: stamp,
      leaseTransitions: ours ? record.leaseTransitions : record.leaseTransitions + 1
    }
    observed = yield* client.updateLease(lease, next, current.value.resourceVersion)
    observedTime = clock.currentTimeMillisUnsafe()
    return true
  }).pipe(
    Effect.catch((error) => Effect.logDebug("Lease attempt failed", error).pipe(Effect.as(false))),
    // A request that never answers must not wedge the campaign (client-node sets no timeout).
    Effect.timeoutOrElse({
      duration: Duration.millis(timing.renewDeadlineMillis),
      orElse: () => Effect.logDebug("Lease attempt timed out").pipe(Effect.as(false))
    }),
    Effect.tap(() => reportTransition)
  )

  const sleepMillis = (millis: number) => Effect.sleep(Duration.millis(millis))

  /** client-go `acquire`: try every retryPeriod (+ up to 1.2× jitter) until it succeeds. */
  const acquire = Effect.gen(function* () {
    yield* Effect.logInfo("Attempting to acquire the leader Lease")
    while (!(yield* tryAcquireOrRenew)) {
      const jitter = (yield* Random.next) * jitterFactor * timing.retryPeriodMillis
      yield* sleepMillis(timing.retryPeriodMillis + jitter)
    }
    yield* Effect.logInfo("Acquired the leader Lease")
  })

  /** Retry a renewal every retryPeriod; give up at renewDeadline. */
  const renewWithinDeadline = Effect.gen(function* () {
    while (!(yield* tryAcquireOrRenew)) yield* sleepMillis(timing.retryPeriodMillis)
  }).pipe(Effect.timeoutOption(Duration.millis(timing.renewDeadlineMillis)), Effect.map(Option.isSome))

  /** client-go `renew`: returns when leadership is lost. */
  const renewUntilLost = Effect.gen(function* () {
    for (;;) {
      yield* sleepMillis(timing.retryPeriodMillis)
      if (!(yield* renewWithinDeadline)) return
    }
  })

  /**
   * client-go `release`: empty holder and a 1 s duration, so standbys take over immediately.
   * Retried on a conflict (a renewal in flight when leadership ended may land first).
   */
  const releaseOnce = Effect.gen(function* () {
    const current = yield* client.getLease(lease)
    if (Option.isNone(current) || current.value.record.holderIdentity !== identity) return
    const stamp = microNow()
    observed = yield* client.updateLease(
      lease,
      {
        holderIdentity: "",
        leaseDurationSeconds: 1,
        acquireTime: stamp,
        renewTime: stamp,
        leaseTransitions: current.value.record.leaseTransitions
      },
      current.value.resourceVersion
    )
    observedTime = clock.currentTimeMillisUnsafe()
    yield* Effect.logInfo("Released the leader Lease")
  })
  const release = releaseOnce.pipe(
    Effect.retry({ times: 3, while: (error) => error._tag === "LeaseConflict" }),
    Effect.timeoutOption(Duration.millis(timing.renewDeadlineMillis)),
    Effect.catch((error) => Effect.logWarning("Failed to release the leader Lease", error)),
    Effect.asVoid
  )

  type Term<A, E> = { readonly _tag: "Lost" } | { readonly _tag: "Ended"; readonly exit: Exit.Exit<A, E> }

  const run = <A, E, R>(whileLeader: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    let work: Fiber.Fiber<A, E> | undefined
    let leading = false
    const stop = Effect.gen(function* () {
      if (work !== undefined) {
        const fiber = work
        work = undefined
        yield* Fiber.interrupt(fiber)
      }
      // `holdsRecord`: an acquire that landed just as we were interrupted still gets released.
      if (leading || holdsRecord()) {
        leading = false
        if (releaseOnCancel) yield* release
        yield* setLeader(false)
      }
    })
    const campaign = Effect.gen(function* () {
      for (;;) {
        yield* acquire
        leading = true
        yield* setLeader(true)
        const fiber = yield* Effect.forkChild(whileLeader)
        work = fiber
        const term: Term<A, E> = yield* Effect.raceFirst(
          Fiber.await(fiber).pipe(Effect.map((exit): Term<A, E> => ({ _tag: "Ended", exit }))),
          renewUntilLost.pipe(Effect.as<Term<A, E>>({ _tag: "Lost" }))
        )
        if (term._tag === "Ended") {
          work = undefined
          return yield* term.exit
        }
        yield* Effect.logWarning("Leader election lost; stopping the leader's work")
        leading = false
        yield* setLeader(false)
        yield* Fiber.interrupt(fiber)
        work = undefined
      }
    })
    return Effect.gen(function* () {
      yield* Metric.update(gauge, 0)
      return yield* campaign
    }).pipe(Effect.ensuring(Effect.uninterruptible(stop)), annotate)
  }

  return {
    identity,
    lease,
    isLeader: SubscriptionRef.get(leaderRef),
    leadership: SubscriptionRef.changes(leaderRef),
    observedLeader: Effect.sync(() => observed?.record.holderIdentity ?? ""),
    run,
    healthCheck: (toleranceMillis) =>
      Effect.suspend(() => {
        if (!holdsRecord() || !SubscriptionRef.getUnsafe(leaderRef)) return Effect.void
        const age = clock.currentTimeMillisUnsafe() - observedTime
        return age > timing.leaseDurationMillis + toleranceMillis
          ? Effect.fail(`leader Lease ${lease.namespace}/${lease.name} not renewed for ${age} ms`)
          : Effect.void
      })
  } satisfies LeaderElector
})
