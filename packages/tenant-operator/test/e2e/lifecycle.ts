/**
 * The life of one Tenant as a user lives it, as a reusable scenario: install, start the operator,
 * `kubectl apply` the sample Tenant (under a unique name), `kubectl wait` for it, look at what
 * it got, change its plan, tamper with its quota, delete it and watch the namespace go first.
 * Call `lifecycleScenario` inside a `describe`; the operator may run with another identity than
 * kubectl (e.g. the deploy ServiceAccount's kubeconfig), so the same scenario proves its RBAC.
 * Assumes the default namespace template (`tenant-{name}`).
 */
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { parseDocument } from "yaml"
import { tenantConditionTypes } from "../../src/TenantStatus.ts"
import {
  conditionOf,
  eventually,
  hasCondition,
  namespaceFinalizer,
  planQuota,
  quotaHard,
  readRepoFile,
  readRepoYaml,
  type Suite,
  type SuiteOptions,
  sameEntries,
  samplePlanObject,
  tenantStatus,
  uniqueName,
  useSuite
} from "./harness.ts"

const stepTimeout = 180_000

interface PlanSpec {
  readonly podSecurity: string
  readonly istioInjection: boolean
  readonly limitRange: {
    readonly default: Readonly<Record<string, string>>
    readonly defaultRequest: Readonly<Record<string, string>>
    readonly max: Readonly<Record<string, string>>
  }
}

const planSpec = (plan: KubeObject): PlanSpec => plan.spec as PlanSpec

/** What one observation of a deletion in progress saw: the Tenant first, then its namespace. */
interface DeletionSample {
  readonly tenant: "present" | "deleting" | "gone"
  readonly tenantPhase: string | undefined
  readonly finalizer: boolean
  readonly namespace: "present" | "terminating" | "gone"
}

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/**
 * Registers the scenario's hooks and steps in the current `describe`, and returns its suite (the
 * operator process and its log) for checks of the caller's own, e.g. in an `afterAll`.
 */
export const lifecycleScenario = (options: SuiteOptions): (() => Suite) => {
  const suite = useSuite(options)
  const sample = readRepoYaml("deploy/samples/tenant.yaml")
  const sampleSpec = sample.spec as { readonly username: string; readonly userId: string }
  const basic = samplePlanObject("basic")
  const pro = samplePlanObject("pro")
  const name = uniqueName("e2e-life")
  const namespace = `tenant-${name}`

  const tenant = () => suite().kubectl.get("tenant", name)
  const quota = () => suite().kubectl.find("resourcequota", "tenant-quota", namespace)

  it(
    `applies the sample Tenant as ${name} and kubectl wait sees it TenantReady`,
    async () => {
      const { kubectl } = suite()
      // The sample, changing only metadata.name.
      const manifest = parseDocument(readRepoFile("deploy/samples/tenant.yaml"))
      manifest.setIn(["metadata", "name"], name)
      const file = suite().writeManifest(`${name}.yaml`, manifest.toString())
      suite().tenants.add(name)

      assert.include(await kubectl.ok(["apply", "-f", file]), `tenant.kleff.kleff.io/${name} created`)
      const waited = await kubectl.ok([
        "wait",
        "--for=condition=TenantReady",
        `tenant/${name}`,
        "--timeout=60s"
      ])
      assert.include(waited, "condition met")
    },
    stepTimeout
  )

  it("reports the namespace, phase Active and every condition True for the current generation", async () => {
    const object = await tenant()
    const status = tenantStatus(object)
    assert.strictEqual(status.namespace, namespace)
    assert.strictEqual(status.phase, "Active")
    assert.strictEqual(status.observedGeneration, object.metadata.generation)
    for (const type of tenantConditionTypes) {
      assert.isTrue(
        hasCondition(object, type, "True"),
        `${type} should be True: ${JSON.stringify(conditionOf(object, type))}`
      )
    }
    assert.include(object.metadata.finalizers ?? [], namespaceFinalizer)
  })

  it(`provisions namespace ${namespace}, owned by the Tenant and labelled as TENANT-API.md says`, async () => {
    const { kubectl } = suite()
    const owner = await tenant()
    const ns = await kubectl.get("namespace", namespace)
    const labels = ns.metadata.labels ?? {}
    const expected = {
      "kleff.io/tenant": name,
      "kleff.io/tenant-username": sampleSpec.username,
      "kleff.io/tenant-plan": "basic",
      "istio-injection": planSpec(basic).istioInjection ? "enabled" : "disabled",
      "app.kubernetes.io/managed-by": "kleff-tenant-operator",
      "pod-security.kubernetes.io/enforce": planSpec(basic).podSecurity
    }
    assert.deepStrictEqual(
      Object.fromEntries(Object.keys(expected).map((key) => [key, labels[key]])),
      expected,
      `labels: ${JSON.stringify(labels)}`
    )
    const controller = ns.metadata.ownerReferences?.find((reference) => reference.controller === true)
    assert.deepStrictEqual(
      { kind: controller?.kind, name: controller?.name, uid: controller?.uid },
      { kind: "Tenant", name, uid: owner.metadata.uid }
    )
  })

  it("gives the namespace the basic plan's ResourceQuota and LimitRange", async () => {
    const { kubectl } = suite()
    assert.deepStrictEqual(quotaHard(await quota()), planQuota(basic))
    const limits = await kubectl.get("limitrange", "tenant-limits", namespace)
    const { limitRange } = planSpec(basic)
    assert.deepStrictEqual((limits.spec as { readonly limits: unknown }).limits, [
      {
        type: "Container",
        default: limitRange.default,
        defaultRequest: limitRange.defaultRequest,
        max: limitRange.max
      }
    ])
  })

  it("shows Plan, Namespace, Ready and Reason in kubectl get tenants", async () => {
    const { kubectl } = suite()
    const table = (await kubectl.ok(["get", "tenants"])).trimEnd().split("\n")
    assert.match(table[0] ?? "", /^NAME\s+PLAN\s+NAMESPACE\s+READY\s+REASON\s+AGE$/)
    const row = table.find((line) => line.startsWith(`${name} `))
    assert.isDefined(row, `no row for ${name} in:\n${table.join("\n")}`)
    assert.match(row ?? "", new RegExp(`^${name}\\s+basic\\s+${namespace}\\s+True\\s+Ready\\s+\\S+$`))
    // The short name, as users type it.
    assert.match(await kubectl.ok(["get", "tn", name, "--no-headers"]), new RegExp(`^${name}\\s+basic\\s`))
  })

  it(
    "follows a change of plan: the quota and the namespace's labels become pro's",
    async () => {
      const { kubectl } = suite()
      await kubectl.ok(["patch", "tenant", name, "--type=merge", "-p", '{"spec":{"plan":"pro"}}'])
      await eventually(
        "the quota to become pro's",
        quota,
        (object) => sameEntries(quotaHard(object), planQuota(pro)),
        120_000
      )
      assert.deepStrictEqual(quotaHard(await quota()), planQuota(pro))
      const labels = (await kubectl.get("namespace", namespace)).metadata.labels ?? {}
      assert.strictEqual(labels["kleff.io/tenant-plan"], "pro")
      assert.strictEqual(labels["pod-security.kubernetes.io/enforce"], planSpec(pro).podSecurity)
      const object = await eventually(
        "the Tenant to report the new generation Ready",
        tenant,
        (current) =>
          current.metadata.generation === 2 &&
          tenantStatus(current).observedGeneration === 2 &&
          hasCondition(current, "TenantReady", "True")
      )
      assert.strictEqual(conditionOf(object, "PlanApplied")?.message.includes('"pro"'), true)
    },
    stepTimeout
  )

  it(
    "repairs drift: a quota edited by hand and a deleted LimitRange come back as the plan says",
    async () => {
      const { kubectl } = suite()
      await kubectl.ok([
        "patch",
        "resourcequota",
        "tenant-quota",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"hard":{"pods":"999","requests.cpu":"64"}}}'
      ])
      await kubectl.ok(["delete", "limitrange", "tenant-limits", "-n", namespace])
      await eventually(
        "the quota to be pro's again",
        quota,
        (object) => sameEntries(quotaHard(object), planQuota(pro)),
        120_000
      )
      await eventually(
        "the LimitRange to be back",
        () => kubectl.find("limitrange", "tenant-limits", namespace),
        (object) => object !== undefined,
        120_000
      )
      const limits = await kubectl.get("limitrange", "tenant-limits", namespace)
      const [item] = (limits.spec as { readonly limits: ReadonlyArray<{ readonly max: unknown }> }).limits
      assert.deepStrictEqual(item?.max, planSpec(pro).limitRange.max)
      await kubectl.ok(["wait", "--for=condition=TenantReady", `tenant/${name}`, "--timeout=60s"])
    },
    stepTimeout
  )

  it(
    "on delete, removes the namespace first and only then the Tenant",
    async () => {
      const { kubectl } = suite()
      assert.include(
        await kubectl.ok(["delete", "tenant", name, "--wait=false"]),
        `tenant.kleff.kleff.io "${name}" deleted`
      )
      const samples: Array<DeletionSample> = []
      const deadline = Date.now() + 150_000
      for (;;) {
        // The Tenant first: if it is gone, the namespace must already have been gone.
        const current = await kubectl.find("tenant", name)
        const ns = await kubectl.find("namespace", namespace)
        samples.push({
          tenant:
            current === undefined
              ? "gone"
              : current.metadata.deletionTimestamp === undefined
                ? "present"
                : "deleting",
          tenantPhase: tenantStatus(current).phase,
          finalizer: current?.metadata.finalizers?.includes(namespaceFinalizer) ?? false,
          namespace:
            ns === undefined
              ? "gone"
              : ns.metadata.deletionTimestamp === undefined
                ? "present"
                : "terminating"
        })
        if (current === undefined && ns === undefined) break
        if (Date.now() > deadline)
          assert.fail(`the deletion did not finish:\n${JSON.stringify(samples.slice(-5))}`)
        await sleep(100)
      }
      const trace = JSON.stringify(samples.slice(0, 20))
      assert.isFalse(
        samples.some((sample) => sample.tenant === "gone" && sample.namespace !== "gone"),
        `the Tenant went before its namespace: ${trace}`
      )
      assert.isTrue(
        samples.some(
          (sample) =>
            sample.tenant === "deleting" &&
            sample.finalizer &&
            sample.tenantPhase === "Terminating" &&
            sample.namespace === "terminating"
        ),
        `never saw the Tenant Terminating with its finalizer while the namespace was terminating: ${trace}`
      )
      assert.isFalse(
        samples.some((sample) => sample.tenant === "present"),
        `the Tenant lost its deletionTimestamp: ${trace}`
      )
      suite().tenants.delete(name)
    },
    stepTimeout
  )

  it(
    "stops on SIGTERM with exit code 0, having logged no error in the whole lifecycle",
    async () => {
      const operator = suite().runningOperator
      const exit = await operator.stop()
      assert.deepStrictEqual(exit, { code: 0, signal: null }, operator.output())
      const logs = operator.logs()
      assert.isTrue(
        logs.some((line) => line.message === "Stopped"),
        `no "Stopped" line: the stop was not graceful\n${operator.output()}`
      )
      assert.deepStrictEqual(
        operator.errors(),
        [],
        `ERROR lines in the operator's log:\n${operator.output()}`
      )
    },
    stepTimeout
  )
  return suite
}
