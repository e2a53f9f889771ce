import { assert, describe, it } from "@effect/vitest"
import { Data, Effect } from "effect"
import {
  type Action,
  InvalidOwnership,
  Kinds,
  type KubeObject,
  ownedBy,
  plan,
  Reconcile,
  type Reconciler,
  type Refusal,
  refOf,
  type Snapshot
} from "../src/index.ts"

const now = "2026-01-01T00:00:00Z"

class Refused extends Data.TaggedError("Refused")<{ readonly refusal: Refusal }> {}
class Unavailable extends Data.TaggedError("Unavailable")<{ readonly message: string }> {}

const team: KubeObject = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "team", namespace: "a", uid: "uid-team", labels: {} }
}

/** One child per primary; the status says whether a write of it was refused. */
const reconciler = (child: (primary: KubeObject) => KubeObject): Reconciler<KubeObject, undefined> => ({
  name: "test-refusals",
  primary: Kinds.ConfigMap,
  owned: [Kinds.ServiceAccount, Kinds.Namespace],
  decide: () => undefined,
  desired: (_decision, observed) => ({ objects: [child(observed.object)] }),
  status: (_decision, outcome) => ({
    fields: {},
    conditions: [
      outcome.refused === undefined
        ? { type: "Ready", status: "True", reason: "Ready", message: "" }
        : { type: "Ready", status: "False", reason: "WriteRefused", message: outcome.refused.message }
    ]
  })
})

const account = (primary: KubeObject): KubeObject =>
  ownedBy(
    primary,
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "app", namespace: primary.metadata.namespace }
    },
    "test-refusals"
  )

const snapshotOf = (primary: KubeObject): Snapshot => ({ primary, owned: [], get: () => undefined })

describe("Reconcile: a write the API server refuses for good", () => {
  it.effect(
    "is reported on the status with the server's message, once, and returned instead of failing",
    () =>
      Effect.gen(function* () {
        const written: Array<Action> = []
        const refusal: Refusal = {
          ref: refOf(account(team)),
          reason: "Invalid",
          message: 'ServiceAccount "app" is invalid: metadata.name: bad'
        }
        const reconciled = yield* Reconcile.reconcile(reconciler(account), {
          now,
          snapshot: Effect.succeed(snapshotOf(team)),
          execute: (actions) =>
            Effect.gen(function* () {
              for (const action of actions) {
                if (action._tag === "Apply") return yield* new Refused({ refusal })
                written.push(action)
              }
            }),
          refusal: (error) => (error._tag === "Refused" ? error.refusal : undefined)
        })
        assert.deepStrictEqual(reconciled.refused, refusal)
        assert.deepStrictEqual(
          written.map((action) => action._tag),
          ["ApplyStatus", "Event"],
          "the status that reports it, and one Warning"
        )
        const status = written[0]?._tag === "ApplyStatus" ? written[0].status : undefined
        const ready = ((status?.conditions ?? []) as ReadonlyArray<{ reason: string; message: string }>)[0]
        assert.strictEqual(ready?.reason, "WriteRefused")
        assert.strictEqual(ready?.message, refusal.message)
      })
  )

  it.effect("a refused write to the primary itself (its finalizer) writes no status after it", () =>
    Effect.gen(function* () {
      const written: Array<Action> = []
      const refusal: Refusal = { ref: refOf(team), reason: "Forbidden", message: "no finalizers for you" }
      const reconciled = yield* Reconcile.reconcile(
        { ...reconciler(account), finalizer: "test.kleff.io/hold" },
        {
          now,
          snapshot: Effect.succeed(snapshotOf(team)),
          execute: (actions) =>
            Effect.gen(function* () {
              for (const action of actions) {
                if (action._tag === "AddFinalizer") return yield* new Refused({ refusal })
                written.push(action)
              }
            }),
          refusal: (error) => (error._tag === "Refused" ? error.refusal : undefined)
        }
      )
      assert.deepStrictEqual(reconciled.refused, refusal)
      assert.deepStrictEqual(written, [])
    })
  )

  it.effect("any other failure fails the reconcile, and a port without `refusal` refuses nothing", () =>
    Effect.gen(function* () {
      const failing = (error: Refused | Unavailable) => ({
        now,
        snapshot: Effect.succeed(snapshotOf(team)),
        execute: () => Effect.fail(error)
      })
      const refusal: Refusal = { ref: refOf(team), reason: "Forbidden", message: "no" }
      const unavailable = yield* Effect.flip(
        Reconcile.reconcile(reconciler(account), {
          ...failing(new Unavailable({ message: "down" })),
          refusal: (error) => (error._tag === "Refused" ? error.refusal : undefined)
        })
      )
      assert.strictEqual(unavailable._tag, "Unavailable")
      const unclassified = yield* Effect.flip(
        Reconcile.reconcile(reconciler(account), failing(new Refused({ refusal })))
      )
      assert.strictEqual(unclassified._tag, "Refused")
    })
  )
})

describe("plan refuses a desired object its primary cannot own", () => {
  const planFor = (child: (primary: KubeObject) => KubeObject) => () =>
    plan(reconciler(child), snapshotOf(team), now)

  it("across namespaces", () => {
    const elsewhere = (primary: KubeObject) => {
      const object = account(primary)
      return { ...object, metadata: { ...object.metadata, namespace: "b" } }
    }
    assert.throws(planFor(elsewhere), InvalidOwnership, "owner references never cross namespaces")
  })

  it("cluster-scoped, from a namespaced owner", () => {
    const namespace = (primary: KubeObject) =>
      ownedBy(primary, { apiVersion: "v1", kind: "Namespace", metadata: { name: "x" } }, "test-refusals")
    assert.throws(
      planFor(namespace),
      InvalidOwnership,
      "a namespaced owner cannot own a cluster-scoped object"
    )
  })

  it("without the reconciler's managed-by label (its own cache could not see it)", () => {
    const unlabelled = (primary: KubeObject) => {
      const object = account(primary)
      return { ...object, metadata: { ...object.metadata, labels: {} } }
    }
    assert.throws(
      planFor(unlabelled),
      InvalidOwnership,
      "lacks the label app.kubernetes.io/managed-by=test-refusals"
    )
    assert.doesNotThrow(planFor(account))
  })
})
