import { assert, describe, it } from "@effect/vitest"
import {
  boundedMessage,
  type Condition,
  type ConditionInput,
  conditionMessageMaxBytes,
  conditionsEqual,
  conditionsOf,
  findCondition,
  isFalse,
  isTrue,
  mergeConditions
} from "../src/index.ts"

const t0 = "2024-01-01T00:00:00Z"
const t1 = "2024-01-02T00:00:00Z"

const ready: ConditionInput = { type: "Ready", status: "True", reason: "Reconciled", message: "" }
const previous: ReadonlyArray<Condition> = [
  {
    type: "Ready",
    status: "True",
    reason: "Reconciled",
    message: "",
    lastTransitionTime: t0,
    observedGeneration: 1
  }
]

describe("mergeConditions", () => {
  it("stamps a new condition with now and the generation", () => {
    assert.deepStrictEqual(mergeConditions(undefined, [ready], { now: t1, generation: 4 }), [
      { ...ready, lastTransitionTime: t1, observedGeneration: 4 }
    ])
  })

  it("keeps lastTransitionTime while the status holds, even as reason, message and generation change", () => {
    const merged = mergeConditions(previous, [{ ...ready, reason: "StillFine", message: "all good" }], {
      now: t1,
      generation: 2
    })
    assert.deepStrictEqual(merged, [
      {
        type: "Ready",
        status: "True",
        reason: "StillFine",
        message: "all good",
        lastTransitionTime: t0,
        observedGeneration: 2
      }
    ])
  })

  it("moves lastTransitionTime to now when the status flips", () => {
    const merged = mergeConditions(previous, [{ ...ready, status: "False", reason: "Conflict" }], {
      now: t1,
      generation: 1
    })
    assert.strictEqual(findCondition(merged, "Ready")?.lastTransitionTime, t1)
    assert.isTrue(isFalse(merged, "Ready"))
    assert.isFalse(isTrue(merged, "Ready"))
  })

  it("is a fixpoint: merging the same report again changes nothing, whatever the time", () => {
    const once = mergeConditions(previous, [ready], { now: t1, generation: 1 })
    assert.isTrue(conditionsEqual(once, previous))
    assert.isTrue(
      conditionsEqual(mergeConditions(once, [ready], { now: "2030-01-01T00:00:00Z", generation: 1 }), once)
    )
  })

  it("orders by the report, keeps the last of a repeated type, and drops types no longer reported", () => {
    const merged = mergeConditions(
      [...previous, { type: "Stale", status: "True", reason: "Old", message: "", lastTransitionTime: t0 }],
      [
        { type: "Zeta", status: "True", reason: "A", message: "" },
        ready,
        { type: "Zeta", status: "False", reason: "B", message: "" }
      ],
      { now: t1 }
    )
    assert.deepStrictEqual(
      merged.map((c) => [c.type, c.reason]),
      [
        ["Zeta", "B"],
        ["Ready", "Reconciled"]
      ]
    )
    assert.isUndefined(findCondition(merged, "Stale"))
    assert.notProperty(merged[0] ?? {}, "observedGeneration")
  })

  it("cuts a message longer than metav1.Condition allows at a character boundary, and keeps the cut", () => {
    const utf8 = (text: string) => new TextEncoder().encode(text).length
    for (const unit of ["a", "é", "€", "😀"]) {
      const long = unit.repeat(40_000)
      const merged = mergeConditions(previous, [{ ...ready, message: long }], { now: t1, generation: 1 })
      const message = findCondition(merged, "Ready")?.message ?? ""
      assert.isAtMost(utf8(message), conditionMessageMaxBytes, unit)
      assert.isAbove(utf8(message), conditionMessageMaxBytes - 100, unit)
      const kept = message.slice(0, message.indexOf("\n"))
      assert.isTrue(long.startsWith(kept) && kept.length % unit.length === 0, unit)
      assert.include(message, "cut")
      // Cutting again changes nothing, so a resync finds the status it wrote.
      assert.strictEqual(boundedMessage(message), message)
      assert.isTrue(
        conditionsEqual(
          mergeConditions(merged, [{ ...ready, message: long }], { now: t1, generation: 1 }),
          merged
        )
      )
    }
    const fits = "x".repeat(conditionMessageMaxBytes)
    assert.strictEqual(boundedMessage(fits), fits)
  })

  it("reads conditions from a status and skips entries that are not conditions", () => {
    assert.deepStrictEqual(conditionsOf({ conditions: [...previous, { type: "Broken" }, 7] }), previous)
    assert.deepStrictEqual(conditionsOf(undefined), [])
    assert.deepStrictEqual(conditionsOf({ conditions: "nope" }), [])
  })
})
