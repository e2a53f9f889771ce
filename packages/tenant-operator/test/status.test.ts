/**
 * `tenant-operator status` and the Tenant CRD's printer columns. Pure: the rows and the table from
 * Tenants as the API server returns them. On the test cluster: Tenants created there, their status
 * (conditions, and `status.usage` for some) written through the status subresource as the
 * operator would, then `status` run as a process (table and JSON) and `kubectl get tenants`
 * (the columns, within 80 characters); and a kind the API server does not serve, refused plainly.
 */
import { assert, describe, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { Effect } from "effect"
import { clusterLayer, describeCluster, kubeconfigPath, uniqueName } from "../../k8s/test/cluster.ts"
import { TenantType } from "../src/api/Tenant.ts"
import { listDefined, type StatusRow, statusRows, statusTable } from "../src/cli/status.ts"
import { tenantConditionTypes } from "../src/TenantStatus.ts"
import {
  eventually,
  installOperator,
  Kubectl,
  lockCluster,
  operatorBin,
  runCommand,
  tenantObject,
  toYaml
} from "./e2e/harness.ts"

const condition = (type: string, status: string, reason: string) => ({
  type,
  status,
  reason,
  message: "",
  lastTransitionTime: "2030-01-01T00:00:00Z"
})

const allReady = tenantConditionTypes.map((type) => condition(type, "True", "Ready"))

/** A ResourceQuota's status, as the usage controller copies it into `status.usage`. */
const usage = {
  hard: { "requests.cpu": "1", "requests.memory": "2Gi", pods: "20" },
  used: { "requests.cpu": "250m", pods: "3" }
}

const tenant = (name: string, plan: string, status?: object): KubeObject => ({
  apiVersion: "kleff.kleff.io/v1",
  kind: "Tenant",
  metadata: { name },
  spec: { plan, userId: "u", username: name },
  ...(status === undefined ? {} : { status })
})

const row = (name: string, fields: Partial<StatusRow>): StatusRow => ({
  name,
  plan: "-",
  namespace: "-",
  ready: "Unknown",
  reason: "-",
  cpu: "-",
  memory: "-",
  pods: "-",
  ...fields
})

describe("status", () => {
  const ready = tenant("acme", "basic", { namespace: "tenant-acme", conditions: allReady, usage })
  const stuck = tenant("zeta", "gold", {
    namespace: "tenant-zeta",
    conditions: [
      condition("TenantReady", "False", "PlanNotFound"),
      condition("NamespaceReady", "True", "NamespaceProvisioned"),
      condition("PlanApplied", "False", "PlanNotFound"),
      condition("AccessReady", "False", "NamespaceNotReady")
    ]
  })

  it("shows plan, namespace, readiness, the first failing condition's reason and usage from status.usage, by name", () => {
    assert.deepStrictEqual(statusRows([stuck, ready, tenant("new", "free")]), [
      row("acme", {
        plan: "basic",
        namespace: "tenant-acme",
        ready: "True",
        cpu: "250m/1",
        memory: "0/2Gi",
        pods: "3/20"
      }),
      row("new", { plan: "free" }),
      row("zeta", { plan: "gold", namespace: "tenant-zeta", ready: "False", reason: "PlanNotFound" })
    ])
  })

  it("prints a table whose columns line up", () => {
    const lines = statusTable(statusRows([ready, stuck])).split("\n")
    assert.strictEqual(lines.length, 3)
    assert.match(lines[0] ?? "", /^NAME\s+PLAN\s+NAMESPACE\s+READY\s+REASON\s+CPU\s+MEMORY\s+PODS$/)
    for (const title of ["PLAN", "REASON", "PODS"]) {
      const at = lines[0]?.indexOf(title)
      assert.isTrue(
        lines.slice(1).every((line) => line[(at ?? 0) - 1] === " " && line[at ?? 0] !== " "),
        `${title} lines up`
      )
    }
    assert.match(lines[1] ?? "", /^acme\s+basic\s+tenant-acme\s+True\s+-\s+250m\/1\s+0\/2Gi\s+3\/20$/)
    assert.match(lines[2] ?? "", /^zeta\s+gold\s+tenant-zeta\s+False\s+PlanNotFound\s+-\s+-\s+-$/)
  })
})

describeCluster("tenant-operator status, against the test cluster", () => {
  const admin = () => new Kubectl(kubeconfigPath ?? "")
  const status = (...args: ReadonlyArray<string>) =>
    runCommand(process.execPath, [operatorBin, "status", "--kubeconfig", kubeconfigPath ?? "", ...args])
  const patchStatus = (name: string, body: object) =>
    admin().ok([
      "patch",
      "tenant",
      name,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: body })
    ])

  it("lists Tenants with the status written for them, usage or not, as a table and as JSON", async () => {
    const kubectl = admin()
    // No operator may rewrite these statuses: hold the lock.
    const release = await lockCluster(kubectl.kubeconfig)
    const [ready, stuck, fresh] = [uniqueName("st"), uniqueName("st"), uniqueName("st")]
    try {
      // The shipped CRDs (status.usage among them), whatever an earlier run left installed.
      await installOperator(kubectl.kubeconfig)
      await kubectl.apply({
        yaml: toYaml([
          tenantObject(ready, { plan: "basic", userId: "u1", username: "one" }),
          tenantObject(stuck, { plan: "no-such-plan", userId: "u2", username: "two" }),
          tenantObject(fresh, { plan: "free", userId: "u3", username: "three" })
        ])
      })
      // Until the API server serves a CRD just updated, it prunes status.usage: write until it stays.
      await eventually(
        "status.usage kept by the API server",
        async () => {
          await patchStatus(ready, { namespace: `tenant-${ready}`, conditions: allReady, usage })
          return (await kubectl.get("tenant", ready)).status as { readonly usage?: unknown } | undefined
        },
        (written) => written?.usage !== undefined
      )
      await patchStatus(stuck, {
        conditions: tenantConditionTypes.map((type) =>
          type === "PlanApplied" || type === "TenantReady" || type === "NamespaceReady"
            ? condition(type, "False", "PlanNotFound")
            : condition(type, "False", "NamespaceNotReady")
        )
      })

      const json = await status("-o", "json")
      assert.strictEqual(json.code, 0, json.stderr)
      const ours = new Set([ready, stuck, fresh])
      const rows = (JSON.parse(json.stdout) as ReadonlyArray<StatusRow>).filter((each) => ours.has(each.name))
      assert.deepStrictEqual(
        rows,
        [
          row(ready, {
            plan: "basic",
            namespace: `tenant-${ready}`,
            ready: "True",
            cpu: "250m/1",
            memory: "0/2Gi",
            pods: "3/20"
          }),
          row(stuck, { plan: "no-such-plan", ready: "False", reason: "PlanNotFound" }),
          row(fresh, { plan: "free" })
        ].sort((a, b) => (a.name < b.name ? -1 : 1))
      )

      const table = await status()
      assert.strictEqual(table.code, 0, table.stderr)
      assert.match(table.stdout, /^NAME\s+PLAN\s+NAMESPACE\s+READY\s+REASON\s+CPU\s+MEMORY\s+PODS\n/)
      assert.match(
        table.stdout,
        new RegExp(`\\n${ready}\\s+basic\\s+tenant-${ready}\\s+True\\s+-\\s+250m/1\\s`)
      )
      assert.match(
        table.stdout,
        new RegExp(`\\n${stuck}\\s+no-such-plan\\s+-\\s+False\\s+PlanNotFound\\s+-\\s+-\\s+-\\n`)
      )

      // The CRD's default columns, as kubectl prints them, in an 80-column terminal.
      const get = await kubectl.ok(["get", "tenants", ready, stuck, fresh])
      const lines = get.trimEnd().split("\n")
      assert.match(lines[0] ?? "", /^NAME\s+PLAN\s+NAMESPACE\s+READY\s+REASON\s+AGE$/)
      assert.match(get, new RegExp(`\\n${ready}\\s+basic\\s+tenant-${ready}\\s+True\\s+Ready\\s+\\S+\\n`))
      assert.match(get, new RegExp(`\\n${stuck}\\s+no-such-plan\\s+False\\s+PlanNotFound\\s+\\S+\\n`))
      for (const line of lines) assert.isAtMost(line.length, 80, line)
      const wide = await kubectl.ok(["get", "tenants", ready, "-o", "wide"])
      assert.match(
        wide,
        /^NAME\s+PLAN\s+NAMESPACE\s+READY\s+REASON\s+PHASE\s+USER\s+PROTECTED\s+CPU\s+MEMORY\s+PODS\s+AGE\n/
      )
      // CPU and pods in use; memory has no `used` entry, so its cell is empty.
      assert.match(wide, /\sone\s+250m\s+3\s+\S+\n$/, wide)
    } finally {
      await kubectl.run(["delete", "tenants", ready, stuck, fresh, "--ignore-not-found", "--wait=false"])
      release()
    }
  }, 180_000)

  it.live("says which CRD to install when the API server does not serve a kind", () =>
    Effect.gen(function* () {
      const unserved = { ...TenantType, kind: "Tenantless", plural: "tenantlesses" }
      const error = yield* Effect.flip(listDefined(unserved))
      assert.strictEqual(error._tag, "KindNotServed")
      assert.include(
        error.message,
        "the CustomResourceDefinition tenantlesses.kleff.kleff.io is not installed. Install the operator's CRDs with `kubectl apply -k deploy`"
      )
    }).pipe(Effect.provide(clusterLayer()))
  )
})
