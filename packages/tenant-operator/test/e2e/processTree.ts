/**
 * The processes under a pid, read from Linux's /proc, for tests that must show a stop leaves
 * nothing running. A process is named by its pid and its start time, so a pid reused by an
 * unrelated process after the original exits is not mistaken for it; a zombie counts as gone.
 * Read-only: it never signals anything.
 */
import { readdirSync, readFileSync } from "node:fs"

export interface ProcessInfo {
  readonly pid: number
  readonly parent: number
  /** Clock ticks after boot (field 22 of /proc/<pid>/stat): with the pid, names one process. */
  readonly startTime: string
  /** Its command line, arguments joined by spaces. */
  readonly command: string
}

/** One process from /proc, or undefined when it no longer exists or is a zombie. */
const readProcess = (pid: number): ProcessInfo | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // After the parenthesised command name: state, ppid, …; starttime is field 22 of the whole line.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    if (fields[0] === "Z" || fields[0] === "X") return undefined
    const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0$/, "").split("\0").join(" ")
    return { pid, parent: Number(fields[1]), startTime: fields[19] ?? "", command }
  } catch {
    return undefined
  }
}

const allProcesses = (): ReadonlyArray<ProcessInfo> =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => readProcess(Number(entry)) ?? [])

/** `root` and every process under it, parents before children. */
export const processTree = (root: number): ReadonlyArray<ProcessInfo> => {
  const children = new Map<number, Array<ProcessInfo>>()
  let top: ProcessInfo | undefined
  for (const info of allProcesses()) {
    if (info.pid === root) top = info
    children.set(info.parent, [...(children.get(info.parent) ?? []), info])
  }
  if (top === undefined) return []
  const tree: Array<ProcessInfo> = []
  const queue: Array<ProcessInfo> = [top]
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    tree.push(next)
    queue.push(...(children.get(next.pid) ?? []))
  }
  return tree
}

/** Whether this very process (same pid, same start time) still runs. */
export const isAlive = (info: ProcessInfo): boolean => readProcess(info.pid)?.startTime === info.startTime
