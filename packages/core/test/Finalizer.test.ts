import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Schema } from "effect"
import {
  FinalizerEvent,
  FinalizerState,
  finalizerState,
  finalizerStep,
  type KubeObject,
  transition
} from "../src/index.ts"

const finalizer = "test.kleff.io/cleanup"
const child: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "n" } }
const primary = (finalizers: ReadonlyArray<string>, deleting: boolean): KubeObject => ({
  apiVersion: "test.kleff.io/v1",
  kind: "Tenant",
  metadata: {
    name: "acme",
    uid: "u",
    finalizers,
    ...(deleting ? { deletionTimestamp: "2024-01-01T00:00:00Z" } : {})
  }
})

describe("finalizerState", () => {
  it("reads the state from the primary and what remains", () => {
    assert.strictEqual(finalizerState(primary([], false), undefined, [])._tag, "Unmanaged")
    assert.strictEqual(finalizerState(primary([], false), finalizer, [])._tag, "Absent")
    assert.strictEqual(finalizerState(primary([finalizer], false), finalizer, [child])._tag, "Added")
    assert.strictEqual(finalizerState(primary([finalizer], true), finalizer, [child])._tag, "CleaningUp")
    assert.strictEqual(finalizerState(primary([finalizer], true), finalizer, [])._tag, "Releasing")
    assert.strictEqual(finalizerState(primary(["other"], true), finalizer, [child])._tag, "Released")
  })

  it("asks for the finalizer before children, and removes it only when releasing", () => {
    assert.deepInclude(finalizerStep(FinalizerState.Absent()), {
      addFinalizer: true,
      reconcileChildren: true
    })
    assert.deepInclude(finalizerStep(FinalizerState.CleaningUp({ remaining: [child] })), {
      deleteChildren: true,
      waitForChildren: true,
      removeFinalizer: false
    })
    assert.deepInclude(finalizerStep(FinalizerState.Releasing()), {
      removeFinalizer: true,
      deleteChildren: false
    })
    assert.deepInclude(finalizerStep(FinalizerState.Released()), {
      removeFinalizer: false,
      reportStatus: false
    })
  })
})

describe("transition", () => {
  it("walks the protocol: Absent → Added → CleaningUp → Releasing → Released", () => {
    let state: FinalizerState = FinalizerState.Absent()
    state = transition(state, FinalizerEvent.FinalizerAdded())
    assert.strictEqual(state._tag, "Added")
    state = transition(state, FinalizerEvent.DeletionRequested({ remaining: [child, child] }))
    assert.strictEqual(state._tag, "CleaningUp")
    state = transition(state, FinalizerEvent.FinalizerRemoved())
    assert.strictEqual(state._tag, "CleaningUp", "no release while children remain")
    state = transition(state, FinalizerEvent.ChildrenRemaining({ remaining: [child] }))
    assert.strictEqual(state._tag, "CleaningUp")
    state = transition(state, FinalizerEvent.ChildrenRemaining({ remaining: [] }))
    assert.strictEqual(state._tag, "Releasing")
    state = transition(state, FinalizerEvent.FinalizerRemoved())
    assert.strictEqual(state._tag, "Released")
  })

  it("releases at once a primary deleted before the finalizer was added, and goes back to cleanup if a child reappears", () => {
    assert.strictEqual(
      transition(FinalizerState.Absent(), FinalizerEvent.DeletionRequested({ remaining: [child] }))._tag,
      "Released"
    )
    assert.strictEqual(
      transition(FinalizerState.Added(), FinalizerEvent.DeletionRequested({ remaining: [] }))._tag,
      "Releasing"
    )
    assert.strictEqual(
      transition(FinalizerState.Releasing(), FinalizerEvent.ChildrenRemaining({ remaining: [child] }))._tag,
      "CleaningUp"
    )
  })

  const event = Arbitrary.schema(Schema.Literals(["added", "deleted", "remaining", "none", "removed"])).pipe(
    Arbitrary.map((tag) =>
      tag === "added"
        ? FinalizerEvent.FinalizerAdded()
        : tag === "deleted"
          ? FinalizerEvent.DeletionRequested({ remaining: [child] })
          : tag === "remaining"
            ? FinalizerEvent.ChildrenRemaining({ remaining: [child] })
            : tag === "none"
              ? FinalizerEvent.ChildrenRemaining({ remaining: [] })
              : FinalizerEvent.FinalizerRemoved()
    )
  )

  it.prop(
    "on any event sequence, the finalizer is released only from Releasing, after children were last seen gone",
    [Arbitrary.array(event, { maxLength: 12 })],
    ([events]) => {
      let state: FinalizerState = FinalizerState.Absent()
      let childrenKnownGone = false
      for (const next of events) {
        if (next._tag === "DeletionRequested" || next._tag === "ChildrenRemaining") {
          childrenKnownGone = next.remaining.length === 0
        }
        const before = state
        state = transition(state, next)
        if (state._tag === "Released" && before._tag !== "Released" && before._tag !== "Absent") {
          assert.strictEqual(before._tag, "Releasing")
          assert.isTrue(childrenKnownGone)
        }
        if (finalizerStep(state).removeFinalizer) assert.isTrue(childrenKnownGone)
      }
    },
    { arbitrary: { runs: 300 } }
  )
})
