import { assert, describe, it } from "@effect/vitest"
import { type ConditionInput, type KubeObject, type StatusReport, statusToApply } from "../src/index.ts"

const now = "2026-06-01T12:00:00Z"
const before = "2026-01-01T00:00:00Z"

const condition = (type: string, status: "True" | "False") => ({
  type,
  status,
  reason: "Because",
  message: "m",
  lastTransitionTime: before,
  observedGeneration: 3
})
const input = (type: string, status: "True" | "False"): ConditionInput => ({
  type,
  status,
  reason: "Because",
  message: "m"
})

/** A primary whose status holds `mine` (applied by "mine"), `theirs` (applied by "theirs") and `phase`. */
const primary = (owned: ReadonlyArray<string>): KubeObject => ({
  apiVersion: "test.kleff.io/v1",
  kind: "Widget",
  metadata: {
    name: "w",
    generation: 3,
    managedFields: [
      {
        manager: "mine",
        operation: "Apply",
        subresource: "status",
        fieldsV1: {
          "f:status": {
            "f:phase": {},
            "f:observedGeneration": {},
            "f:conditions": Object.fromEntries(owned.map((type) => [`k:{"type":"${type}"}`, { ".": {} }]))
          }
        }
      },
      {
        manager: "theirs",
        operation: "Apply",
        subresource: "status",
        fieldsV1: { "f:status": { "f:conditions": { 'k:{"type":"Theirs"}': { ".": {} } } } }
      }
    ]
  },
  status: {
    phase: "Ready",
    observedGeneration: 3,
    conditions: [condition("Mine", "True"), condition("Theirs", "False"), condition("Old", "True")]
  }
})

const report = (...conditions: ReadonlyArray<ConditionInput>): StatusReport => ({
  fields: { phase: "Ready" },
  conditions
})

describe("statusToApply: a controller's own share of a shared status", () => {
  it("writes nothing when what it reports is stored, whatever other managers' conditions say", () => {
    assert.isUndefined(statusToApply(report(input("Mine", "True")), primary(["Mine"]), now, "mine"))
  })

  it("applies only its own fields and conditions when one of them changes", () => {
    const status = statusToApply(report(input("Mine", "False")), primary(["Mine"]), now, "mine")
    assert.deepStrictEqual(status, {
      phase: "Ready",
      conditions: [{ ...condition("Mine", "False"), lastTransitionTime: now }],
      observedGeneration: 3
    })
  })

  it("applies once more to remove a condition it applied before and no longer reports", () => {
    const status = statusToApply(report(input("Mine", "True")), primary(["Mine", "Old"]), now, "mine")
    assert.deepStrictEqual(status, {
      phase: "Ready",
      conditions: [condition("Mine", "True")],
      observedGeneration: 3
    })
  })

  it("never writes for conditions other managers own", () => {
    // "theirs" reports its one condition as stored: "Mine" and "Old" are not its to remove.
    const theirs: StatusReport = { fields: {}, conditions: [input("Theirs", "False")] }
    assert.isUndefined(statusToApply(theirs, primary(["Mine", "Old"]), now, "theirs"))
  })
})
