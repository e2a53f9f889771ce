/**
 * A real memory limit for the operator under benchmark: a Linux memory cgroup (v2, or v1's memory
 * controller) with the limit a container runtime would set from the Deployment's
 * `resources.limits.memory`. The process is placed in it before node starts (so V8 sizes its heap
 * from the limit, as in a pod), and the kernel's own accounting says what it used at most and
 * whether the OOM killer struck. Needs root; fails with the reason otherwise.
 *
 * It owns the cgroup's directory and nothing in it but the limit and the process; it must not
 * touch any other cgroup.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export interface MemoryCgroup {
  readonly limitBytes: number
  /** A shell command prefix that moves the shell into the cgroup, then runs the command (`exec`). */
  readonly enter: (command: ReadonlyArray<string>) => ReadonlyArray<string>
  /** The most memory the cgroup's processes have used, as the kernel counts it for the limit. */
  readonly peakBytes: () => number
  /** How many processes the OOM killer has killed in it. */
  readonly oomKills: () => number
  /** Removes the cgroup (its processes must have exited). */
  readonly remove: () => void
}

const v2Root = "/sys/fs/cgroup"
const v1Root = "/sys/fs/cgroup/memory"

const counter = (file: string, name: string): number =>
  Number(new RegExp(`^${name} (\\d+)$`, "m").exec(readFileSync(file, "utf8"))?.[1] ?? 0)

const shellQuote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`

/** A new memory cgroup named `name` limited to `limitBytes` (no swap beyond it where the kernel offers that). */
export const create = (name: string, limitBytes: number): MemoryCgroup => {
  const v2 =
    existsSync(join(v2Root, "cgroup.controllers")) &&
    readFileSync(join(v2Root, "cgroup.controllers"), "utf8").split(/\s+/).includes("memory")
  const root = v2 ? v2Root : v1Root
  if (!existsSync(root)) throw new Error(`no memory cgroup controller at ${v2Root} or ${v1Root}`)
  const dir = join(root, name)
  try {
    mkdirSync(dir)
  } catch (error) {
    throw new Error(`cannot create the memory cgroup ${dir} (root is needed): ${String(error)}`)
  }
  if (v2) {
    writeFileSync(join(dir, "memory.max"), String(limitBytes))
    writeFileSync(join(dir, "memory.swap.max"), "0")
  } else {
    writeFileSync(join(dir, "memory.limit_in_bytes"), String(limitBytes))
    // memsw exists only where swap accounting is on; the limit above is the one that matters.
    const memsw = join(dir, "memory.memsw.limit_in_bytes")
    if (existsSync(memsw)) writeFileSync(memsw, String(limitBytes))
  }
  const procs = join(dir, "cgroup.procs")
  return {
    limitBytes,
    enter: (command) => [
      "/bin/sh",
      "-c",
      `echo $$ > ${shellQuote(procs)} && exec ${command.map(shellQuote).join(" ")}`
    ],
    peakBytes: () =>
      v2
        ? Number(readFileSync(join(dir, "memory.peak"), "utf8"))
        : Number(readFileSync(join(dir, "memory.max_usage_in_bytes"), "utf8")),
    oomKills: () =>
      v2
        ? counter(join(dir, "memory.events"), "oom_kill")
        : counter(join(dir, "memory.oom_control"), "oom_kill"),
    remove: () => {
      if (existsSync(dir)) rmdirSync(dir)
    }
  }
}
