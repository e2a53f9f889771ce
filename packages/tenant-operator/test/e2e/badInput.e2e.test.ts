/**
 * End to end, bad input: what a user gets back, through kubectl, when a Tenant cannot be served
 * as asked — an unknown plan, a namespace that is someone else's, an invalid username, a Tenant
 * deleted while it is still being provisioned, a Plan deleted under its Tenants. The operator runs
 * as a separate process; every object is uniquely named, and removed when the file ends.
 */
import { assert, describe, it } from "@effect/vitest"
import { describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import {
  conditionOf,
  eventually,
  hasCondition,
  planQuota,
  quotaHard,
  samplePlanObject,
  tenantObject,
  tenantStatus,
  toYaml,
  uniqueName,
  useSuite
} from "./harness.ts"

const stepTimeout = 240_000

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

describeCluster("Tenants with bad input, end to end (operator process + kubectl)", () => {
  const suite = useSuite({ adminKubeconfig: () => kubeconfigPath ?? "" })

  const applyTenant = async (name: string, plan: string, username = "someone") => {
    suite().tenants.add(name)
    return suite().kubectl.apply({
      yaml: toYaml([tenantObject(name, { plan, userId: `user-${name}`, username })])
    })
  }
  const tenant = (name: string) => suite().kubectl.get("tenant", name)
  const namespaceOf = (name: string) => suite().kubectl.find("namespace", `tenant-${name}`)

  describe("an unknown plan", () => {
    it(
      "is reported as PlanApplied=False, reason PlanNotFound, and provisions nothing",
      async () => {
        const name = uniqueName("e2e-noplan")
        const plan = uniqueName("e2e-later")
        suite().plans.add(plan)
        await applyTenant(name, plan)
        const reported = await eventually(
          "PlanApplied=False with reason PlanNotFound",
          () => tenant(name),
          (object) => hasCondition(object, "PlanApplied", "False", "PlanNotFound")
        )
        assert.isTrue(hasCondition(reported, "TenantReady", "False"), JSON.stringify(reported.status))
        assert.include(conditionOf(reported, "PlanApplied")?.message ?? "", `Plan "${plan}" does not exist`)
        assert.strictEqual(tenantStatus(reported).phase, "Failed")
        assert.isUndefined(await namespaceOf(name), "no namespace while the plan is unknown")

        // The administrator creates the Plan: the Tenant is provisioned without being touched.
        await suite().kubectl.apply({ yaml: toYaml([samplePlanObject("basic", plan)]) })
        await suite().kubectl.ok(["wait", "--for=condition=TenantReady", `tenant/${name}`, "--timeout=60s"])
        const quota = await suite().kubectl.get("resourcequota", "tenant-quota", `tenant-${name}`)
        assert.deepStrictEqual(quotaHard(quota), planQuota(samplePlanObject("basic")))
        assert.strictEqual(tenantStatus(await tenant(name)).phase, "Active")
      },
      stepTimeout
    )
  })

  describe("a namespace that already exists and is not the Tenant's", () => {
    it(
      "is a NamespaceConflict; the namespace is never touched, and deleting the Tenant leaves it be",
      async () => {
        const { kubectl } = suite()
        const name = uniqueName("e2e-clash")
        const namespace = `tenant-${name}`
        suite().namespaces.add(namespace)
        await kubectl.ok(["create", "namespace", namespace])
        await kubectl.ok(["label", "namespace", namespace, "e2e.kleff.io/owner=someone-else"])
        const before = await kubectl.get("namespace", namespace)

        await applyTenant(name, "basic")
        const reported = await eventually(
          "NamespaceReady=False with reason NamespaceConflict",
          () => tenant(name),
          (object) => hasCondition(object, "NamespaceReady", "False", "NamespaceConflict")
        )
        assert.isTrue(hasCondition(reported, "TenantReady", "False", "NamespaceConflict"))
        assert.strictEqual(tenantStatus(reported).phase, "Failed")
        assert.isUndefined(
          tenantStatus(reported).namespace,
          "a namespace that is not the tenant's is never reported"
        )

        const after = await kubectl.get("namespace", namespace)
        assert.deepStrictEqual(after.metadata.labels, before.metadata.labels)
        assert.isUndefined(after.metadata.ownerReferences)
        assert.strictEqual(
          after.metadata.resourceVersion,
          before.metadata.resourceVersion,
          "not written at all"
        )
        assert.strictEqual(
          (await kubectl.ok(["get", "resourcequotas,limitranges", "-n", namespace])).trim(),
          ""
        )

        // Deleting the Tenant releases it (kubectl delete waits for it to be gone) and keeps the namespace.
        await kubectl.ok(["delete", "tenant", name, "--timeout=60s"])
        suite().tenants.delete(name)
        const kept = await kubectl.get("namespace", namespace)
        assert.isUndefined(kept.metadata.deletionTimestamp, "the foreign namespace is not deleted")
        assert.strictEqual(kept.metadata.uid, before.metadata.uid)
        assert.deepStrictEqual(kept.metadata.labels, before.metadata.labels)
      },
      stepTimeout
    )
  })

  describe("an invalid username", () => {
    it("is refused by the API server at kubectl apply, naming the field and the rule", async () => {
      const { kubectl } = suite()
      const name = uniqueName("e2e-badname")
      const yaml = toYaml([
        tenantObject(name, { plan: "basic", userId: `user-${name}`, username: "Bad_Name" })
      ])
      const run = await kubectl.run(["apply", "-f", "-"], yaml)
      assert.notStrictEqual(run.code, 0, run.stdout)
      assert.include(run.stderr, `The Tenant "${name}" is invalid`)
      assert.include(run.stderr, 'spec.username: Invalid value: "Bad_Name"')
      assert.include(run.stderr, "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'")
      assert.isUndefined(await kubectl.find("tenant", name))
    })
  })

  describe("a Tenant deleted while it is being provisioned", () => {
    it(
      "goes, and so does everything it had got: no namespace is left behind",
      async () => {
        const { kubectl } = suite()
        // Deleted right after creation, and a little later: before, during and after provisioning.
        const names = [0, 0, 50, 100, 200, 400, 800].map((delay) => ({ name: uniqueName("e2e-gone"), delay }))
        await Promise.all(
          names.map(async ({ name, delay }) => {
            await applyTenant(name, "basic")
            if (delay > 0) await sleep(delay)
            await kubectl.ok(["delete", "tenant", name, "--wait=false"])
          })
        )
        await kubectl.ok([
          "wait",
          "--for=delete",
          ...names.map(({ name }) => `tenant/${name}`),
          "--timeout=180s"
        ])
        for (const { name } of names) {
          suite().tenants.delete(name)
          assert.isUndefined(await namespaceOf(name), `tenant-${name} outlived its Tenant`)
        }
        // Nothing comes back afterwards either (a late reconcile must not re-create a namespace).
        await sleep(3_000)
        for (const { name } of names) assert.isUndefined(await namespaceOf(name), `tenant-${name} came back`)
        const leftovers = await kubectl.ok([
          "get",
          "namespaces",
          "-l",
          `kleff.io/tenant in (${names.map(({ name }) => name).join(",")})`,
          "-o",
          "name"
        ])
        assert.strictEqual(leftovers.trim(), "")
      },
      stepTimeout
    )
  })

  describe("a Plan deleted while Tenants use it", () => {
    it(
      "is reported as PlanNotFound and the quota stays as it was; restoring the Plan makes it Ready",
      async () => {
        const { kubectl } = suite()
        const name = uniqueName("e2e-orphan")
        const namespace = `tenant-${name}`
        const plan = uniqueName("e2e-gold")
        const planYaml = toYaml([samplePlanObject("pro", plan)])
        suite().plans.add(plan)
        await kubectl.apply({ yaml: planYaml })
        await applyTenant(name, plan)
        await kubectl.ok(["wait", "--for=condition=TenantReady", `tenant/${name}`, "--timeout=60s"])
        const quotaBefore = await kubectl.get("resourcequota", "tenant-quota", namespace)
        assert.deepStrictEqual(quotaHard(quotaBefore), planQuota(samplePlanObject("pro")))
        const limitsBefore = await kubectl.get("limitrange", "tenant-limits", namespace)

        await kubectl.ok(["delete", "plan", plan])
        const reported = await eventually(
          "PlanApplied=False with reason PlanNotFound",
          () => tenant(name),
          (object) => hasCondition(object, "PlanApplied", "False", "PlanNotFound")
        )
        assert.isTrue(hasCondition(reported, "TenantReady", "False"))
        assert.strictEqual(tenantStatus(reported).namespace, namespace)
        // Never a silent quota removal: the quota and limits are kept exactly as they were.
        const quotaAfter = await kubectl.get("resourcequota", "tenant-quota", namespace)
        assert.strictEqual(quotaAfter.metadata.uid, quotaBefore.metadata.uid)
        assert.deepStrictEqual(quotaHard(quotaAfter), quotaHard(quotaBefore))
        const limitsAfter = await kubectl.get("limitrange", "tenant-limits", namespace)
        assert.deepStrictEqual(limitsAfter.spec, limitsBefore.spec)
        assert.isDefined(await namespaceOf(name))

        await kubectl.apply({ yaml: planYaml })
        const ready = await eventually(
          "TenantReady=True once the Plan is back",
          () => tenant(name),
          (object) => hasCondition(object, "TenantReady", "True")
        )
        assert.strictEqual(tenantStatus(ready).phase, "Active")
        assert.deepStrictEqual(
          quotaHard(await kubectl.get("resourcequota", "tenant-quota", namespace)),
          planQuota(samplePlanObject("pro"))
        )
      },
      stepTimeout
    )
  })
})
