import { assert, describe, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeTermination, terminationOf } from "../src/TerminatingNamespace.ts"

const since = "2025-01-01T00:00:00Z"

/** A Namespace being deleted, as the namespace controller leaves it while it empties it. */
const terminating = (
  options: {
    readonly finalizers?: ReadonlyArray<string>
    readonly specFinalizers?: ReadonlyArray<string>
    readonly conditions?: ReadonlyArray<readonly [type: string, status: "True" | "False", message: string]>
  } = {}
): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: {
    name: "tenant-a",
    deletionTimestamp: since,
    ...(options.finalizers === undefined ? {} : { finalizers: options.finalizers })
  },
  spec: { finalizers: options.specFinalizers ?? ["kubernetes"] },
  status: {
    phase: "Terminating",
    conditions: (options.conditions ?? []).map(([type, status, message]) => ({
      type,
      status,
      reason: "Test",
      message,
      lastTransitionTime: since
    }))
  }
})

// What kube-controller-manager v1.36 wrote for a ConfigMap held by a finalizer (seen on the test cluster).
const contentRemaining = [
  "NamespaceContentRemaining",
  "True",
  "Some resources are remaining: configmaps. has 1 resource instances"
] as const
const finalizersRemaining = [
  "NamespaceFinalizersRemaining",
  "True",
  "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
] as const
const contentDeleted = [
  "NamespaceDeletionContentFailure",
  "False",
  "All content successfully deleted, may be waiting on finalization"
] as const

describe("terminationOf: what holds a terminating namespace", () => {
  it("nothing yet while the namespace controller has not reported", () => {
    const termination = terminationOf(terminating())
    assert.deepStrictEqual(termination, { since, blocked: false, holders: [] })
    assert.strictEqual(
      describeTermination("tenant-a", termination),
      `Namespace "tenant-a" has been terminating since ${since}.`
    )
  })

  it("content still being deleted is progress, not a block", () => {
    const termination = terminationOf(terminating({ conditions: [contentRemaining, contentDeleted] }))
    assert.isFalse(termination.blocked)
    assert.deepStrictEqual(termination.holders, [`NamespaceContentRemaining: ${contentRemaining[2]}`])
  })

  it("content held by someone else's finalizer blocks it, and says whose", () => {
    const termination = terminationOf(
      terminating({ conditions: [contentRemaining, finalizersRemaining, contentDeleted] })
    )
    assert.isTrue(termination.blocked)
    const message = describeTermination("tenant-a", termination)
    assert.include(
      message,
      `Namespace "tenant-a" has been terminating since ${since}, held by NamespaceFinalizersRemaining: ${finalizersRemaining[2]}; NamespaceContentRemaining:`
    )
    assert.include(message, "kubectl get --show-kind --ignore-not-found -n tenant-a")
  })

  it("a finalizer on the Namespace itself blocks it, in metadata or in spec (but not the namespace controller's own)", () => {
    const onMetadata = terminationOf(terminating({ finalizers: ["example.com/hold"] }))
    assert.isTrue(onMetadata.blocked)
    assert.deepStrictEqual(onMetadata.holders, ["finalizers on the namespace: example.com/hold"])
    const onSpec = terminationOf(terminating({ specFinalizers: ["kubernetes", "example.com/cleanup"] }))
    assert.isTrue(onSpec.blocked)
    assert.deepStrictEqual(onSpec.holders, ["spec.finalizers of the namespace: example.com/cleanup"])
  })

  it("a failure the namespace controller reports blocks it", () => {
    const termination = terminationOf(
      terminating({
        conditions: [["NamespaceDeletionDiscoveryFailure", "True", "Discovery failed for some groups"]]
      })
    )
    assert.isTrue(termination.blocked)
  })

  it("says the same thing every time it looks at the same object (no age in it)", () => {
    const namespace = terminating({ conditions: [finalizersRemaining] })
    assert.strictEqual(
      describeTermination("tenant-a", terminationOf(namespace)),
      describeTermination("tenant-a", terminationOf(structuredClone(namespace)))
    )
  })
})
