/**
 * End to end, field ownership as a platform engineer meets it: a Plan edit that only removes
 * something (a quota line, a LimitRange entry, an allowed registry) is shown by `tenant-operator
 * plan` before it happens and applied within seconds once the operator runs; what an administrator
 * adds by hand to a managed object (another field manager) is left alone, with no write and no
 * drift reported.
 */
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import {
  eventually,
  hasCondition,
  operatorBin,
  planQuota,
  quotaHard,
  runCommand,
  sameEntries,
  samplePlanObject,
  tenantObject,
  toYaml,
  uniqueName,
  useSuite
} from "./harness.ts"

const stepTimeout = 240_000

interface PlanSpec {
  readonly quota: Readonly<Record<string, string>>
  readonly limitRange: { readonly max: Readonly<Record<string, string>> }
  readonly allowedRegistries: ReadonlyArray<string>
}

const specOf = (plan: KubeObject): PlanSpec => plan.spec as PlanSpec

/** A pod the tenant could run, for a server-side dry run against its namespace's admission. */
const pod = (namespace: string, image: string) =>
  toYaml([
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "probe", namespace },
      spec: { containers: [{ name: "app", image }] }
    }
  ])

describeCluster("Field ownership, end to end (operator process + kubectl)", () => {
  const suite = useSuite({ adminKubeconfig: () => kubeconfigPath ?? "" })

  const createTenant = async (name: string, plan: string) => {
    suite().tenants.add(name)
    await suite().kubectl.apply({
      yaml: toYaml([tenantObject(name, { plan, userId: `user-${name}`, username: "owner" })])
    })
    await suite().kubectl.ok(["wait", "--for=condition=TenantReady", `tenant/${name}`, "--timeout=60s"])
  }

  const planCommand = (tenant: string) =>
    runCommand(process.execPath, [operatorBin, "plan", tenant, "--kubeconfig", suite().kubectl.kubeconfig])

  it(
    "a Plan edit that only removes a quota line, a LimitRange entry and a registry: planned, then applied",
    async () => {
      const { kubectl } = suite()
      const planName = uniqueName("e2e-own")
      suite().plans.add(planName)
      await kubectl.apply({ yaml: toYaml([samplePlanObject("pro", planName)]) })
      const name = uniqueName("e2e-own")
      const namespace = `tenant-${name}`
      await createTenant(name, planName)
      const quotaOf = () => kubectl.get("resourcequota", "tenant-quota", namespace)
      const limitsOf = async () => {
        const limitRange = await kubectl.get("limitrange", "tenant-limits", namespace)
        return (limitRange.spec as { limits: ReadonlyArray<{ max?: Record<string, string> }> }).limits[0]
      }
      assert.strictEqual(quotaHard(await quotaOf()) !== undefined, true)
      assert.isDefined((await limitsOf())?.max?.memory)
      const allowed = await kubectl.run(
        ["apply", "--dry-run=server", "-f", "-"],
        pod(namespace, "quay.io/acme/web:1")
      )
      assert.strictEqual(allowed.code, 0, allowed.stderr)

      // With the operator stopped, the administrator removes three things and changes nothing else.
      await suite().runningOperator.stop()
      await kubectl.ok([
        "patch",
        "plan",
        planName,
        "--type=json",
        "-p",
        JSON.stringify([
          { op: "remove", path: "/spec/quota/services" },
          { op: "remove", path: "/spec/limitRange/max/memory" },
          { op: "remove", path: "/spec/allowedRegistries/3" }
        ])
      ])
      const edited = await kubectl.get("plan", planName)
      assert.notInclude(specOf(edited).allowedRegistries, "quay.io/")

      // `plan` shows both removals before anything is written.
      const dryRun = await planCommand(name)
      assert.strictEqual(dryRun.code, 0, dryRun.stderr)
      assert.match(
        dryRun.stdout,
        /~ update ResourceQuota \S+\/tenant-quota: removes spec\.hard\.services \(now "50"\)/
      )
      assert.match(
        dryRun.stdout,
        /~ update LimitRange \S+\/tenant-limits: removes spec\.limits\[0\]\.max\.memory/
      )
      assert.include(
        (await quotaHard(await quotaOf())) as Record<string, string>,
        { services: "50" },
        "plan wrote nothing"
      )

      // The registry is the policy's parameter, read by the API server itself: refused at once.
      const refused = await kubectl.run(
        ["apply", "--dry-run=server", "-f", "-"],
        pod(namespace, "quay.io/acme/web:1")
      )
      assert.notStrictEqual(refused.code, 0)
      assert.include(refused.stderr, "quay.io/acme/web:1")

      await suite().startOperator()
      await eventually(
        "the quota to be exactly the edited plan's (services gone)",
        quotaOf,
        (quota) => sameEntries(quotaHard(quota), planQuota(edited)),
        60_000
      )
      await eventually(
        "the LimitRange max to lose memory",
        limitsOf,
        (limits) =>
          limits?.max?.memory === undefined && limits?.max?.cpu === specOf(edited).limitRange.max.cpu,
        60_000
      )
      await eventually(
        "PlanApplied on the edited plan",
        () => kubectl.get("tenant", name),
        (tenant) => hasCondition(tenant, "PlanApplied", "True") && hasCondition(tenant, "TenantReady", "True")
      )
      const after = await planCommand(name)
      assert.include(after.stdout, "nothing to change")
    },
    stepTimeout
  )

  it(
    "what an administrator adds by hand to a managed object is left alone: no write, no drift",
    async () => {
      const { kubectl } = suite()
      const name = uniqueName("e2e-hand")
      const namespace = `tenant-${name}`
      await createTenant(name, "basic")
      await kubectl.ok([
        "patch",
        "resourcequota",
        "tenant-quota",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"hard":{"count/poddisruptionbudgets.policy":"7"}}}'
      ])
      await kubectl.ok(["label", "namespace", namespace, "team.example.com/owner=blue"])
      const quotaVersion = (await kubectl.get("resourcequota", "tenant-quota", namespace)).metadata
        .resourceVersion
      const namespaceVersion = (await kubectl.get("namespace", namespace)).metadata.resourceVersion

      // A change to the Tenant that reconciles it without changing what it desires.
      await kubectl.ok(["annotate", "tenant", name, "example.com/touched=1"])
      const planned = await planCommand(name)
      assert.include(planned.stdout, "nothing to change")
      // Give the operator time to reconcile the touch (its own status write shows it did).
      await eventually(
        "the operator to have reconciled the touched Tenant",
        () => kubectl.get("tenant", name),
        (tenant) => hasCondition(tenant, "PlanApplied", "True"),
        30_000
      )
      await new Promise((resolve) => setTimeout(resolve, 3_000))
      const quota = await kubectl.get("resourcequota", "tenant-quota", namespace)
      assert.strictEqual(quota.metadata.resourceVersion, quotaVersion, "the quota was written")
      assert.strictEqual(
        (quotaHard(quota) as Record<string, string>)["count/poddisruptionbudgets.policy"],
        "7"
      )
      const ns = await kubectl.get("namespace", namespace)
      assert.strictEqual(ns.metadata.resourceVersion, namespaceVersion, "the namespace was written")
      assert.strictEqual(ns.metadata.labels?.["team.example.com/owner"], "blue")
      const tenant = await kubectl.get("tenant", name)
      assert.isTrue(hasCondition(tenant, "TenantReady", "True"))
    },
    stepTimeout
  )
})
