/**
 * End to end, a crash: the operator process is killed (SIGKILL, as an OOM kill or a node loss
 * would) while it is provisioning several Tenants, Tenants are created and deleted while no
 * operator runs, and a new operator process picks everything up: every live Tenant converges,
 * every deleted one goes, and nothing is duplicated or orphaned.
 */
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import {
  eventually,
  hasCondition,
  namespaceFinalizer,
  planQuota,
  quotaHard,
  samplePlanObject,
  tenantObject,
  tenantStatus,
  toYaml,
  uniqueName,
  useSuite
} from "./harness.ts"

describeCluster("Operator killed mid-provision and restarted, end to end", () => {
  const suite = useSuite({ adminKubeconfig: () => kubeconfigPath ?? "" })
  const run = uniqueName("e2e-crash")
  const selector = `e2e.kleff.io/run=${run}`
  const tenantNames = Array.from({ length: 24 }, (_, index) => `${run}-${index}`)
  const tenants = (): Promise<ReadonlyArray<KubeObject>> =>
    suite()
      .kubectl.json<{ readonly items: ReadonlyArray<KubeObject> }>(["tenants", "-l", selector])
      .then((list) => list.items)

  it("converges after a SIGKILL mid-provision, including Tenants created and deleted while it was down", async () => {
    const { kubectl } = suite()
    // One worker, so provisioning 24 Tenants takes a while and the kill lands in the middle of it.
    await suite().runningOperator.stop()
    const first = await suite().startOperator(["--max-concurrent-reconciles", "1"])

    for (const name of tenantNames) suite().tenants.add(name)
    await kubectl.apply({
      yaml: toYaml(
        tenantNames.map((name) =>
          tenantObject(
            name,
            { plan: "basic", userId: `user-${name}`, username: "crash" },
            { "e2e.kleff.io/run": run }
          )
        )
      )
    })
    await eventually(
      "the operator to start on the Tenants",
      tenants,
      (items) => items.some((item) => item.metadata.finalizers?.includes(namespaceFinalizer) === true),
      60_000
    )
    const exit = await first.kill()
    assert.strictEqual(exit.signal, "SIGKILL")

    const atKill = await tenants()
    const readyAtKill = atKill.filter((item) => hasCondition(item, "TenantReady", "True")).length
    assert.isBelow(readyAtKill, tenantNames.length, "the kill came after provisioning had finished")

    // While no operator runs: two Tenants are deleted (their finalizers hold them) and two more created.
    const deleted = tenantNames.slice(0, 2)
    await kubectl.ok(["delete", "tenants", ...deleted, "--wait=false"])
    const added = [`${run}-late-0`, `${run}-late-1`]
    for (const name of added) suite().tenants.add(name)
    await kubectl.apply({
      yaml: toYaml(
        added.map((name) =>
          tenantObject(
            name,
            { plan: "basic", userId: `user-${name}`, username: "crash" },
            { "e2e.kleff.io/run": run }
          )
        )
      )
    })

    await suite().startOperator()
    const live = [...tenantNames.slice(2), ...added]
    await kubectl.ok([
      "wait",
      "--for=condition=TenantReady",
      ...live.map((name) => `tenant/${name}`),
      "--timeout=180s"
    ])
    await kubectl.ok(["wait", "--for=delete", ...deleted.map((name) => `tenant/${name}`), "--timeout=180s"])
    for (const name of deleted) suite().tenants.delete(name)

    const basicQuota = planQuota(samplePlanObject("basic"))
    for (const item of await tenants()) {
      const name = item.metadata.name
      assert.include(live, name)
      assert.strictEqual(tenantStatus(item).phase, "Active", name)
      assert.strictEqual(tenantStatus(item).namespace, `tenant-${name}`, name)
      assert.deepStrictEqual(
        quotaHard(await kubectl.get("resourcequota", "tenant-quota", `tenant-${name}`)),
        basicQuota,
        name
      )
    }
    // Exactly one namespace per live Tenant, each controlled by its Tenant; none for the deleted ones.
    const namespaces = await kubectl.json<{ readonly items: ReadonlyArray<KubeObject> }>([
      "namespaces",
      "-l",
      `kleff.io/tenant in (${[...live, ...deleted].join(",")})`
    ])
    const byTenant = new Map<string, Array<string>>()
    for (const ns of namespaces.items) {
      const owner = ns.metadata.labels?.["kleff.io/tenant"] ?? ""
      byTenant.set(owner, [...(byTenant.get(owner) ?? []), ns.metadata.name])
      assert.isUndefined(ns.metadata.deletionTimestamp, `${ns.metadata.name} is being deleted`)
      assert.strictEqual(
        ns.metadata.ownerReferences?.find((reference) => reference.controller === true)?.name,
        owner,
        `${ns.metadata.name} is not controlled by its Tenant`
      )
    }
    assert.deepStrictEqual(
      [...byTenant.keys()].sort(),
      [...live].sort(),
      "namespaces exist for exactly the live Tenants"
    )
    for (const name of live) assert.deepStrictEqual(byTenant.get(name), [`tenant-${name}`])
  }, 600_000)

  it("then deletes them all and stops on SIGTERM with exit code 0", async () => {
    const { kubectl } = suite()
    const names = [...suite().tenants]
    await kubectl.ok(["delete", "tenants", "-l", selector, "--wait=false"])
    await kubectl.ok(["wait", "--for=delete", ...names.map((name) => `tenant/${name}`), "--timeout=180s"])
    for (const name of names) {
      suite().tenants.delete(name)
      assert.isUndefined(await kubectl.find("namespace", `tenant-${name}`), `tenant-${name} was left behind`)
    }
    const operator = suite().runningOperator
    assert.deepStrictEqual(await operator.stop(), { code: 0, signal: null }, operator.output())
  }, 600_000)
})
