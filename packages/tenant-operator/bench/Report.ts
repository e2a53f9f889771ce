/**
 * The benchmark's Markdown tables from one or more complete runs: per tenant, the wall time and the
 * CPU of kube-apiserver, etcd, the controller-manager and the client (writefloor, this process, the
 * operator) for the Go floor, the TypeScript floor and the operator; then the ratios operator /
 * floor first (the machine is shared and absolute times drift, the ratios much less), the machine's
 * load, and the operator's other figures. With several runs a figure is their median and range.
 * Formats only: it measures nothing.
 */
import { cpus, loadavg, release, totalmem } from "node:os"
import type * as Cpu from "./Cpu.ts"
import type { FloorRun } from "./GoFloor.ts"
import type { OperatorRun } from "./OperatorPhase.ts"
import { concurrency, inFlight, tenants, withUsage } from "./Settings.ts"
import type { TsFloorRun } from "./TsFloor.ts"

/** One complete run, on a control plane of its own. */
export interface RunResult {
  readonly go: FloorRun | undefined
  readonly ts: TsFloorRun | undefined
  readonly operator: OperatorRun
  /** 1-minute load average when the run started and when it ended. */
  readonly load: readonly [number, number]
}

export const machine = (): string => {
  const cpu = cpus()[0]?.model ?? "unknown CPU"
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}, node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length / 2
  return sorted.length % 2 === 1
    ? (sorted[Math.floor(middle)] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2
}

const percentile = (values: ReadonlyArray<number>, q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
}

const skipped = "–"
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0)

/** A figure over the runs: the value, or the median and the range; `–` where it was not measured. */
const stat =
  (runs: ReadonlyArray<RunResult>) =>
  (figure: (run: RunResult) => number | undefined, digits = 1): string => {
    const values = runs.map(figure).filter((v): v is number => v !== undefined && Number.isFinite(v))
    if (values.length === 0) return skipped
    const fixed = (v: number) => v.toFixed(digits)
    if (values.length === 1) return fixed(values[0] as number)
    return `${fixed(median(values))} (${fixed(Math.min(...values))}–${fixed(Math.max(...values))})`
  }

/** A descriptive figure: one per run, separated by an escaped `|` (a cell of a Markdown table). */
const perRun =
  (runs: ReadonlyArray<RunResult>) =>
  (figure: (run: RunResult) => string): string =>
    runs.map(figure).join(" \\| ")

/** Milliseconds of CPU per tenant of process `name`. */
const cpuPerTenant = (use: Cpu.CpuUse | undefined, name: string): number | undefined =>
  use === undefined ? undefined : ((use.seconds[name] ?? 0) * 1000) / tenants

/** CPU seconds of the named processes (cluster, client or operator, benchmark): not the machine's other load. */
const ours = (use: Cpu.CpuUse): number =>
  Object.entries(use.seconds)
    .filter(([name]) => name !== "other")
    .reduce((total, [, used]) => total + used, 0)

const cpuRow = (use: Cpu.CpuUse | undefined): string =>
  use === undefined
    ? skipped
    : `${Object.entries(use.seconds)
        .map(([name, used]) => `${name} ${used.toFixed(1)}`)
        .join(", ")} (of ${(use.wallSeconds * cpus().length).toFixed(0)} available)`

const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b

const byMethod = (counts: Readonly<Record<string, number>>): string =>
  Object.entries(counts)
    .filter(([, count]) => count > 0)
    .map(([method, count]) => `${method} ${(count / tenants).toFixed(2)}`)
    .join(", ")

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

export const report = (runs: ReadonlyArray<RunResult>): string => {
  const s = stat(runs)
  const each = perRun(runs)
  const apiserver = (use: Cpu.CpuUse | undefined) => cpuPerTenant(use, "kube-apiserver")
  const per = (value: number | undefined) => (value === undefined ? undefined : value / tenants)
  type Figure = (run: RunResult) => number | undefined
  const perTenant: ReadonlyArray<readonly [string, Figure, Figure, Figure]> = [
    ["wall ms", (r) => per(r.go?.millis), (r) => per(r.ts?.millis), (r) => per(r.operator.millis)],
    ...["kube-apiserver", "etcd", "kube-controller-manager"].map(
      (name): readonly [string, Figure, Figure, Figure] => [
        `${name} CPU ms`,
        (r) => cpuPerTenant(r.go?.cpu, name),
        (r) => cpuPerTenant(r.ts?.cpu, name),
        (r) => cpuPerTenant(r.operator.cpu, name)
      ]
    ),
    [
      "client CPU ms (writefloor; this process; the operator process)",
      (r) => cpuPerTenant(r.go?.cpu, "client"),
      (r) => cpuPerTenant(r.ts?.cpu, "client"),
      (r) => cpuPerTenant(r.operator.cpu, "operator")
    ],
    [
      "writes (Tenant creates not included; the operator's include its Event)",
      (r) => per(r.go?.writes),
      (r) => per(r.ts?.writes),
      (r) => per(r.operator.writes.total)
    ]
  ]
  const first = table(
    ["per tenant", "Go floor", "TS floor", "operator"],
    perTenant.map(([name, ...figures], row) => [
      name,
      ...figures.map((f) => s(f, row === perTenant.length - 1 ? 2 : 1))
    ])
  )

  const rows: ReadonlyArray<readonly [string, string]> = [
    [
      "machine load average (1 min), start → end of each run",
      each((r) => `${r.load[0].toFixed(2)} → ${r.load[1].toFixed(2)}`)
    ],
    [
      "other CPU seconds (the machine's busy time outside these processes): Go floor / TS floor / operator",
      `${s((r) => r.go?.cpu.seconds.other)} / ${s((r) => r.ts?.cpu.seconds.other)} / ${s((r) => r.operator.cpu.seconds.other)}`
    ],
    ["Go floor: seconds", s((r) => (r.go === undefined ? undefined : r.go.millis / 1000))],
    ["TS floor: seconds", s((r) => (r.ts === undefined ? undefined : r.ts.millis / 1000))],
    ["operator: seconds to all TenantReady", s((r) => r.operator.millis / 1000)],
    ["**ratio operator / Go floor, wall time**", s((r) => ratio(r.operator.millis, r.go?.millis), 2)],
    [
      "**ratio operator / Go floor, kube-apiserver CPU**",
      s((r) => ratio(apiserver(r.operator.cpu), apiserver(r.go?.cpu)), 2)
    ],
    [
      "ratio operator / Go floor, CPU of the cluster + client or operator + benchmark",
      s((r) => ratio(ours(r.operator.cpu), r.go === undefined ? undefined : ours(r.go.cpu)), 2)
    ],
    ["ratio operator / TS floor, wall time", s((r) => ratio(r.operator.millis, r.ts?.millis), 2)],
    [
      "ratio operator / TS floor, CPU of the cluster + client or operator + benchmark",
      s((r) => ratio(ours(r.operator.cpu), r.ts === undefined ? undefined : ours(r.ts.cpu)), 2)
    ],
    ["ratio TS floor / Go floor, wall time", s((r) => ratio(r.ts?.millis, r.go?.millis), 2)],
    [
      "tenants / s: Go floor / TS floor / operator",
      `${s((r) => (r.go === undefined ? undefined : tenants / (r.go.millis / 1000)))} / ${s((r) => (r.ts === undefined ? undefined : tenants / (r.ts.millis / 1000)))} / ${s((r) => tenants / (r.operator.millis / 1000))}`
    ],
    [
      "writes / tenant: TS floor by HTTP method (with the create)",
      each((r) => (r.ts === undefined ? skipped : byMethod(r.ts.byMethod)))
    ],
    [
      "writes / tenant: operator by HTTP method; refused",
      each((r) => `${byMethod(r.operator.writes.byMethod)}; ${r.operator.writes.failed} refused`)
    ],
    [
      "resync of the converged cluster: writes",
      each(
        (r) =>
          `${r.operator.resyncWrites.total} (${r.operator.resyncReconciles} reconciles; ready ${(r.operator.resyncReadyMillis / 1000).toFixed(1)} s, done ${(r.operator.resyncMillis / 1000).toFixed(1)} s after the restart)`
      )
    ],
    [
      "operator RSS MiB, N tenants cached (after the resync, after GC)",
      s((r) => r.operator.memoryCached.rss / 2 ** 20, 0)
    ],
    [
      "memory cgroup (limit MiB): peak MiB creating / restarting; OOM kills",
      perRun(runs)((r) => {
        const { cgroupCreate: c, cgroupRestart: re } = r.operator
        return c === undefined || re === undefined
          ? skipped
          : `(${mib(c.limitBytes)}) ${mib(c.peakBytes)} / ${mib(re.peakBytes)}; ${c.oomKills + re.oomKills}`
      })
    ],
    [
      "operator RSS MiB: no tenant / after creating N / peak while creating / peak of the restart",
      each(
        ({ operator: o }) =>
          `${mib(o.memoryEmpty.rss)} / ${mib(o.memoryAfterCreate.rss)} / ${mib(o.memoryAfterCreate.peak)} / ${mib(o.memoryCached.peak)}`
      )
    ],
    [
      "operator memory MiB after GC, V8 heap used / reserved / external: no tenant; N cached",
      each(
        ({ operator: o }) =>
          `${mib(o.memoryEmpty.heapUsed)} / ${mib(o.memoryEmpty.heapTotal)} / ${mib(o.memoryEmpty.external)}; ${mib(o.memoryCached.heapUsed)} / ${mib(o.memoryCached.heapTotal)} / ${mib(o.memoryCached.external)}`
      )
    ],
    [
      "per tenant cached (10 objects): heap KiB / RSS KiB",
      `${s((r) => (r.operator.memoryCached.heapUsed - r.operator.memoryEmpty.heapUsed) / tenants / 1024)} / ${s((r) => (r.operator.memoryCached.rss - r.operator.memoryEmpty.rss) / tenants / 1024)}`
    ],
    [
      "drift repair ms, NetworkPolicy deleted / ResourceQuota edited (median of each run)",
      `${s((r) => median(r.operator.driftDeleteMillis), 0)} / ${s((r) => median(r.operator.driftEditMillis), 0)}`
    ],
    [
      "drift repair ms, the slowest of every run's samples",
      String(
        Math.max(
          ...runs.flatMap((r) => [...r.operator.driftDeleteMillis, ...r.operator.driftEditMillis])
        ).toFixed(0)
      )
    ],
    [
      "writes / drift repair",
      s(
        (r) =>
          r.operator.driftWrites / (r.operator.driftDeleteMillis.length + r.operator.driftEditMillis.length)
      )
    ],
    [
      "create → TenantReady ms, p50 / p99 (per tenant)",
      `${s((r) => percentile(r.operator.readyLatencies, 0.5), 0)} / ${s((r) => percentile(r.operator.readyLatencies, 0.99), 0)}`
    ],
    [
      "reconcile ms, p50 / p99 (histogram, creation phase)",
      `${s((r) => (r.operator.reconcileP50 === undefined ? undefined : r.operator.reconcileP50 * 1000), 0)} / ${s((r) => (r.operator.reconcileP99 === undefined ? undefined : r.operator.reconcileP99 * 1000), 0)}`
    ],
    [
      "reconciles / tenant (creation phase); errors",
      `${s((r) => r.operator.reconcilesCreate / tenants, 2)}; ${s((r) => r.operator.reconcileErrors, 0)}`
    ],
    ["CPU seconds in the Go floor", each((r) => cpuRow(r.go?.cpu))],
    ["CPU seconds in the TS floor", each((r) => cpuRow(r.ts?.cpu))],
    ...(runs.some((r) => r.ts?.watched !== undefined)
      ? ([
          [
            "TS floor with the operator's watches open: seconds (ratio to the TS floor)",
            each((r) =>
              r.ts?.watched === undefined
                ? skipped
                : `${(r.ts.watched.millis / 1000).toFixed(1)} (${(r.ts.watched.millis / r.ts.millis).toFixed(2)})`
            )
          ],
          [
            "CPU seconds in the TS floor with the operator's watches open",
            each((r) => cpuRow(r.ts?.watched?.cpu))
          ]
        ] as const)
      : []),
    ["CPU seconds in the operator phase", each((r) => cpuRow(r.operator.cpu))],
    ["seconds to create the N Tenants (part of the operator time)", s((r) => r.operator.createMillis / 1000)]
  ]
  const operatorLine = withUsage
    ? "the operator with its usage controller on (BENCH_USAGE=1)"
    : "the operator with --enable-usage=false (the floors do the tenant controller's job only; BENCH_USAGE=1 turns it on)"
  return [
    `\nOperator benchmark — ${machine()}`,
    `N = ${tenants} tenants, concurrency ${concurrency}, ${inFlight} creates in flight; ${operatorLine}; ` +
      (runs.length === 1
        ? "one run"
        : `${runs.length} runs, each on a fresh control plane: median (min–max) of the runs, or each run's, separated by \\|`),
    "",
    first,
    "",
    table(["figure", "value"], rows),
    ""
  ].join("\n")
}
