import { assert, describe, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { statusRows, statusTable } from "../src/cli/status.ts"

const tenant = (name: string, plan: string, status: object): KubeObject => ({
  apiVersion: "kleff.kleff.io/v1",
  kind: "Tenant",
  metadata: { name },
  spec: { plan, userId: "u", username: name },
  status
})

const condition = (type: string, status: string, reason: string) => ({ type, status, reason, message: "" })

describe("status", () => {
  const ready = tenant("acme", "basic", {
    namespace: "tenant-acme",
    conditions: [
      "NamespaceReady",
      "PlanApplied",
      "AccessReady",
      "IsolationReady",
      "MeshReady",
      "TenantReady"
    ].map((type) => condition(type, "True", "Ready"))
  })
  const stuck = tenant("zeta", "gold", {
    namespace: "tenant-zeta",
    conditions: [
      condition("NamespaceReady", "True", "NamespaceProvisioned"),
      condition("PlanApplied", "False", "PlanNotFound"),
      condition("TenantReady", "False", "PlanNotFound")
    ]
  })
  const quota: KubeObject = {
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: { name: "tenant-quota", namespace: "tenant-acme" },
    status: {
      hard: { "requests.cpu": "1", "requests.memory": "2Gi", pods: "20" },
      used: { "requests.cpu": "250m", "requests.memory": "0", pods: "3" }
    }
  }

  it("shows plan, namespace, readiness, the first failing condition and quota usage, by name", () => {
    const rows = statusRows([stuck, ready, tenant("new", "free", {})], new Map([["tenant-acme", quota]]))
    assert.deepStrictEqual(
      rows.map((row) => [
        row.name,
        row.plan,
        row.namespace,
        row.ready,
        row.reason,
        row.cpu,
        row.memory,
        row.pods
      ]),
      [
        ["acme", "basic", "tenant-acme", "True", "", "250m/1", "0/2Gi", "3/20"],
        ["new", "free", "-", "Unknown", "", "-", "-", "-"],
        ["zeta", "gold", "tenant-zeta", "False", "PlanApplied: PlanNotFound", "-", "-", "-"]
      ]
    )
  })

  it("prints a table whose columns line up", () => {
    const lines = statusTable(statusRows([ready, stuck], new Map([["tenant-acme", quota]]))).split("\n")
    assert.strictEqual(lines.length, 3)
    assert.match(
      lines[0] ?? "",
      /^NAME\s+PLAN\s+NAMESPACE\s+READY\s+CPU\s+MEMORY\s+PODS\s+NOT READY BECAUSE$/
    )
    const column = (line: string | undefined) => line?.indexOf("tenant-")
    assert.strictEqual(column(lines[1]), column(lines[2]))
    assert.include(lines[2], "PlanApplied: PlanNotFound")
  })
})
