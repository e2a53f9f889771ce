/**
 * deploy/monitoring as the tests read it: the component built into deploy/ by `kubectl
 * kustomize`, its PrometheusRule and dashboard, and what Prometheus's own parsers (tools/promcheck,
 * built on first use) say about their expressions: whether they parse and which metrics they
 * select. Also the metric names that are not the operator's own. Test helpers: no cluster needed,
 * only kubectl and Go.
 */
import { spawnSync } from "node:child_process"
import type { KubeObject } from "@kleff/core"
import { stringify } from "yaml"
import { kustomizeWithComponents } from "../deploy/manifests.ts"
import { readRepoFile } from "../fixtures.ts"

/** The component's path under deploy/. */
export const monitoringComponent = "monitoring"

/**
 * kube-state-metrics' names the dashboard uses (kube-state-metrics is not ours to run: these are
 * its documented names, for the operator's Deployment and pods).
 */
export const kubeStateMetricsNames: ReadonlyArray<string> = [
  "kube_deployment_spec_replicas",
  "kube_deployment_status_replicas_available",
  "kube_pod_container_status_restarts_total"
]

// ---------------------------------------------------------------------------------------------
// promcheck

interface PromcheckTool {
  readonly promcheckPath: () => Promise<string>
}

/**
 * The promcheck binary, built when its sources changed (the first time 1.5–2 min with empty Go
 * caches). tools/ is its own TypeScript project, which this package's does not reference: hence
 * the import by URL.
 */
export const promcheckBinary = async (): Promise<string> => {
  const tool = (await import(
    new URL("../../../../tools/promcheck/promcheck.ts", import.meta.url).href
  )) as PromcheckTool
  return tool.promcheckPath()
}

/** One rule or expression promcheck accepted. */
export interface Checked {
  readonly group?: string
  readonly alert?: string
  readonly record?: string
  readonly expr: string
  readonly metrics: ReadonlyArray<string>
  readonly unnamed: ReadonlyArray<string>
}

export type PromcheckResult =
  | { readonly ok: true; readonly checked: ReadonlyArray<Checked>; readonly metrics: ReadonlyArray<string> }
  | { readonly ok: false; readonly code: number | null; readonly messages: string }

/** Runs promcheck (`rules -` or `exprs`) with `input` on stdin. */
export const promcheck = (binary: string, mode: "rules" | "exprs", input: string): PromcheckResult => {
  const run = spawnSync(binary, mode === "rules" ? ["rules", "-"] : ["exprs"], {
    input,
    encoding: "utf8",
    timeout: 60_000
  })
  if (run.error !== undefined) throw run.error
  if (run.status !== 0) return { ok: false, code: run.status, messages: run.stderr }
  const report = JSON.parse(run.stdout) as { checked: ReadonlyArray<Checked>; metrics: ReadonlyArray<string> }
  return { ok: true, ...report }
}

/** The accepted result, or a failure with the parsers' messages. */
export const accepted = (result: PromcheckResult): Extract<PromcheckResult, { ok: true }> => {
  if (!result.ok) throw new Error(`promcheck refused it (exit ${result.code}):\n${result.messages}`)
  return result
}

// ---------------------------------------------------------------------------------------------
// the component

/** deploy/ with the monitoring component, as `kubectl kustomize` builds it. */
export const buildWithMonitoring = (): ReadonlyArray<KubeObject> =>
  kustomizeWithComponents([monitoringComponent])

export const toYamlStream = (objects: ReadonlyArray<unknown>): string =>
  objects.map((object) => stringify(object, { lineWidth: 0 })).join("---\n")

export interface Panel {
  readonly type: string
  readonly title: string
  readonly targets?: ReadonlyArray<{ readonly expr: string }>
}

export interface Variable {
  readonly name: string
  readonly type: string
  readonly query?: string | { readonly query: string }
  readonly allValue?: string
}

export interface Dashboard {
  readonly uid: string
  readonly title: string
  readonly panels: ReadonlyArray<Panel>
  readonly templating: { readonly list: ReadonlyArray<Variable> }
}

export const dashboardSource = (): string => readRepoFile("deploy/monitoring/dashboard.json")

export const dashboard = (): Dashboard => JSON.parse(dashboardSource()) as Dashboard

/** Grafana's interval variables: the duration a query gets in their place here. */
const intervals = ["$__rate_interval", "$__interval", "$__range"]

/**
 * A Grafana query as PromQL: its interval variables replaced by `5m`, each dashboard variable by
 * what it stands for (a textbox's default; a query variable's "All" value). A variable without
 * either is left, for the parser to refuse.
 */
export const asPromql = (query: string, variables: ReadonlyArray<Variable>): string => {
  let expr = query
  for (const interval of intervals) expr = expr.replaceAll(interval, "5m")
  for (const variable of [...variables].sort((a, b) => b.name.length - a.name.length)) {
    const value =
      variable.type === "textbox" && typeof variable.query === "string" ? variable.query : variable.allValue
    if (value === undefined) continue
    expr = expr.replaceAll(`\${${variable.name}}`, value).replaceAll(`$${variable.name}`, value)
  }
  return expr
}

const labelValues = /^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/s

/** Every PromQL query of the dashboard: each panel's targets and each query variable's selector. */
export const dashboardQueries = (
  board: Dashboard
): ReadonlyArray<{ readonly where: string; readonly expr: string }> => {
  const variables = board.templating.list
  const panels = board.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr }))
  )
  const selectors = variables
    .filter((variable) => variable.type === "query")
    .map((variable) => {
      const query = typeof variable.query === "string" ? variable.query : (variable.query?.query ?? "")
      return { where: `variable "${variable.name}"`, expr: labelValues.exec(query)?.[1] ?? query }
    })
  return [...panels, ...selectors].map((query) => ({ ...query, expr: asPromql(query.expr, variables) }))
}

/** GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces as hyphens. */
export const headingAnchor = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-")

/** The anchors of every heading of a Markdown file in the repository. */
export const anchorsOf = (path: string): ReadonlySet<string> =>
  new Set(
    readRepoFile(path)
      .split("\n")
      .filter((line) => /^#{1,6} /.test(line))
      .map((line) => headingAnchor(line.replace(/^#+ /, "")))
  )
