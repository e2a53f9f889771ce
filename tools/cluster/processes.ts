// processes.ts owns the lifecycle of control-plane OS processes: starting a
// component detached in its own process group with output to a log file,
// telling whether a recorded pid is still that component, and stopping it
// (SIGTERM to the group, then SIGKILL after a grace period).
import { spawn } from "node:child_process"
import { closeSync, openSync, readFileSync } from "node:fs"
import type { Command } from "./binaries.ts"

/** What the state file records about one running component. */
export interface ProcessRecord {
  pid: number
  program: string
  args: string[]
  log: string
  startedAt: string
}

/** Start command detached (own process group via setsid), stdout and stderr appended to logPath. */
export function startDetached(command: Command, args: string[], logPath: string): ProcessRecord {
  const logFd = openSync(logPath, "a")
  try {
    const fullArgs = [...command.prefixArgs, ...args]
    const child = spawn(command.program, fullArgs, {
      detached: true,
      stdio: ["ignore", logFd, logFd]
    })
    if (child.pid === undefined) {
      throw new Error(`could not start ${command.program}`)
    }
    // Exit codes of a child that dies while this process still runs are
    // reaped by Node; unref so this process can exit and leave it running.
    child.on("error", () => {})
    child.unref()
    return {
      pid: child.pid,
      program: command.program,
      args: fullArgs,
      log: logPath,
      startedAt: new Date().toISOString()
    }
  } finally {
    closeSync(logFd)
  }
}

function signalExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Whether record.pid is alive and still runs the recorded command line
 * (guards against pid reuse). Where /proc is unavailable (macOS) only
 * liveness is checked.
 */
export function isRunning(record: ProcessRecord): boolean {
  if (!signalExists(record.pid)) return false
  let stat: string
  let cmdline: string
  try {
    stat = readFileSync(`/proc/${record.pid}/stat`, "utf8")
    cmdline = readFileSync(`/proc/${record.pid}/cmdline`, "utf8")
  } catch {
    return process.platform !== "linux"
  }
  // Field 3 of /proc/<pid>/stat, after the parenthesised command name, is the state.
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
  if (state === "Z" || state === "X") return false
  // Compare the trailing arguments rather than argv[0]: they hold paths unique
  // to this cluster, and still match when the program is a wrapper that execs.
  const argv = cmdline.replace(/\0$/, "").split("\0")
  const tail = argv.slice(Math.max(0, argv.length - record.args.length))
  return tail.length === record.args.length && tail.every((arg, i) => arg === record.args[i])
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal) // the whole process group the component leads
  } catch {
    try {
      process.kill(pid, signal)
    } catch {
      // already gone
    }
  }
}

/** Stop a component: SIGTERM, wait up to graceMs, then SIGKILL. Resolves once it is gone. */
export async function stopProcess(
  record: ProcessRecord,
  graceMs = 15_000
): Promise<"not-running" | "terminated" | "killed"> {
  if (!isRunning(record)) return "not-running"
  signalGroup(record.pid, "SIGTERM")
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline) {
    if (!isRunning(record)) return "terminated"
    await sleep(100)
  }
  signalGroup(record.pid, "SIGKILL")
  for (let i = 0; i < 50 && isRunning(record); i++) await sleep(100)
  return "killed"
}
