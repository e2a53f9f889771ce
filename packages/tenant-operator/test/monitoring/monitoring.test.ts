/**
 * deploy/monitoring: the component builds into deploy/, its ServiceMonitor scrapes the metrics
 * Service, its PrometheusRule and every dashboard query pass Prometheus's own rule and PromQL
 * parsers (tools/promcheck; a broken one is refused with the parser's message), and every metric
 * they name is served on a live operator's /metrics (the per-tenant series once a tenant's quota
 * is counted), or is kube-state-metrics'.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import { parse as parseMetrics } from "../../bench/Prometheus.ts"
import {
  conditionMetric,
  resourceHardMetric,
  resourceUsedMetric,
  tenantsMetric
} from "../../src/TenantMetrics.ts"
import { find, idOf, kustomize, operatorNamespace } from "../deploy/manifests.ts"
import { eventually, Kubectl, tenantObject, toYaml, uniqueName, useSuite } from "../e2e/harness.ts"
import {
  accepted,
  anchorsOf,
  buildWithMonitoring,
  dashboard,
  dashboardQueries,
  dashboardSource,
  kubeStateMetricsNames,
  promcheck,
  promcheckBinary,
  toYamlStream
} from "./bundle.ts"

const buildTimeout = 10 * 60_000
const readme = "packages/tenant-operator/README.md"

interface RuleObject extends KubeObject {
  readonly spec: {
    readonly groups: ReadonlyArray<{
      readonly name: string
      readonly rules: ReadonlyArray<{
        readonly alert?: string
        readonly expr: string
        readonly labels?: Readonly<Record<string, string>>
        readonly annotations?: Readonly<Record<string, string>>
      }>
    }>
  }
}

interface ServiceMonitorObject extends KubeObject {
  readonly spec: {
    readonly namespaceSelector: { readonly matchNames: ReadonlyArray<string> }
    readonly selector: { readonly matchLabels: Readonly<Record<string, string>> }
    readonly endpoints: ReadonlyArray<{
      readonly port: string
      readonly path: string
      readonly honorLabels?: boolean
    }>
  }
}

interface ServiceObject extends KubeObject {
  readonly spec: { readonly ports: ReadonlyArray<{ readonly name: string }> }
}

let binary = ""
let objects: ReadonlyArray<KubeObject> = []
let ruleObject: RuleObject
beforeAll(async () => {
  binary = await promcheckBinary()
  objects = buildWithMonitoring()
  ruleObject = find<RuleObject>(objects, "PrometheusRule", "tenant-operator")
}, buildTimeout)

const rules = () => ruleObject.spec.groups.flatMap((group) => group.rules)

/** Metric names the rules and the dashboard select, as promcheck reads them. */
const usedMetrics = (): ReadonlyArray<string> => {
  const fromRules = accepted(promcheck(binary, "rules", toYamlStream([ruleObject]))).metrics
  const queries = dashboardQueries(dashboard()).map((query) => query.expr)
  const fromDashboard = accepted(promcheck(binary, "exprs", JSON.stringify(queries))).metrics
  return [...new Set([...fromRules, ...fromDashboard])].sort()
}

describe("deploy/monitoring (a kustomize component)", () => {
  it("adds a ServiceMonitor, a PrometheusRule and the dashboard's ConfigMap to deploy/, in kleff-system", () => {
    const base = new Set(kustomize("deploy").map(idOf))
    assert.sameMembers(
      objects.map(idOf).filter((id) => !base.has(id)),
      [
        `ServiceMonitor/${operatorNamespace}/tenant-operator`,
        `PrometheusRule/${operatorNamespace}/tenant-operator`,
        `ConfigMap/${operatorNamespace}/kleff-tenant-operator-dashboard`
      ]
    )
  })

  it("scrapes the metrics Service: its namespace, its labels, its port by name, keeping the tenants' namespace label", () => {
    const monitor = find<ServiceMonitorObject>(objects, "ServiceMonitor", "tenant-operator")
    const service = find<ServiceObject>(objects, "Service", "tenant-operator-metrics")
    assert.include(monitor.spec.namespaceSelector.matchNames, service.metadata.namespace)
    for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels))
      assert.strictEqual(service.metadata.labels?.[key], value, `the Service's label ${key}`)
    const [endpoint, ...others] = monitor.spec.endpoints
    assert.deepStrictEqual(others, [])
    assert.include(
      service.spec.ports.map((port) => port.name),
      endpoint?.port
    )
    assert.strictEqual(endpoint?.path, "/metrics")
    // The per-tenant series have a `namespace` label; a target label must not replace it.
    assert.isTrue(endpoint?.honorLabels)
  })

  it("ships dashboard.json as is in a ConfigMap for Grafana's sidecar", () => {
    const configMap = find(objects, "ConfigMap", "kleff-tenant-operator-dashboard") as KubeObject & {
      readonly data: Readonly<Record<string, string>>
    }
    assert.strictEqual(configMap.metadata.labels?.grafana_dashboard, "1")
    assert.deepStrictEqual(Object.keys(configMap.data), ["tenant-operator.json"])
    assert.strictEqual(configMap.data["tenant-operator.json"], dashboardSource())
    assert.strictEqual(dashboard().uid, "kleff-tenant-operator")
  })

  it("has the alerts, each with a severity, a summary, a description and a runbook in the README", () => {
    assert.sameMembers(
      rules().map((rule) => rule.alert),
      [
        "KleffTenantQuotaNearLimit",
        "KleffTenantNotReady",
        "KleffTenantOperatorReconcileErrors",
        "KleffTenantOperatorReconcilePanics",
        "KleffTenantOperatorQueueGrowing",
        "KleffTenantOperatorNoLeader"
      ]
    )
    const anchors = anchorsOf(readme)
    for (const rule of rules()) {
      assert.oneOf(rule.labels?.severity, ["warning", "critical"], `${rule.alert}'s severity`)
      assert.isNotEmpty(rule.annotations?.summary, `${rule.alert}'s summary`)
      assert.isNotEmpty(rule.annotations?.description, `${rule.alert}'s description`)
      const [path, anchor] = (rule.annotations?.runbook_url ?? "").split("#")
      assert.strictEqual(path, readme, `${rule.alert}'s runbook_url`)
      assert.isTrue(anchors.has(anchor ?? ""), `${rule.alert}'s runbook #${anchor} is a heading of ${readme}`)
    }
  })

  it("passes Prometheus's rule parser: names, durations, templates and every expression", () => {
    const result = accepted(promcheck(binary, "rules", toYamlStream([ruleObject])))
    assert.strictEqual(result.checked.length, rules().length)
    for (const rule of result.checked)
      assert.deepStrictEqual(rule.unnamed, [], `${rule.alert} names its metrics`)
    const quota = result.checked.find((rule) => rule.alert === "KleffTenantQuotaNearLimit")
    assert.deepStrictEqual(quota?.metrics, ["kleff_tenant_resource_hard", "kleff_tenant_resource_used"])
  })

  it("is refused with the parser's message when an expression, a template or a field is wrong", () => {
    const broken = (edit: (rule: RuleObject["spec"]["groups"][number]["rules"][number]) => object) =>
      promcheck(
        binary,
        "rules",
        toYamlStream([
          {
            ...ruleObject,
            spec: {
              groups: ruleObject.spec.groups.map((group, index) =>
                index === 0
                  ? { ...group, rules: group.rules.map((rule, at) => (at === 0 ? edit(rule) : rule)) }
                  : group
              )
            }
          }
        ])
      )
    const cases: ReadonlyArray<readonly [string, ReturnType<typeof broken>, RegExp]> = [
      ["a dangling operator", broken((rule) => ({ ...rule, expr: `${rule.expr} >` })), /parse error/],
      [
        "an unclosed template",
        broken((rule) => ({ ...rule, annotations: { ...rule.annotations, summary: "{{ $labels.tenant" } })),
        /annotation "summary"/
      ],
      ["an unknown field", broken((rule) => ({ ...rule, expresion: rule.expr })), /field expresion not found/]
    ]
    for (const [what, result, message] of cases) {
      assert.isFalse(result.ok, `${what} is refused`)
      if (!result.ok) {
        assert.strictEqual(result.code, 1, what)
        assert.match(result.messages, message, what)
      }
    }
  })

  it("parses every dashboard query with Prometheus's PromQL parser", () => {
    const queries = dashboardQueries(dashboard())
    const result = accepted(promcheck(binary, "exprs", JSON.stringify(queries.map((query) => query.expr))))
    assert.strictEqual(result.checked.length, queries.length)
    result.checked.forEach((checked, index) => {
      assert.deepStrictEqual(checked.unnamed, [], `${queries[index]?.where} names its metrics`)
      assert.isNotEmpty(checked.metrics, `${queries[index]?.where} selects a metric`)
    })
    const refused = promcheck(binary, "exprs", JSON.stringify(["sum(rate(workqueue_adds_total[5m])"]))
    assert.isFalse(refused.ok)
    if (!refused.ok) assert.match(refused.messages, /unclosed left parenthesis/)
  })

  it("shows usage by tenant and plan, phases, reconciles, errors, the queue and API writes", () => {
    const used = usedMetrics()
    assert.includeMembers(
      [...used],
      [
        resourceUsedMetric,
        resourceHardMetric,
        conditionMetric,
        tenantsMetric,
        "controller_runtime_reconcile_total",
        "controller_runtime_reconcile_time_seconds_bucket",
        "controller_runtime_reconcile_errors_total",
        "workqueue_depth",
        "rest_client_requests_total",
        "leader_election_master_status",
        ...kubeStateMetricsNames
      ]
    )
  })
})

describeCluster("deploy/monitoring against a live operator's /metrics", () => {
  const leaseName = uniqueName("monitoring-leader")
  const leaseNamespace = "default"
  afterAll(async () => {
    // Registered before the suite's hooks, so it runs after the operator has stopped.
    if (kubeconfigPath !== undefined)
      await new Kubectl(kubeconfigPath).run([
        "delete",
        "lease",
        leaseName,
        "-n",
        leaseNamespace,
        "--ignore-not-found"
      ])
  })
  const suite = useSuite({
    adminKubeconfig: () => kubeconfigPath ?? "",
    operatorArgs: [
      "--leader-elect",
      "--leader-election-namespace",
      leaseNamespace,
      "--leader-election-id",
      leaseName
    ]
  })

  it(
    "serves every metric a rule or panel uses, but kube-state-metrics'",
    async () => {
      // One Tenant reconciled, so that every series (writes, histograms) has been recorded.
      const name = uniqueName("e2e-mon")
      suite().tenants.add(name)
      await suite().kubectl.apply({
        yaml: toYaml([tenantObject(name, { plan: "basic", userId: `user-${name}`, username: "owner" })])
      })
      await suite().kubectl.ok(["wait", "--for=condition=TenantReady", `tenant/${name}`, "--timeout=90s"])
      const url = suite().runningOperator.metricsUrl() ?? assert.fail("the operator serves no /metrics")
      const used = usedMetrics()
      const others = new Set(kubeStateMetricsNames)
      const unserved = (served: ReadonlySet<string>) =>
        used.filter((metric) => !served.has(metric) && !others.has(metric))
      // The per-tenant quota series come once the API server has counted the tenant's quota.
      const served = await eventually(
        "every metric the rules and the dashboard use",
        async () => new Set(parseMetrics(await (await fetch(url)).text()).map((sample) => sample.name)),
        (names) => unserved(names).length === 0,
        60_000
      )
      assert.deepStrictEqual(
        unserved(served),
        [],
        "metrics the rules or the dashboard use that nothing exports"
      )
      assert.deepStrictEqual(
        kubeStateMetricsNames.filter((metric) => !used.includes(metric)),
        [],
        "kube-state-metrics names nothing uses"
      )
    },
    5 * 60_000
  )
})
