/**
 * End to end, Plans as an administrator changes them: editing a Plan re-reconciles every Tenant
 * on it, and a quota follows its plan exactly — a line the plan no longer has is removed from the
 * namespace's ResourceQuota, not left behind, whether the Plan was edited or the Tenant moved to
 * a smaller plan.
 */
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import {
  conditionOf,
  eventually,
  hasCondition,
  operatorMetrics,
  planQuota,
  quotaHard,
  sameEntries,
  samplePlanObject,
  tenantObject,
  toYaml,
  uniqueName,
  useSuite
} from "./harness.ts"

const stepTimeout = 240_000

describeCluster("Plans edited and switched, end to end (operator process + kubectl)", () => {
  // A refused write is retried after 5 minutes here: within a test, only a change can heal it.
  const suite = useSuite({
    adminKubeconfig: () => kubeconfigPath ?? "",
    operatorArgs: ["--refused-retry-seconds", "300"]
  })

  const createTenants = async (names: ReadonlyArray<string>, plan: string) => {
    for (const name of names) suite().tenants.add(name)
    await suite().kubectl.apply({
      yaml: toYaml(
        names.map((name) => tenantObject(name, { plan, userId: `user-${name}`, username: "planner" }))
      )
    })
    await suite().kubectl.ok([
      "wait",
      "--for=condition=TenantReady",
      ...names.map((name) => `tenant/${name}`),
      "--timeout=60s"
    ])
  }
  const quotaOf = (name: string) => suite().kubectl.find("resourcequota", "tenant-quota", `tenant-${name}`)

  it(
    "editing a Plan changes the quota of every Tenant on it, removed lines included",
    async () => {
      const { kubectl } = suite()
      const plan = uniqueName("e2e-edit")
      suite().plans.add(plan)
      const original = samplePlanObject("pro", plan)
      await kubectl.apply({ yaml: toYaml([original]) })
      const names = [uniqueName("e2e-edit-a"), uniqueName("e2e-edit-b")]
      await createTenants(names, plan)
      for (const name of names)
        assert.isTrue(sameEntries(quotaHard(await quotaOf(name)), planQuota(original)))

      // The administrator lowers pods and drops the jobs line.
      const { "count/jobs.batch": _dropped, ...rest } = planQuota(original) as Record<string, string>
      const edited: KubeObject = {
        ...original,
        spec: { ...(original.spec as object), quota: { ...rest, pods: "60" } }
      }
      await kubectl.apply({ yaml: toYaml([edited]) })
      for (const name of names) {
        await eventually(
          `the quota of ${name} to be the edited plan's`,
          () => quotaOf(name),
          (quota) => sameEntries(quotaHard(quota), planQuota(edited)),
          120_000
        )
        await eventually(
          `${name} to be Ready on the edited plan`,
          () => kubectl.get("tenant", name),
          (tenant) => hasCondition(tenant, "TenantReady", "True")
        )
      }
    },
    stepTimeout
  )

  it(
    "moving a Tenant to a plan with fewer quota lines removes the lines the new plan lacks",
    async () => {
      const { kubectl } = suite()
      const name = uniqueName("e2e-down")
      await createTenants([name], "pro")
      assert.isTrue(sameEntries(quotaHard(await quotaOf(name)), planQuota(samplePlanObject("pro"))))

      await kubectl.ok(["patch", "tenant", name, "--type=merge", "-p", '{"spec":{"plan":"basic"}}'])
      await eventually(
        "the quota to be exactly basic's (no count/jobs.batch left from pro)",
        () => quotaOf(name),
        (quota) => sameEntries(quotaHard(quota), planQuota(samplePlanObject("basic"))),
        120_000
      )
    },
    stepTimeout
  )

  it(
    "a Plan whose LimitRange the API server refuses: the Tenant says so in the server's words, nothing is retried hot, and fixing the Plan heals it",
    async () => {
      const { kubectl } = suite()
      const plan = uniqueName("e2e-refused")
      suite().plans.add(plan)
      const basic = samplePlanObject("basic", plan)
      const spec = basic.spec as { readonly limitRange: { readonly default: object } }
      // A default above the max: the Plan's schema allows it, the API server's LimitRange validation does not.
      const refused: KubeObject = {
        ...basic,
        spec: { ...spec, limitRange: { ...spec.limitRange, default: { cpu: "500m", memory: "2Gi" } } }
      }
      await kubectl.apply({ yaml: toYaml([refused]) })
      const name = uniqueName("e2e-refused")
      suite().tenants.add(name)
      await kubectl.apply({
        yaml: toYaml([tenantObject(name, { plan, userId: `user-${name}`, username: "refused" })])
      })

      const reported = await eventually(
        "the Tenant to report the refused LimitRange",
        () => kubectl.get("tenant", name),
        (tenant) => hasCondition(tenant, "TenantReady", "False", "WriteRefused")
      )
      const message = conditionOf(reported, "TenantReady")?.message ?? ""
      assert.include(message, "LimitRange")
      assert.include(message, "is invalid", "the API server's own message")
      assert.include(message, "2Gi")

      // Not a hot loop: over 20 s, no write attempt and no status write.
      const operator = suite().runningOperator
      const before = await operatorMetrics(operator)
      const version = reported?.metadata.resourceVersion
      await new Promise((resolve) => setTimeout(resolve, 20_000))
      const after = await operatorMetrics(operator)
      assert.isAtMost(after.writes - before.writes, 1, "writes in 20 s after a refusal")
      assert.strictEqual(
        (await kubectl.get("tenant", name))?.metadata.resourceVersion,
        version,
        "status rewritten"
      )

      // Fixing the Plan re-reconciles its Tenant at once (the reference index), not at the slow retry.
      await kubectl.apply({ yaml: toYaml([basic]) })
      await eventually(
        "the Tenant to be ready on the fixed plan",
        () => kubectl.get("tenant", name),
        (tenant) => hasCondition(tenant, "TenantReady", "True"),
        // Well before the slow retry (5 minutes after the refusal).
        60_000
      )
    },
    stepTimeout
  )
})
