/**
 * Reachability as cyclonus's NetworkPolicy matcher computes it from a cluster's live policies
 * (tools/netpol, built on first use): the request (synthetic endpoints — a namespace and pod
 * labels, or an address outside the cluster — and ports), the table it answers, and a compact
 * rendering of it for failure messages and the README. Test helper: it decides nothing about
 * traffic itself (that is the tool's), and creates nothing in the cluster.
 */
import { runCommand } from "./e2e/harness.ts"

/** A pod that need not exist (its namespace must: the tool reads its labels), or, without a namespace, an address outside the cluster. */
export interface Endpoint {
  readonly name: string
  readonly namespace?: string
  readonly labels?: Readonly<Record<string, string>>
  readonly ip?: string
}

export interface Port {
  readonly port: number
  readonly protocol: "TCP" | "UDP" | "SCTP"
}

export interface Direction {
  readonly allowed: boolean
  /** The policies of this direction that select the pod (none: not isolated, everything passes). */
  readonly policies: ReadonlyArray<string>
  /** Those of them whose rules admit the traffic. */
  readonly allowedBy: ReadonlyArray<string>
}

export interface Row {
  readonly from: string
  readonly to: string
  readonly port: number
  readonly protocol: string
  readonly allowed: boolean
  readonly egress: Direction
  readonly ingress: Direction
}

export interface Reachability {
  /** The policies read, `namespace/name`. */
  readonly policies: ReadonlyArray<string>
  readonly endpoints: ReadonlyArray<
    Endpoint & { readonly namespaceLabels?: Readonly<Record<string, string>>; readonly external: boolean }
  >
  readonly table: ReadonlyArray<Row>
}

interface NetpolTool {
  readonly netpolPath: () => Promise<string>
}

/**
 * The netpol binary, built when its sources changed (the first time minutes with empty Go caches).
 * tools/ is its own TypeScript project, which this package's does not reference: hence the import
 * by URL.
 */
export const netpolBinary = async (): Promise<string> => {
  const tool = (await import(new URL("../../../tools/netpol/netpol.ts", import.meta.url).href)) as NetpolTool
  return tool.netpolPath()
}

/** The table for every ordered pair of distinct endpoints on every port, from the policies live now. */
export const reachability = async (
  binary: string,
  kubeconfig: string,
  endpoints: ReadonlyArray<Endpoint>,
  ports: ReadonlyArray<Port>
): Promise<Reachability> => {
  const run = await runCommand(binary, ["--kubeconfig", kubeconfig, "--input", "-"], {
    input: JSON.stringify({ endpoints, ports }),
    timeoutMillis: 60_000
  })
  if (run.code !== 0) throw new Error(`netpol exited ${run.code ?? run.signal}:\n${run.stderr}`)
  return JSON.parse(run.stdout) as Reachability
}

export const portLabel = (port: { readonly port: number; readonly protocol: string }): string =>
  `${port.port}/${port.protocol}`

/** The row for one question; it must be in the table. */
export const rowOf = (table: Reachability, from: string, to: string, port: Port): Row => {
  const row = table.table.find(
    (r) => r.from === from && r.to === to && r.port === port.port && r.protocol === port.protocol
  )
  if (row === undefined) throw new Error(`no row ${from} -> ${to} on ${portLabel(port)}`)
  return row
}

/** One row in words, with the policies behind each side. */
export const describeRow = (row: Row): string => {
  const side = (d: Direction) =>
    d.policies.length === 0 ? "not isolated" : `allowed by [${d.allowedBy.join(", ")}]`
  return `${row.from} -> ${row.to} ${portLabel(row)}: ${row.allowed ? "allowed" : "denied"} (egress ${side(row.egress)}; ingress ${side(row.ingress)})`
}

/**
 * The table as a Markdown grid: one line per source, one column per destination, each cell the
 * ports allowed (`-` when none, blank for the source itself).
 */
export const grid = (table: Reachability, ports: ReadonlyArray<Port>): string => {
  const names = table.endpoints.map((endpoint) => endpoint.name)
  const cell = (from: string, to: string) => {
    if (from === to) return ""
    const open = ports.filter((port) =>
      table.table.some(
        (r) =>
          r.from === from && r.to === to && r.port === port.port && r.protocol === port.protocol && r.allowed
      )
    )
    if (open.length === ports.length) return "all"
    return open.length === 0 ? "-" : open.map(portLabel).join(" ")
  }
  return [
    `| from \\ to | ${names.join(" | ")} |`,
    `| --- | ${names.map(() => "---").join(" | ")} |`,
    ...names.map((from) => `| ${from} | ${names.map((to) => cell(from, to)).join(" | ")} |`)
  ].join("\n")
}
