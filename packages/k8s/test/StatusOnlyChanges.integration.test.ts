// `Reconciler.readsStatusOf` on the real API server: a change to nothing but the status of an owned
// object (written through the status subresource, as the quota controller writes a
// ResourceQuota's) requeues the primary only when the reconciler reads that kind's status; any
// other change to it still does.
import { assert, it } from "@effect/vitest"
import { Kinds, type KubeObject, ownedBy, type Reconciler, type ResourceType } from "@kleff/core"
import { Effect } from "effect"
import { Client } from "../src/Client.ts"
import { make as makeController } from "../src/Controller.ts"
import { Informers } from "../src/Informers.ts"
import { clusterLayer, describeCluster, eventually, runUntilStopped, uniqueName } from "./cluster.ts"

const ResourceQuotaType: ResourceType = Kinds.ResourceQuota

/** What each reconcile saw of the owned ResourceQuota: its resourceVersion and labels. */
interface Seen {
  readonly resourceVersion: string | undefined
  readonly labels: Readonly<Record<string, string>> | undefined
}

/**
 * Every Namespace labelled `label` gets a ResourceQuota `quota` (10 ConfigMaps); each reconcile
 * of such a Namespace records what it saw of the quota.
 */
const quotaKeeper = (
  name: string,
  label: string,
  readsStatusOf: ReadonlyArray<ResourceType>,
  seen: Array<Seen>
): Reconciler<KubeObject, KubeObject> => ({
  name,
  primary: Kinds.Namespace,
  owned: [ResourceQuotaType],
  readsStatusOf,
  decide: ({ primary, owned }) => {
    if (primary.metadata.labels?.[label] !== undefined) {
      const quota = owned.find((object) => object.kind === "ResourceQuota")
      seen.push({ resourceVersion: quota?.metadata.resourceVersion, labels: quota?.metadata.labels })
    }
    return primary
  },
  desired: (namespace) => ({
    objects:
      namespace.metadata.labels?.[label] === undefined
        ? []
        : [
            ownedBy(
              namespace,
              {
                apiVersion: "v1",
                kind: "ResourceQuota",
                metadata: { name: "quota", namespace: namespace.metadata.name },
                spec: { hard: { configmaps: "10" } }
              },
              name
            )
          ]
  })
})

/** Runs `quotaKeeper` over a fresh labelled namespace; hands the test its name and what reconciles saw. */
const withKeeper = <A, E, R>(
  readsStatusOf: ReadonlyArray<ResourceType>,
  test: (namespace: string, seen: Array<Seen>, settle: Effect.Effect<void, Error>) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function* () {
    const client = yield* Client
    const name = uniqueName("quota-keeper")
    const label = `example.kleff.io/${name}`
    const seen: Array<Seen> = []
    const controller = yield* makeController({ reconciler: quotaKeeper(name, label, readsStatusOf, seen) })
    const stop = yield* runUntilStopped(controller.runnable)
    yield* controller.ready
    const namespace = uniqueName("status-only")
    yield* Effect.acquireRelease(
      client.create(Kinds.Namespace, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: namespace, labels: { [label]: "yes" } }
      }),
      () => client.delete(Kinds.Namespace, namespace).pipe(Effect.ignore)
    )
    yield* eventually(
      client.get(ResourceQuotaType, "quota", namespace).pipe(Effect.option),
      (quota) => quota._tag === "Some",
      20_000,
      "the ResourceQuota"
    )
    /** Until the queue has been empty and idle for a while. */
    const settle = Effect.gen(function* () {
      yield* Effect.sleep("1 second")
      yield* eventually(controller.queue.len, (n) => n === 0, 20_000, "the queue to drain")
      yield* eventually(controller.queue.processingLen, (n) => n === 0, 20_000, "the reconciles to finish")
    })
    const result = yield* test(namespace, seen, settle)
    yield* stop
    return result
  }).pipe(Effect.scoped, Effect.provide(Informers.layer), Effect.provide(clusterLayer()))

/** Writes the quota's status through its subresource (what the quota controller does); its new resourceVersion. */
const writeStatus = (namespace: string, used: string) =>
  Effect.gen(function* () {
    const client = yield* Client
    const written = yield* client.patch(
      ResourceQuotaType,
      "quota",
      { type: "merge", body: { status: { hard: { configmaps: "10" }, used: { configmaps: used } } } },
      { namespace, subresource: "status", fieldManager: "test-quota-reporter" }
    )
    return written.metadata.resourceVersion
  })

describeCluster("readsStatusOf (real API server)", () => {
  it.live(
    "a status-only change of an owned kind whose status is not read requeues nothing; a label on it does",
    () =>
      withKeeper([], (namespace, seen, settle) =>
        Effect.gen(function* () {
          const client = yield* Client
          yield* settle
          const before = seen.length
          yield* writeStatus(namespace, "7")
          yield* writeStatus(namespace, "8")
          // Time for a reconcile the status writes would wrongly queue (one runs in milliseconds).
          yield* Effect.sleep("1500 millis")
          yield* settle
          assert.strictEqual(seen.length, before, "a status-only change requeued the primary")
          // The same watch delivers this after the status writes: a label is not status, it requeues.
          yield* client.patch(
            ResourceQuotaType,
            "quota",
            { type: "merge", body: { metadata: { labels: { "example.kleff.io/sentinel": "1" } } } },
            { namespace, fieldManager: "test-user" }
          )
          yield* eventually(
            Effect.sync(() => seen.slice(before)),
            (after) => after.some((s) => s.labels?.["example.kleff.io/sentinel"] === "1"),
            20_000,
            "a reconcile after the label change"
          )
        })
      ),
    60_000
  )

  it.live(
    "a status-only change of an owned kind whose status is read requeues the primary",
    () =>
      withKeeper([ResourceQuotaType], (namespace, seen, settle) =>
        Effect.gen(function* () {
          yield* settle
          const before = seen.length
          const written = yield* writeStatus(namespace, "7")
          assert.isDefined(written)
          yield* eventually(
            Effect.sync(() => seen.slice(before)),
            (after) => after.length > 0,
            20_000,
            "a reconcile after the status change"
          )
        })
      ),
    60_000
  )
})
