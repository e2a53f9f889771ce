// log.ts owns human-facing progress output. Everything goes to stderr so
// that stdout carries only machine-readable results (the kubeconfig path).
import { readFileSync } from "node:fs"

export function info(message: string): void {
  process.stderr.write(`${message}\n`)
}

export function formatDuration(ms: number): string {
  const seconds = ms / 1000
  if (seconds < 60) return `${seconds.toFixed(1)}s`
  const minutes = Math.floor(seconds / 60)
  return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`
}

/** The last `lines` lines of a log file, or a note when it cannot be read. */
export function tailFile(path: string, lines = 30): string {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    return `(cannot read ${path}: ${(error as Error).message})`
  }
  const all = text.trimEnd().split("\n")
  return all.slice(-lines).join("\n")
}

/** An error whose message is meant for the user as is (no stack trace). */
export class UserError extends Error {
  override name = "UserError"
  /** Process exit code the CLI should use. */
  readonly exitCode: number

  constructor(message: string, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
}
