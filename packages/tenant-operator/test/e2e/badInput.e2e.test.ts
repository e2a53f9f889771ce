/**
 * End to end, bad input: what a user gets back, through kubectl, when a Tenant cannot be served
 * as asked — an unknown plan, a namespace that is someone else's, an invalid username, a Tenant
 * deleted while it is still being provisioned, a Plan deleted under its Tenants — and, fuzzed,
 * Tenants and Plans written past the CRD's validation (under an older CRD without a schema): each
 * gets its conditions with a reason, the operator neither crashes nor loops, the control Tenant
 * is not disturbed and nothing but the bad Tenants is written. The operator runs as a separate
 * process; every object is uniquely named, and removed when the file ends.
 */
import { randomBytes } from "node:crypto"
import { afterAll, assert, beforeAll, describe, it, layer } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { Client } from "@kleff/k8s"
import { Effect } from "effect"
import { clusterLayer, describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import { tenantConditionTypes } from "../../src/TenantStatus.ts"
import {
  batch as badBatch,
  type ExpectedReason,
  fuzzBatchLabel,
  fuzzRunLabel,
  materialize
} from "./badBodies.ts"
import {
  conditionOf,
  eventually,
  hasCondition,
  type LogLine,
  namespaceFinalizer,
  operatorMetrics,
  operatorWritesBetween,
  planQuota,
  quotaHard,
  samplePlanObject,
  tenantAndChildren,
  tenantObject,
  tenantStatus,
  toYaml,
  uniqueName,
  useSuite,
  type Written,
  writtenByOperator
} from "./harness.ts"
import {
  crdsInForce,
  installPermissiveCrds,
  installShippedCrds,
  rawPlans,
  rawTenants,
  whileUnavailable
} from "./permissiveCrds.ts"

const stepTimeout = 240_000

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** metav1.Condition's rule for a reason. */
const conditionReason = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/

/** Everything a bad Tenant's status must say; the failures, for an assertion message. */
const statusProblems = (tenant: KubeObject, expected: ExpectedReason): ReadonlyArray<string> => {
  const status = tenantStatus(tenant)
  const problems: Array<string> = []
  for (const type of tenantConditionTypes) {
    const condition = conditionOf(tenant, type)
    if (condition === undefined) {
      problems.push(`no ${type} condition`)
      continue
    }
    if (!conditionReason.test(condition.reason))
      problems.push(`${type} has the reason ${JSON.stringify(condition.reason)}`)
    if (condition.observedGeneration !== tenant.metadata.generation)
      problems.push(`${type} is for another generation`)
    if (new TextEncoder().encode(condition.message).length > 32_768)
      problems.push(`${type}'s message is too long`)
    if (expected === "InvalidSpec" && condition.reason !== "InvalidSpec")
      problems.push(`${type} says ${condition.reason}`)
  }
  const ready = conditionOf(tenant, "TenantReady")
  if (ready !== undefined && (ready.status !== "False" || ready.reason !== expected)) {
    problems.push(`TenantReady is ${ready.status} ${ready.reason}, not False ${expected}`)
  }
  if (status.phase !== "Failed") problems.push(`phase ${status.phase}`)
  if (status.namespace !== undefined) problems.push(`status.namespace is ${status.namespace}`)
  const finalizer = tenant.metadata.finalizers?.includes(namespaceFinalizer) === true
  if (finalizer !== (expected !== "InvalidSpec"))
    problems.push(`the finalizer is ${finalizer ? "held" : "missing"}`)
  return problems
}

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
  layer(clusterLayer(), { excludeTestServices: true })(
    "Tenants and Plans written past the CRD's validation (fuzzed, under an older CRD without a schema)",
    (it) => {
      const kubectl = () => suite().kubectl
      const run = randomBytes(2).toString("hex")
      const runSelector = `${fuzzRunLabel}=${run}`
      const controlPlan = uniqueName("e2e-fz-plan")
      const control = uniqueName("e2e-fz-control")
      let controlBefore: Readonly<Record<string, string>> = {}
      let writtenBefore: ReadonlyMap<string, Written> = new Map()
      /** The operator's log lines before the fuzz: the ones after are the fuzz's. */
      let logMark = 0
      let batches = 0
      let cases = 0

      const operator = () => suite().runningOperator
      const errorsIn = (lines: ReadonlyArray<LogLine>) =>
        lines.filter(
          (line) => line.level === "ERROR" || line.level === "FATAL" || /defect/i.test(String(line.message))
        )
      const newErrors = () => errorsIn(operator().logs().slice(logMark))

      /**
       * Fails (with what the operator said) as soon as the operator has exited, or has logged an
       * error since `mark` that is about one of `names` or about no Tenant in particular (a shrunk
       * case must fail on its own, not on what an earlier case left in the log).
       */
      const operatorHealthy = (mark: number, names: ReadonlyArray<string>) =>
        Effect.suspend(() => {
          if (!operator().isRunning()) {
            return Effect.fail(new Error(`the operator exited:\n${operator().output().slice(-4_000)}`))
          }
          const errors = errorsIn(operator().logs().slice(mark)).filter((line) => {
            const key = line.annotations?.key
            return typeof key !== "string" || names.some((name) => key.endsWith(`/${name}`))
          })
          return errors.length === 0
            ? Effect.void
            : Effect.fail(
                new Error(
                  `the operator logged:\n${JSON.stringify(errors.slice(0, 2), null, 1).slice(0, 4_000)}`
                )
              )
        })

      beforeAll(async () => {
        // A well-formed Tenant on a Plan of its own, provisioned before the fuzz starts.
        suite().plans.add(controlPlan)
        suite().tenants.add(control)
        await kubectl().apply({
          yaml: toYaml([
            samplePlanObject("basic", controlPlan),
            tenantObject(control, { plan: controlPlan, userId: `user-${control}`, username: "control" })
          ])
        })
        await kubectl().ok(["wait", "--for=condition=TenantReady", `tenant/${control}`, "--timeout=90s"])
        // The usage controller's first write comes once the API server has counted the quota.
        await kubectl().ok([
          "wait",
          "--for=jsonpath={.status.usage.hard.pods}",
          `tenant/${control}`,
          "--timeout=90s"
        ])
        controlBefore = await tenantAndChildren(kubectl(), control)
        writtenBefore = await writtenByOperator(kubectl())
        logMark = operator().logs().length
        await installPermissiveCrds(kubectl())
      }, 180_000)

      afterAll(async () => {
        // Whatever happened above: no fuzz object is left, and the shipped CRDs are back.
        const left = async () =>
          (await kubectl().ok(["get", "tenants,plans", "-l", runSelector, "-o", "name"]))
            .split("\n")
            .filter(Boolean)
        await kubectl().ok([
          "delete",
          "tenants,plans",
          "-l",
          runSelector,
          "--ignore-not-found",
          "--wait=false"
        ])
        const remaining = await eventually(
          "the fuzz objects to go",
          left,
          (names) => names.length === 0,
          60_000
        ).catch(() => undefined)
        if (remaining === undefined) {
          // Held by a finalizer the operator did not release: let go of it under the permissive CRDs.
          await installPermissiveCrds(kubectl())
          for (const name of await left()) {
            await kubectl().run(["patch", name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}'])
          }
          await eventually("the fuzz objects to go", left, (names) => names.length === 0, 60_000)
        }
        if (!(await crdsInForce(kubectl(), "invalid"))) await installShippedCrds(kubectl())
      }, 300_000)

      it.effect.prop(
        "every bad Tenant gets every condition, each with a reason (the one its defect calls for), and the operator serves on",
        { cases: badBatch },
        ({ cases: generated }) =>
          Effect.gen(function* () {
            const client = yield* Client.Client
            const batch = ++batches
            const mark = operator().logs().length
            const { plans, tenants } = materialize(generated, { run, batch, controlPlan })
            cases += tenants.length
            yield* Effect.forEach(plans, (plan) => whileUnavailable(client.create(rawPlans, plan)), {
              concurrency: "unbounded"
            })
            yield* Effect.forEach(
              tenants,
              ({ object }) => whileUnavailable(client.create(rawTenants, object)),
              {
                concurrency: "unbounded"
              }
            )
            const selector = `${runSelector},${fuzzBatchLabel}=${batch}`
            // Its two watches bring a Tenant and its Plan in either order: the first report may
            // say PlanNotFound and the next InvalidPlan: each must come to the reason it calls for.
            const problemsOf = (stored: ReadonlyArray<KubeObject>) =>
              tenants.flatMap(({ object, expected, why }) => {
                const found = stored.find((candidate) => candidate.metadata.name === object.metadata.name)
                const problems = found === undefined ? ["it is not there"] : statusProblems(found, expected)
                return problems.length === 0
                  ? []
                  : [
                      `${object.metadata.name} (${why}): ${problems.join("; ")}; status ${JSON.stringify(found?.status)?.slice(0, 1_000)}`
                    ]
              })
            const deadline = Date.now() + 30_000
            for (;;) {
              yield* operatorHealthy(
                mark,
                tenants.map(({ object }) => object.metadata.name)
              )
              const problems = problemsOf(
                (yield* whileUnavailable(client.list(rawTenants, { labelSelector: selector }))).items
              )
              if (problems.length === 0) break
              if (Date.now() > deadline) return yield* Effect.fail(new Error(problems.join("\n")))
              yield* Effect.sleep("50 millis")
            }
          }),
        { timeout: 15 * 60_000, arbitrary: { runs: 200, maxShrinks: 5 } }
      )

      it("the operator kept running, logged no error nor defect, and goes idle: no write loops on a bad Tenant", async () => {
        assert.isAtLeast(cases, 200, "the fuzz wrote at least 200 bad Tenants")
        assert.isTrue(operator().isRunning(), operator().output().slice(-4_000))
        assert.deepStrictEqual(newErrors(), [])
        const settled = await eventually(
          "the operator's queue to drain",
          () => operatorMetrics(operator()),
          (m) => !m.busy
        )
        assert.strictEqual(settled.panics, 0, "reconcile panics")
        await sleep(3_000)
        const later = await operatorMetrics(operator())
        assert.strictEqual(later.writes, settled.writes, "API writes in 3 s with nothing to do")
      }, 60_000)

      it.effect(
        "with the shipped CRDs installed again, every bad Tenant and Plan can still be deleted",
        () =>
          Effect.gen(function* () {
            yield* Effect.promise(() => installShippedCrds(kubectl()))
            const client = yield* Client.Client
            const fuzzObjects = Effect.forEach([rawTenants, rawPlans], (type) =>
              whileUnavailable(client.list(type, { labelSelector: runSelector })).pipe(
                Effect.map(({ items }) => items.map((object) => object.metadata.name))
              )
            ).pipe(Effect.map((lists) => lists.flat()))
            // One request per kind: a delete collection, by the run's label.
            for (const type of [rawTenants, rawPlans]) {
              yield* whileUnavailable(
                client.request({
                  method: "DELETE",
                  path: Client.collectionPath(type),
                  query: { labelSelector: runSelector }
                })
              )
            }
            const deadline = Date.now() + 120_000
            for (;;) {
              const left = yield* fuzzObjects
              if (left.length === 0) break
              if (Date.now() > deadline) {
                return assert.fail(`still there: ${left.slice(0, 10).join(", ")}`)
              }
              yield* Effect.sleep("200 millis")
            }
            assert.deepStrictEqual(newErrors(), [])
          }),
        300_000
      )

      it("wrote nothing but the bad Tenants: the control Tenant, its children and every other object are as they were", async () => {
        assert.deepStrictEqual(await tenantAndChildren(kubectl(), control), controlBefore)
        assert.lengthOf(Object.keys(controlBefore), 11, "the control Tenant and its ten children")
        assert.isTrue(hasCondition(await kubectl().get("tenant", control), "TenantReady", "True"))
        assert.deepStrictEqual(operatorWritesBetween(writtenBefore, await writtenByOperator(kubectl())), [])
      }, 120_000)
    }
  )
})
