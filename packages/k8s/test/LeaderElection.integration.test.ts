/**
 * Leader election against the real local API server (tools/cluster). The kubeconfig comes from
 * `KLEFF_TEST_KUBECONFIG`, set once per run by the workspace's vitest global setup. Each test
 * uses its own Lease. Waits are generous; nothing asserts on speed.
 */
import { randomUUID } from "node:crypto"
import { assert, it } from "@effect/vitest"
import * as ClientNode from "@kubernetes/client-node"
import { Deferred, Duration, Effect, Fiber, Metric, Option } from "effect"
import { HealthChecks } from "../src/HealthServer.ts"
import {
  type LeaderElectionConfig,
  type LeaderElector,
  LeaseClient,
  type LeaseRef,
  make
} from "../src/LeaderElection.ts"
import { layerLeaderElection, type Runnable, run as runManager } from "../src/Manager.ts"
import { formatMicroTime } from "../src/MicroTime.ts"
import { describeCluster, kubeconfigPath } from "./cluster.ts"

const kubeconfig = kubeconfigPath

/** Short timings so takeovers happen within seconds. */
const fast = { leaseDurationMillis: 3_000, renewDeadlineMillis: 2_000, retryPeriodMillis: 500 } as const

/** A fresh Lease name; the Lease is deleted when the test's scope closes. */
const leaseRef = Effect.gen(function* () {
  const ref: LeaseRef = { namespace: "default", name: `kleff-le-test-${randomUUID().slice(0, 8)}` }
  yield* Effect.addFinalizer(() =>
    Effect.promise(() => {
      const kubeConfig = new ClientNode.KubeConfig()
      kubeConfig.loadFromFile(kubeconfig ?? "")
      return kubeConfig
        .makeApiClient(ClientNode.CoordinationV1Api)
        .deleteNamespacedLease(ref)
        .then(
          () => undefined,
          () => undefined
        )
    })
  )
  return ref
})

const config = (
  ref: LeaseRef,
  identity: string,
  extra: Partial<LeaderElectionConfig> = {}
): LeaderElectionConfig => ({
  ...ref,
  ...fast,
  identity,
  ...extra
})

/** Polls `condition` every 100 ms until true; dies after `timeoutMillis`. */
const waitUntil = <R>(what: string, condition: Effect.Effect<boolean, never, R>, timeoutMillis = 60_000) =>
  Effect.gen(function* () {
    while (!(yield* condition)) yield* Effect.sleep(100)
  }).pipe(
    Effect.timeoutOrElse({
      duration: Duration.millis(timeoutMillis),
      orElse: () => Effect.die(new Error(`timed out waiting until ${what}`))
    })
  )

const holderOf = (ref: LeaseRef) =>
  Effect.gen(function* () {
    const client = yield* LeaseClient
    const lease = yield* Effect.orDie(client.getLease(ref))
    return Option.match(lease, { onNone: () => "", onSome: (l) => l.record.holderIdentity })
  })

const gaugeValue = (registry: Metric.MetricRegistry, name: string) =>
  Metric.value(
    Metric.gauge("leader_election_master_status", {
      description:
        "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. " +
        "'name' is the string used to identify the lease. Please make sure to group by name.",
      attributes: { name }
    })
  ).pipe(
    Effect.map((s) => s.value),
    Effect.provideService(Metric.MetricRegistry, registry)
  )

/** Runs `elector.run(never)` in a fiber with its own metric registry. */
const campaign = (elector: LeaderElector, registry: Metric.MetricRegistry = new Map()) =>
  Effect.forkChild(elector.run(Effect.never).pipe(Effect.provideService(Metric.MetricRegistry, registry)))

describeCluster("LeaderElection on the real API server", () => {
  const layer = LeaseClient.layerFromKubeconfigFile(kubeconfig ?? "")

  it.live(
    "two electors on one Lease: exactly one leads, and the Lease names it",
    () =>
      Effect.gen(function* () {
        const ref = yield* leaseRef
        const a = yield* make(config(ref, "elector-a"))
        const b = yield* make(config(ref, "elector-b"))
        const registryA: Metric.MetricRegistry = new Map()
        const registryB: Metric.MetricRegistry = new Map()
        const fa = yield* campaign(a, registryA)
        const fb = yield* campaign(b, registryB)
        const leaders = Effect.all([a.isLeader, b.isLeader]).pipe(
          Effect.map(([x, y]) => Number(x) + Number(y))
        )
        yield* waitUntil(
          "one elector leads",
          Effect.map(leaders, (n) => n >= 1)
        )
        // Over several renew periods there is never more than one leader, and never none.
        for (let i = 0; i < 30; i++) {
          assert.strictEqual(yield* leaders, 1)
          yield* Effect.sleep(100)
        }
        const [leader, follower, leaderRegistry, followerRegistry] = (yield* a.isLeader)
          ? [a, b, registryA, registryB]
          : [b, a, registryB, registryA]
        assert.strictEqual(yield* holderOf(ref), leader.identity)
        assert.strictEqual(yield* follower.observedLeader, leader.identity)
        assert.strictEqual(yield* gaugeValue(leaderRegistry, ref.name), 1)
        assert.strictEqual(yield* gaugeValue(followerRegistry, ref.name), 0)
        yield* Fiber.interruptAll([fa, fb])
      }).pipe(Effect.provide(layer)),
    120_000
  )

  it.live(
    "a killed leader (no release) is replaced only after its Lease expires",
    () =>
      Effect.gen(function* () {
        const ref = yield* leaseRef
        const a = yield* make(config(ref, "killed-a", { releaseOnCancel: false }))
        const b = yield* make(config(ref, "standby-b"))
        const fa = yield* campaign(a)
        yield* waitUntil("a leads", a.isLeader)
        const fb = yield* campaign(b)
        yield* waitUntil(
          "b has seen a as leader",
          Effect.map(b.observedLeader, (l) => l === a.identity)
        )
        yield* Fiber.interrupt(fa)
        // The Lease still names a: b must not take it before it expires.
        assert.strictEqual(yield* holderOf(ref), a.identity)
        assert.isFalse(yield* b.isLeader)
        yield* waitUntil("b takes over", b.isLeader)
        assert.strictEqual(yield* holderOf(ref), b.identity)
        const client = yield* LeaseClient
        const lease = Option.getOrThrow(yield* Effect.orDie(client.getLease(ref)))
        assert.strictEqual(lease.record.leaseTransitions, 1)
        yield* Fiber.interrupt(fb)
      }).pipe(Effect.provide(layer)),
    120_000
  )

  it.live(
    "a leader that stops gracefully releases the Lease and a standby takes over without waiting for expiry",
    () =>
      Effect.gen(function* () {
        const ref = yield* leaseRef
        // A Lease far longer than the test's patience: only a release lets b in in time.
        const long = { leaseDurationMillis: 300_000, renewDeadlineMillis: 10_000, retryPeriodMillis: 500 }
        const a = yield* make(config(ref, "graceful-a", long))
        const b = yield* make(config(ref, "standby-b", long))
        const fa = yield* campaign(a)
        yield* waitUntil("a leads", a.isLeader)
        const fb = yield* campaign(b)
        yield* waitUntil(
          "b has seen a as leader",
          Effect.map(b.observedLeader, (l) => l === a.identity)
        )
        yield* Fiber.interrupt(fa)
        assert.isFalse(yield* a.isLeader)
        const holder = yield* holderOf(ref)
        assert.isTrue(holder === "" || holder === b.identity, `after release the holder is "${holder}"`)
        yield* waitUntil("b takes over", b.isLeader, 60_000)
        assert.strictEqual(yield* holderOf(ref), b.identity)
        yield* Fiber.interrupt(fb)
      }).pipe(Effect.provide(layer)),
    120_000
  )

  it.live(
    "a leader that cannot renew gives up after the renew deadline and its work is interrupted",
    () =>
      Effect.gen(function* () {
        const ref = yield* leaseRef
        const a = yield* make(config(ref, "usurped-a"))
        const workStarted = yield* Deferred.make<void>()
        const workInterrupted = yield* Deferred.make<void>()
        const work = Deferred.succeed(workStarted, undefined).pipe(
          Effect.andThen(Effect.never),
          Effect.onInterrupt(() => Deferred.succeed(workInterrupted, undefined))
        )
        const fa = yield* Effect.forkChild(a.run(work))
        yield* Deferred.await(workStarted)
        // An intruder overwrites the Lease and keeps renewing it: a's renewals now fail.
        const client = yield* LeaseClient
        const intruder = Effect.gen(function* () {
          for (;;) {
            const current = Option.getOrThrow(yield* Effect.orDie(client.getLease(ref)))
            const now = formatMicroTime(Date.now())
            yield* Effect.ignore(
              client.updateLease(
                ref,
                { ...current.record, holderIdentity: "intruder", renewTime: now, acquireTime: now },
                current.resourceVersion
              )
            )
            yield* Effect.sleep(200)
          }
        })
        const fi = yield* Effect.forkChild(
          intruder.pipe(Effect.tapCause((cause) => Effect.logError("the intruder stopped", cause)))
        )
        yield* Deferred.await(workInterrupted).pipe(Effect.timeout(Duration.seconds(60)), Effect.orDie)
        assert.isFalse(yield* a.isLeader)
        yield* Fiber.interruptAll([fi, fa])
      }).pipe(Effect.provide(layer)),
    120_000
  )

  it.live(
    "Manager: controllers run only on the leader; a graceful stop hands them over",
    () =>
      Effect.gen(function* () {
        const ref = yield* leaseRef
        const running = new Set<string>()
        const controller = (replica: string): Runnable => ({
          name: "controller",
          run: (shutdown) =>
            Effect.sync(() => running.add(replica)).pipe(
              Effect.andThen(shutdown.await),
              Effect.ensuring(Effect.sync(() => running.delete(replica)))
            )
        })
        const replica = (name: string) =>
          runManager(
            {
              healthProbeBindAddress: "127.0.0.1:0",
              metricsBindAddress: "0",
              gracefulShutdownTimeoutMillis: 5_000
            },
            [controller(name)]
          ).pipe(
            Effect.provide(layerLeaderElection(config(ref, name))),
            Effect.provide(HealthChecks.layer),
            Effect.provideService(Metric.MetricRegistry, new Map()),
            Effect.forkChild
          )
        const first = yield* replica("replica-1")
        yield* waitUntil(
          "replica-1 runs its controller",
          Effect.sync(() => running.has("replica-1"))
        )
        const second = yield* replica("replica-2")
        yield* waitUntil(
          "replica-2 has seen the Lease",
          Effect.map(holderOf(ref), (h) => h === "replica-1")
        )
        yield* Effect.sleep(1_000)
        assert.deepStrictEqual([...running], ["replica-1"])
        yield* Fiber.interrupt(first)
        yield* waitUntil(
          "replica-2 runs its controller",
          Effect.sync(() => running.has("replica-2"))
        )
        assert.deepStrictEqual([...running], ["replica-2"])
        yield* Fiber.interrupt(second)
        assert.strictEqual(running.size, 0)
        assert.strictEqual(yield* holderOf(ref), "")
      }).pipe(Effect.provide(layer)),
    120_000
  )
})
