/**
 * Reading the operator's `/metrics` for the benchmark: the Prometheus text format parsed into
 * samples, the figures the benchmark reports (API writes, reconciles, queue depth) and quantiles
 * from histogram buckets, computed as PromQL's `histogram_quantile` does. Pure except `scrape`.
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

export const parse = (text: string): ReadonlyArray<Sample> => {
  const samples: Array<Sample> = []
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue
    const match = sampleLine.exec(line)
    if (match === null) continue
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? "").matchAll(labelPair)) labels[pair[1] ?? ""] = pair[2] ?? ""
    samples.push({ name: match[1] ?? "", labels, value: Number(match[3]) })
  }
  return samples
}

/**
 * One scrape, sent again (at most twice more) when the connection failed before an answer. A
 * 10,000-Tenant run once failed here with ECONNRESET during the resync, the operator still
 * serving; the likely cause is the race of a kept-alive socket the client reuses just as the
 * server's keep-alive timeout closes it (the socket sits idle while a large answer is parsed).
 * A scrape is idempotent; an answer other than 200 is not retried.
 */
export const scrape = async (port: number): Promise<ReadonlyArray<Sample>> => {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`).catch((error: unknown) => {
      if (attempt >= 3) throw error
      return undefined
    })
    if (response === undefined) continue
    if (!response.ok) throw new Error(`/metrics answered ${response.status}`)
    return parse(await response.text())
  }
}

const sum = (samples: ReadonlyArray<Sample>, name: string, where: (labels: Sample["labels"]) => boolean) =>
  samples.filter((s) => s.name === name && where(s.labels)).reduce((total, s) => total + s.value, 0)

const writeMethods = new Set(["POST", "PUT", "PATCH", "DELETE"])

/** `rest_client_requests_total` for write methods, by method, and how many were answered with a non-2xx code. */
export const writes = (
  samples: ReadonlyArray<Sample>
): {
  readonly total: number
  readonly byMethod: Readonly<Record<string, number>>
  readonly failed: number
} => {
  const byMethod: Record<string, number> = {}
  let failed = 0
  for (const s of samples) {
    if (s.name !== "rest_client_requests_total") continue
    const method = s.labels.method ?? ""
    if (!writeMethods.has(method)) continue
    byMethod[method] = (byMethod[method] ?? 0) + s.value
    if (!(s.labels.code ?? "").startsWith("2")) failed += s.value
  }
  return { total: Object.values(byMethod).reduce((a, b) => a + b, 0), byMethod, failed }
}

/** Reconciles finished, whatever their result. */
export const reconciles = (samples: ReadonlyArray<Sample>): number =>
  sum(samples, "controller_runtime_reconcile_total", () => true)

export const reconcileErrors = (samples: ReadonlyArray<Sample>): number =>
  sum(samples, "controller_runtime_reconcile_errors_total", () => true)

export const queueDepth = (samples: ReadonlyArray<Sample>): number =>
  sum(samples, "workqueue_depth", () => true)

export const activeWorkers = (samples: ReadonlyArray<Sample>): number =>
  sum(samples, "controller_runtime_active_workers", () => true)

/**
 * The `q` quantile of histogram `name` (`_bucket` series), interpolated linearly inside the bucket
 * it falls in, as `histogram_quantile` does; `undefined` without observations.
 */
export const quantile = (samples: ReadonlyArray<Sample>, name: string, q: number): number | undefined => {
  const buckets = samples
    .filter((s) => s.name === `${name}_bucket`)
    .map((s) => ({
      le: s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le),
      count: s.value
    }))
    .sort((a, b) => a.le - b.le)
  const total = buckets.at(-1)?.count ?? 0
  if (total === 0) return undefined
  const rank = q * total
  let lower = 0
  let below = 0
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return lower
      const inBucket = bucket.count - below
      return inBucket === 0 ? bucket.le : lower + (bucket.le - lower) * ((rank - below) / inBucket)
    }
    lower = bucket.le
    below = bucket.count
  }
  return lower
}
