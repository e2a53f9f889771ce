/**
 * Where the CPU went during a phase of the benchmark: CPU seconds of named processes (from
 * `/proc/<pid>/stat`) and of the whole machine (from `/proc/stat`), so a table can say how much
 * the API server, etcd, the operator and everyone else on this shared machine used. Linux only.
 */
import { readFileSync } from "node:fs"

/** Clock ticks per second of `/proc` times (USER_HZ): 100 on every Linux this runs on. */
const ticksPerSecond = 100

/** CPU seconds (user + system) a process has used; 0 once it is gone. */
const processSeconds = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name (which may hold spaces) start at field 3 ("state").
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
  } catch {
    return 0
  }
}

/** Busy CPU seconds of the whole machine, all cores (everything but idle and iowait). */
const machineSeconds = (): number => {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? ""
  const ticks = line.trim().split(/\s+/).slice(1).map(Number)
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0)
  return (total - (ticks[3] ?? 0) - (ticks[4] ?? 0)) / ticksPerSecond
}

export interface CpuSample {
  readonly at: number
  readonly machine: number
  readonly processes: Readonly<Record<string, number>>
}

/** CPU seconds so far of each named pid, and of the machine. */
export const sample = (pids: Readonly<Record<string, number>>): CpuSample => ({
  at: performance.now(),
  machine: machineSeconds(),
  processes: Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processSeconds(pid)]))
})

export interface CpuUse {
  readonly wallSeconds: number
  /** CPU seconds per named process, plus `other`: the machine's busy time none of them account for. */
  readonly seconds: Readonly<Record<string, number>>
}

/** The CPU used between two samples of the same processes. */
export const between = (from: CpuSample, to: CpuSample): CpuUse => {
  const seconds: Record<string, number> = {}
  let named = 0
  for (const [name, end] of Object.entries(to.processes)) {
    const used = Math.max(0, end - (from.processes[name] ?? 0))
    seconds[name] = used
    named += used
  }
  seconds.other = Math.max(0, to.machine - from.machine - named)
  return { wallSeconds: (to.at - from.at) / 1000, seconds }
}
