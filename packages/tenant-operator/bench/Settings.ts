/**
 * What an operator benchmark run is asked to do, from the environment or flags (a flag wins), read
 * once at start, and the benchmark's progress line on stderr. Knows nothing of how anything is
 * measured.
 *
 * BENCH_TENANTS / --tenants (1000), BENCH_CONCURRENCY / --concurrency (16: the operator's
 * --max-concurrent-reconciles and both floors' workers), BENCH_IN_FLIGHT / --in-flight (32:
 * Tenant creates in flight, in every phase), BENCH_RUNS / --runs (1: complete runs, each on a
 * control plane of its own), BENCH_FLOOR=0 / --no-floor (skip both floors: a memory run at large
 * N), BENCH_TS_FLOOR=0 / --no-ts-floor (skip the TypeScript floor), BENCH_FLOOR_WATCHED=1 /
 * --floor-watched (the TypeScript floor once more with the operator's watches open), BENCH_USAGE=1
 * / --usage (leave the operator's usage controller on), BENCH_MEMORY_LIMIT_MIB /
 * --memory-limit-mib (each operator process in a memory cgroup with this limit: `MemoryCgroup.ts`).
 */

const positive = (flag: string, env: string, fallback: number): number => {
  const raw = process.argv.find((a) => a.startsWith(`--${flag}=`))?.slice(flag.length + 3) ?? process.env[env]
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${env} / --${flag}: a positive integer, not "${raw}"`)
  return value
}

const switched = (flag: string, env: string, on: "0" | "1"): boolean =>
  process.env[env] === on || process.argv.includes(`--${flag}`)

export const tenants = positive("tenants", "BENCH_TENANTS", 1000)
export const concurrency = positive("concurrency", "BENCH_CONCURRENCY", 16)
export const inFlight = positive("in-flight", "BENCH_IN_FLIGHT", 32)
export const runs = positive("runs", "BENCH_RUNS", 1)
/** The Go floor (tools/writefloor): the floor the operator is compared with. */
export const withGoFloor = !switched("no-floor", "BENCH_FLOOR", "0")
/** The TypeScript floor (a bare `@kleff/k8s` client): a second line, on unless skipped. */
export const withTsFloor = withGoFloor && !switched("no-ts-floor", "BENCH_TS_FLOOR", "0")
/**
 * The TypeScript floor a second time with the operator's watches open (a cache per kind it
 * watches, in this process), to tell the API server's cost of serving those watches from the cost
 * of the controller itself.
 */
export const withWatchedFloor = withTsFloor && switched("floor-watched", "BENCH_FLOOR_WATCHED", "1")
/**
 * The operator's usage controller (status.usage from each namespace's quota): off unless asked
 * for, since neither floor does its job, only the tenant controller's.
 */
export const withUsage = switched("usage", "BENCH_USAGE", "1")
/** A memory limit for each operator process (a real cgroup, as a pod's), in MiB; none by default. */
export const memoryLimitMiB: number | undefined =
  process.env.BENCH_MEMORY_LIMIT_MIB === undefined &&
  !process.argv.some((a) => a.startsWith("--memory-limit-mib="))
    ? undefined
    : positive("memory-limit-mib", "BENCH_MEMORY_LIMIT_MIB", 1)
/** Tenants whose drift repair is timed. */
export const driftSamples = Math.min(5, tenants)

export const progress = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`)
}
