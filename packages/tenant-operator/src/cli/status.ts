/**
 * `tenant-operator status`: the tenants of the live cluster as a table for people — plan,
 * namespace, ready, the first condition that is not `True` (its reason), and how much of the
 * plan's CPU, memory and pods each uses (`used/hard` from its ResourceQuota's status, which the
 * API server keeps). `statusRows` and `statusTable` are pure; the command only lists Tenants and
 * the operator's ResourceQuotas (one list each) and prints. Reads the cluster; never writes.
 */
import { Kinds, type KubeObject } from "@kleff/core"
import { Client } from "@kleff/k8s"
import { Console, Effect, Predicate } from "effect"
import { Command, Flag } from "effect/cli"
import { TenantType } from "../api/Tenant.ts"
import { managedBy } from "../desired/Ownership.ts"
import { resourceQuotaName } from "../desired/Quota.ts"
import { clientLayer } from "../Operator.ts"
import { tenantConditionTypes } from "../TenantReconciler.ts"
import { kubeconfig, kubeconfigPath } from "./Flags.ts"
import { reportFailure } from "./Logging.ts"

/** One tenant's line. */
export interface StatusRow {
  readonly name: string
  readonly plan: string
  readonly namespace: string
  readonly ready: string
  /** The first condition that is not `True`: `Type: Reason`, or empty. */
  readonly reason: string
  readonly cpu: string
  readonly memory: string
  readonly pods: string
}

const record = (value: unknown): Readonly<Record<string, unknown>> =>
  Predicate.isObject(value) && !Array.isArray(value) ? (value as Readonly<Record<string, unknown>>) : {}

const text = (value: unknown): string => (typeof value === "string" ? value : "")

/** `used/hard` of one resource of a quota's status (`-` where the quota does not limit it). */
const usage = (quota: KubeObject | undefined, resource: string): string => {
  const status = record(quota?.status)
  const hard = text(record(status.hard)[resource])
  if (hard === "") return "-"
  return `${text(record(status.used)[resource]) || "0"}/${hard}`
}

/** The rows for `tenants`, with `quotas` (the operator's, by namespace) for usage; sorted by name. */
export const statusRows = (
  tenants: ReadonlyArray<KubeObject>,
  quotas: ReadonlyMap<string, KubeObject>
): ReadonlyArray<StatusRow> =>
  [...tenants]
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0))
    .map((tenant) => {
      const status = record(tenant.status)
      const namespace = text(status.namespace)
      const conditions = Array.isArray(status.conditions) ? status.conditions.map(record) : []
      const byType = new Map(conditions.map((condition) => [text(condition.type), condition]))
      const ready = text(byType.get("TenantReady")?.status) || "Unknown"
      const failing = tenantConditionTypes
        .map((type) => byType.get(type))
        .find((condition) => condition !== undefined && condition.status !== "True")
      const quota = quotas.get(namespace)
      return {
        name: tenant.metadata.name,
        plan: text(record(tenant.spec).plan),
        namespace: namespace || "-",
        ready,
        reason: failing === undefined ? "" : `${text(failing.type)}: ${text(failing.reason)}`,
        cpu: usage(quota, "requests.cpu"),
        memory: usage(quota, "requests.memory"),
        pods: usage(quota, "pods")
      }
    })

const columns: ReadonlyArray<readonly [string, keyof StatusRow]> = [
  ["NAME", "name"],
  ["PLAN", "plan"],
  ["NAMESPACE", "namespace"],
  ["READY", "ready"],
  ["CPU", "cpu"],
  ["MEMORY", "memory"],
  ["PODS", "pods"],
  ["NOT READY BECAUSE", "reason"]
]

/** The rows as a `kubectl get`-style table: a header, columns padded to their widest cell. */
export const statusTable = (rows: ReadonlyArray<StatusRow>): string => {
  const cells = [columns.map(([title]) => title), ...rows.map((row) => columns.map(([, key]) => row[key]))]
  const widths = columns.map((_, index) => Math.max(...cells.map((line) => (line[index] ?? "").length)))
  return cells
    .map((line) =>
      line
        .map((cell, index) => (index === line.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
        .join("   ")
        .trimEnd()
    )
    .join("\n")
}

export const statusCommand = Command.make(
  "status",
  {
    kubeconfig,
    output: Flag.Literals("output", ["table", "json"]).pipe(
      Flag.withAlias("o"),
      Flag.withDescription("table (for people) or json (one object per tenant)."),
      Flag.withDefault("table")
    )
  },
  (input) =>
    Effect.gen(function* () {
      const client = yield* Client.Client
      const tenants = yield* client.list(TenantType)
      const quotas = yield* client.list(Kinds.ResourceQuota, {
        labelSelector: `app.kubernetes.io/managed-by=${managedBy}`
      })
      const byNamespace = new Map(
        quotas.items
          .filter((quota) => quota.metadata.name === resourceQuotaName)
          .map((quota) => [quota.metadata.namespace ?? "", quota])
      )
      const rows = statusRows(tenants.items, byNamespace)
      if (input.output === "json") {
        yield* Console.log(JSON.stringify(rows, null, 2))
      } else if (rows.length === 0) {
        yield* Console.log("No tenants.")
      } else {
        yield* Console.log(statusTable(rows))
      }
    }).pipe(Effect.provide(clientLayer(kubeconfigPath(input.kubeconfig))), reportFailure)
).pipe(Command.withDescription("Show every tenant: plan, namespace, readiness and quota usage."))
