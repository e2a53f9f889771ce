/**
 * End to end, the usage controller and the per-tenant metrics as a user meets them, on the real
 * API server (its quota admission and the controller manager's quota controller count the pods):
 * pods created in a tenant's namespace (they stay Pending, there is no kubelet, and still count
 * against the quota) move the Tenant's `status.usage` and `/metrics` within the controller's
 * period; deleting them moves both back; writes are at least a period apart; while nothing
 * changes, the Tenant is not written; a deleted tenant's series are gone from `/metrics`.
 * The operator runs with a short period (`--usage-period-seconds 3`).
 */
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import { parse as parseMetrics, type Sample } from "../../bench/Prometheus.ts"
import { deleteTenants, eventually, tenantObject, toYaml, uniqueName, useSuite } from "./harness.ts"

const periodSeconds = 3
const stepTimeout = 240_000

interface Usage {
  readonly hard?: Readonly<Record<string, string>>
  readonly used?: Readonly<Record<string, string>>
  readonly updatedAt?: string
}

const usageOf = (tenant: KubeObject | undefined): Usage | undefined =>
  (tenant?.status as { readonly usage?: Usage } | undefined)?.usage

/** A pod Pod Security `restricted` admits, from a registry the tenant's plan trusts; its resources are the LimitRange's defaults. */
const pod = (name: string, namespace: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace },
  spec: {
    automountServiceAccountToken: false,
    securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
    containers: [
      {
        name: "web",
        image: "registry.kleff.io/nginx:1.27",
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } }
      }
    ]
  }
})

describeCluster(
  "the usage controller and the per-tenant metrics, end to end (operator process + kubectl)",
  () => {
    const suite = useSuite({
      adminKubeconfig: () => kubeconfigPath ?? "",
      operatorArgs: ["--usage-period-seconds", String(periodSeconds)]
    })
    const name = uniqueName("e2e-use")
    const namespace = `tenant-${name}`
    const podNames = ["web-0", "web-1", "web-2"]
    const tenant = () => suite().kubectl.get("tenant", name)

    /** Every `updatedAt` the Tenant showed, polled until `done` holds. */
    const seen = new Set<string>()
    const usageUntil = (what: string, done: (usage: Usage | undefined) => boolean, timeoutMillis = 60_000) =>
      eventually(
        what,
        async () => {
          const usage = usageOf(await tenant())
          if (usage?.updatedAt !== undefined) seen.add(usage.updatedAt)
          return usage
        },
        done,
        timeoutMillis
      )

    const scrape = async (): Promise<ReadonlyArray<Sample>> => {
      const url = suite().runningOperator.metricsUrl() ?? assert.fail("the operator serves no /metrics")
      return parseMetrics(await (await fetch(url)).text()).filter((sample) => sample.labels.tenant === name)
    }
    const gauge = (samples: ReadonlyArray<Sample>, metric: string, resource: string): number | undefined =>
      samples.find((sample) => sample.name === metric && sample.labels.resource === resource)?.value

    it(
      "a new tenant's usage: its quota's limits and nothing used, in status.usage and on /metrics",
      async () => {
        const { kubectl } = suite()
        suite().tenants.add(name)
        await kubectl.apply({
          yaml: toYaml([tenantObject(name, { plan: "basic", userId: `user-${name}`, username: "owner" })])
        })
        await kubectl.ok(["wait", "--for=condition=TenantReady", `tenant/${name}`, "--timeout=120s"])
        const usage = await usageUntil("status.usage", (current) => current?.used?.pods === "0")
        assert.strictEqual(usage?.hard?.pods, "20")
        assert.strictEqual(usage?.hard?.["requests.cpu"], "1")
        assert.strictEqual(usage?.hard?.["requests.memory"], "2Gi")
        assert.isFalse(Number.isNaN(Date.parse(usage?.updatedAt ?? "")))
        // Only the usage controller writes status.usage, and it writes nothing else.
        const managed = (await kubectl.json<KubeObject>(["tenant", name, "--show-managed-fields"])).metadata
          .managedFields
        const statusOf = (manager: string) =>
          Object.keys(
            (managed?.find((entry) => entry.manager === manager && entry.subresource === "status")
              ?.fieldsV1?.["f:status"] ?? {}) as object
          ).sort()
        assert.deepStrictEqual(statusOf("usage-controller"), ["f:observedGeneration", "f:usage"])
        assert.notInclude(statusOf("tenant-controller"), "f:usage")

        const samples = await eventually(
          "the tenant's series on /metrics",
          scrape,
          (current) => gauge(current, "kleff_tenant_resource_hard", "pods") === 20
        )
        assert.strictEqual(gauge(samples, "kleff_tenant_resource_used", "pods"), 0)
        assert.strictEqual(gauge(samples, "kleff_tenant_resource_hard", "requests.memory"), 2 * 1024 ** 3)
        const ready = samples.find(
          (sample) => sample.name === "kleff_tenant_condition" && sample.labels.type === "TenantReady"
        )
        assert.deepInclude(ready, { labels: { tenant: name, type: "TenantReady", status: "True" }, value: 1 })
        assert.deepInclude(
          samples.find(
            (sample) => sample.name === "kleff_tenant_resource_used" && sample.labels.resource === "pods"
          )?.labels,
          { namespace, plan: "basic" }
        )
      },
      stepTimeout
    )

    /** Creates pods in the tenant's namespace (retried: its default ServiceAccount comes a moment after it). */
    const createPods = (names: ReadonlyArray<string>) =>
      eventually(
        `pods ${names.join(", ")} to be admitted`,
        async () =>
          (
            await suite().kubectl.run(
              ["create", "-f", "-"],
              toYaml(names.map((each) => pod(each, namespace)))
            )
          ).code === 0 || (await suite().kubectl.run(["get", "pods", ...names, "-n", namespace])).code === 0,
        (created) => created,
        60_000
      )

    it(
      "pods created in its namespace move status.usage and /metrics within the period; a change that comes too soon waits for it",
      async () => {
        await createPods(podNames.slice(0, 1))
        const created = Date.now()
        const first = await usageUntil(
          "status.usage to count one pod",
          (current) => current?.used?.pods === "1"
        )
        // Within the period (plus the quota controller's and the watches' delays on a loaded machine).
        assert.isAtMost(Date.now() - created, periodSeconds * 1000 + 15_000)
        assert.strictEqual(first?.used?.["requests.cpu"], "100m")

        // At once two more: held back until a period after the last write, then written without any other event.
        await createPods(podNames.slice(1))
        const all = await usageUntil(
          "status.usage to count three pods",
          (current) => current?.used?.pods === "3" && current.used["requests.cpu"] === "300m"
        )
        const apart = Date.parse(all?.updatedAt ?? "") - Date.parse(first?.updatedAt ?? "")
        assert.isAtLeast(apart, periodSeconds * 1000)
        assert.isAtMost(apart, periodSeconds * 1000 + 15_000)
        // The LimitRange's default requests and limits, as the quota counts them.
        assert.strictEqual(all?.used?.["requests.memory"], "384Mi")
        assert.strictEqual(all?.used?.["limits.cpu"], "1500m")
        const samples = await eventually(
          "the pods on /metrics",
          scrape,
          (current) => gauge(current, "kleff_tenant_resource_used", "pods") === 3
        )
        assert.strictEqual(gauge(samples, "kleff_tenant_resource_used", "requests.cpu"), 0.3)
        const times = [...seen].map(Date.parse).sort((a, b) => a - b)
        for (let index = 1; index < times.length; index++) {
          const gap = (times[index] ?? 0) - (times[index - 1] ?? 0)
          assert.isAtLeast(gap, periodSeconds * 1000, [...seen].join(", "))
        }
      },
      stepTimeout
    )

    it(
      "while nothing changes, the Tenant is not written",
      async () => {
        const withWriters = () => suite().kubectl.json<KubeObject>(["tenant", name, "--show-managed-fields"])
        const before = await withWriters()
        await new Promise((resolve) => setTimeout(resolve, 3 * periodSeconds * 1000 + 1000))
        const after = await withWriters()
        // On failure, who wrote what: each field manager's last write, and the status before and after.
        const writes = (object: KubeObject) =>
          (object.metadata.managedFields ?? []).map(
            (entry) =>
              `${entry.manager}${entry.subresource === undefined ? "" : `/${entry.subresource}`} ${entry.time}`
          )
        assert.strictEqual(
          after.metadata.resourceVersion,
          before.metadata.resourceVersion,
          `the Tenant was written: ${JSON.stringify({
            before: { writes: writes(before), status: before.status },
            after: { writes: writes(after), status: after.status }
          })}`
        )
      },
      stepTimeout
    )

    it(
      "deleting the pods moves status.usage and /metrics back",
      async () => {
        const { kubectl } = suite()
        await kubectl.ok(["delete", "pods", ...podNames, "-n", namespace, "--wait=true"])
        const usage = await usageUntil(
          "status.usage back to nothing used",
          (current) => current?.used?.pods === "0" && current.used["requests.cpu"] === "0"
        )
        assert.strictEqual(usage?.used?.["requests.memory"], "0")
        await eventually(
          "/metrics back to nothing used",
          scrape,
          (current) =>
            gauge(current, "kleff_tenant_resource_used", "pods") === 0 &&
            gauge(current, "kleff_tenant_resource_used", "requests.cpu") === 0
        )
      },
      stepTimeout
    )

    it(
      "a deleted tenant's series are gone from /metrics",
      async () => {
        await deleteTenants(suite().kubectl, [name])
        suite().tenants.delete(name)
        // Once the operator's cache has the deletion (its watch event may come after kubectl's wait).
        await eventually("no series of the tenant", scrape, (samples) => samples.length === 0, 15_000)
      },
      stepTimeout
    )
  }
)
