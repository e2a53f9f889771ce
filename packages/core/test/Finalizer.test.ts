import { assert, describe, it } from "@effect/vitest"
import { FinalizerState, finalizerState, finalizerStep, type KubeObject } from "../src/index.ts"

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
      deleteChildren: false
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
      deleteChildren: false
    })
  })
})
