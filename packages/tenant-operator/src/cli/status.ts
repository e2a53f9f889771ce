/**
 * `tenant-operator status`: the tenants of the live cluster as a table for people — plan,
 * namespace, `TenantReady`, the reason of the first condition that is not `True`, and how much of
 * the plan's CPU, memory and pods each uses (`used/hard` from the Tenant's `status.usage`, which the
 * usage controller writes; `-` until it has). `statusRows` and `statusTable` are pure;
 * `listDefined` lists one kind and says plainly when its CRD is not installed; the command lists
 * Tenants once and prints. Reads the cluster; never writes.
 */
import type { KubeObject, ResourceType } from "@kleff/core"
import { Client, type Errors } from "@kleff/k8s"
import { Console, Effect, Predicate, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { TenantType } from "../api/Tenant.ts"
import { clientLayer } from "../Operator.ts"
import { tenantConditionTypes } from "../TenantReconciler.ts"
import { kubeconfig, kubeconfigPath } from "./Flags.ts"
import { reportFailure } from "./Logging.ts"

/** One tenant's line. Absent values are `-`. */
export interface StatusRow {
  readonly name: string
  readonly plan: string
  readonly namespace: string
  /** `TenantReady`'s status: `True`, `False`, or `Unknown` before the operator has reported. */
  readonly ready: string
  /** The reason of the first condition that is not `True` (in the operator's order). */
  readonly reason: string
  /** `used/hard` of `requests.cpu`, `requests.memory` and `pods`. */
  readonly cpu: string
  readonly memory: string
  readonly pods: string
}

const record = (value: unknown): Readonly<Record<string, unknown>> =>
  Predicate.isObject(value) && !Array.isArray(value) ? (value as Readonly<Record<string, unknown>>) : {}

const text = (value: unknown): string => (typeof value === "string" ? value : "")

/** `used/hard` of one resource of `status.usage`; `-` when its hard limit is not reported. */
const usage = (reported: Readonly<Record<string, unknown>>, resource: string): string => {
  const hard = text(record(reported.hard)[resource])
  if (hard === "") return "-"
  return `${text(record(reported.used)[resource]) || "0"}/${hard}`
}

const byName = (a: KubeObject, b: KubeObject): number =>
  a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0

/** The rows for `tenants`, sorted by name. */
export const statusRows = (tenants: ReadonlyArray<KubeObject>): ReadonlyArray<StatusRow> =>
  [...tenants].sort(byName).map((tenant) => {
    const status = record(tenant.status)
    const conditions = Array.isArray(status.conditions) ? status.conditions.map(record) : []
    const byType = new Map(conditions.map((condition) => [text(condition.type), condition]))
    const failing = tenantConditionTypes
      .map((type) => byType.get(type))
      .find((condition) => condition !== undefined && condition.status !== "True")
    const reported = record(status.usage)
    return {
      name: tenant.metadata.name,
      plan: text(record(tenant.spec).plan) || "-",
      namespace: text(status.namespace) || "-",
      ready: text(byType.get("TenantReady")?.status) || "Unknown",
      reason: text(failing?.reason) || "-",
      cpu: usage(reported, "requests.cpu"),
      memory: usage(reported, "requests.memory"),
      pods: usage(reported, "pods")
    }
  })

const columns: ReadonlyArray<readonly [string, keyof StatusRow]> = [
  ["NAME", "name"],
  ["PLAN", "plan"],
  ["NAMESPACE", "namespace"],
  ["READY", "ready"],
  ["REASON", "reason"],
  ["CPU", "cpu"],
  ["MEMORY", "memory"],
  ["PODS", "pods"]
]

/** The rows as a `kubectl get`-style table: a header, columns padded to their widest cell, 3 spaces apart. */
export const statusTable = (rows: ReadonlyArray<StatusRow>): string => {
  const cells = [columns.map(([title]) => title), ...rows.map((row) => columns.map(([, key]) => row[key]))]
  const widths = columns.map((_, index) => Math.max(...cells.map((line) => (line[index] ?? "").length)))
  return cells
    .map((line) =>
      line
        .map((cell, index) => cell.padEnd(widths[index] ?? 0))
        .join("   ")
        .trimEnd()
    )
    .join("\n")
}

/** The API server does not serve a kind: its CustomResourceDefinition is not installed (or not yet established). */
export class KindNotServed extends Schema.TaggedError<KindNotServed>()("KindNotServed", {
  message: Schema.String
}) {}

/** Every object of a kind the operator defines; `KindNotServed`, saying what to install, when the API server does not know it. */
export const listDefined = (
  type: ResourceType
): Effect.Effect<ReadonlyArray<KubeObject>, KindNotServed | Errors.KubeError, Client.Client> =>
  Effect.gen(function* () {
    const client = yield* Client.Client
    const list = yield* client.list(type)
    return list.items
  }).pipe(
    Effect.catchTag("NotFound", () =>
      Effect.fail(
        new KindNotServed({
          message:
            `The API server does not serve ${type.plural}.${type.group}/${type.version}: the ` +
            `CustomResourceDefinition ${type.plural}.${type.group} is not installed. Install the operator's ` +
            "CRDs with `kubectl apply -k deploy` (or `tenant-operator install` on a development cluster)."
        })
      )
    )
  )

export const statusCommand = Command.make(
  "status",
  {
    kubeconfig,
    output: Flag.Literals("output", ["table", "json"]).pipe(
      Flag.withAlias("o"),
      Flag.withDescription("table (for people) or json (the same rows, one object per tenant)."),
      Flag.withDefault("table")
    )
  },
  (input) =>
    Effect.gen(function* () {
      const rows = statusRows(yield* listDefined(TenantType))
      if (input.output === "json") yield* Console.log(JSON.stringify(rows, null, 2))
      else if (rows.length === 0) yield* Console.log("No tenants.")
      else yield* Console.log(statusTable(rows))
    }).pipe(Effect.provide(clientLayer(kubeconfigPath(input.kubeconfig))), reportFailure)
).pipe(
  Command.withDescription(
    "Show every tenant: plan, namespace, readiness, why it is not ready, and its CPU, memory and pods used/hard."
  )
)
