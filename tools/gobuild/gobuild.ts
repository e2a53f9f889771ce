// gobuild.ts owns building a Go program of tools/ (the control plane, promcheck) into a cache
// directory outside the clone, named by a hash of its sources and build recipe: the build runs
// only when that directory is missing, into a private temporary directory renamed into place
// (an interrupted build never leaves a partial binary where it would be used), with its log
// beside it and a heartbeat on stderr; and keeping the cache bounded. What a program is called,
// where its cache lives and how it is linked are its caller's.
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync
} from "node:fs"
import { dirname, join, relative, sep } from "node:path"
import { formatDuration, info, UserError } from "../cluster/log.ts"

const BUILD_HEARTBEAT_MS = 30_000
const STALE_TMP_MS = 24 * 60 * 60_000

/** One Go program and how to build it. */
export interface GoProgram {
  /** How progress messages name it, e.g. `control plane v1.36.3`. */
  readonly label: string
  /** Why Go is needed, for the message when it is missing, e.g. `to build the local control plane`. */
  readonly purpose: string
  /** Its Go module directory. */
  readonly sourceDir: string
  /** The executable's file name inside its build directory. */
  readonly binaryName: string
  /** `go` arguments that build it to `output` (run in sourceDir with CGO_ENABLED=0). */
  readonly buildArgs: (output: string) => ReadonlyArray<string>
  /** Shown before a build: how long a cold one takes, e.g. `~1 min on 2 cores`. */
  readonly coldEstimate: string
  /** The names of its build directories in their cache root: all but the newest two are pruned. */
  readonly buildPattern: RegExp
}

function listSources(dir: string): string[] {
  const files: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) files.push(...listSources(path))
    else if (
      entry.isFile() &&
      ((entry.name.endsWith(".go") && !entry.name.endsWith("_test.go")) ||
        entry.name === "go.mod" ||
        entry.name === "go.sum")
    ) {
      files.push(path)
    }
  }
  return files
}

/** Short hash of go.mod, go.sum, the Go sources (not tests) and the build recipe: any change means a new build. */
export function sourceHash(program: GoProgram): string {
  const hash = createHash("sha256")
  hash.update(program.buildArgs("OUT").join("\0"))
  for (const file of listSources(program.sourceDir).sort()) {
    hash.update(`\0${relative(program.sourceDir, file)}\0`)
    hash.update(readFileSync(file))
  }
  return hash.digest("hex").slice(0, 12)
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function requireGo(program: GoProgram): void {
  const probe = spawnSync("go", ["version"], { encoding: "utf8" })
  if (probe.error !== undefined || probe.status !== 0) {
    throw new UserError(
      `Go is needed once ${program.purpose}, but \`go\` was not found on PATH.\n` +
        "Install Go 1.26 or newer (https://go.dev/doc/install, or your package manager), make sure `go version` works, then retry."
    )
  }
}

async function runBuild(program: GoProgram, tmpDir: string, logPath: string): Promise<void> {
  const logFd = openSync(logPath, "w")
  const started = Date.now()
  const heartbeat = setInterval(
    () => info(`  … still building (${formatDuration(Date.now() - started)}); log: ${logPath}`),
    BUILD_HEARTBEAT_MS
  )
  let interrupted: NodeJS.Signals | undefined
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn("go", [...program.buildArgs(join(tmpDir, program.binaryName))], {
        cwd: program.sourceDir,
        env: { ...process.env, CGO_ENABLED: "0" },
        stdio: ["ignore", logFd, logFd]
      })
      // On Ctrl-C or SIGTERM stop the build and let the callers' cleanup run
      // (temporary build directory, `up` lock) instead of dying mid-way.
      const onSignal = (signal: NodeJS.Signals): void => {
        interrupted = signal
        child.kill("SIGTERM")
      }
      process.once("SIGINT", onSignal)
      process.once("SIGTERM", onSignal)
      child.on("error", reject)
      child.on("exit", (exitCode) => {
        process.off("SIGINT", onSignal)
        process.off("SIGTERM", onSignal)
        resolve(exitCode)
      })
    })
    if (interrupted !== undefined) {
      throw new UserError(
        `build of ${program.binaryName} interrupted (${interrupted}); nothing was installed`,
        130
      )
    }
    if (code !== 0) {
      throw new UserError(`building ${program.binaryName} failed (exit ${code}); see ${logPath}`)
    }
  } finally {
    clearInterval(heartbeat)
    closeSync(logFd)
  }
  info(`built ${program.label} in ${formatDuration(Date.now() - started)}`)
}

/**
 * Build directories under root whose binary a live process runs (a cluster's
 * components, a kubectl): read from /proc/<pid>/exe, so clusters in any state
 * directory count. Empty where /proc is unavailable (macOS).
 */
function buildsInUse(root: string): Set<string> {
  const inUse = new Set<string>()
  let pids: string[]
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name))
  } catch {
    return inUse
  }
  // /proc/<pid>/exe holds the resolved path: compare against root resolved too.
  let prefix: string
  try {
    prefix = realpathSync(root) + sep
  } catch {
    return inUse
  }
  for (const pid of pids) {
    let exe: string
    try {
      exe = readlinkSync(`/proc/${pid}/exe`)
    } catch {
      continue // gone, a kernel thread, or another user's process
    }
    if (exe.startsWith(prefix)) {
      const name = exe.slice(prefix.length).split(sep)[0] ?? ""
      if (name !== "") inUse.add(join(root, name))
    }
  }
  return inUse
}

/**
 * Keep a cache root bounded: remove all builds (directories named like `buildPattern`) but the
 * current one, the most recent other one, and any other that a running process still uses; and
 * day-old leftovers of builds that failed or were killed.
 */
function pruneCache(buildDir: string, buildPattern: RegExp): void {
  const root = dirname(buildDir)
  const builds: { path: string; mtime: number }[] = []
  for (const name of readdirSync(root)) {
    const path = join(root, name)
    try {
      if (name.startsWith(".build-")) {
        if (Date.now() - statSync(path).mtimeMs > STALE_TMP_MS) rmSync(path, { recursive: true, force: true })
      } else if (name.endsWith(".build.log") && !existsSync(path.slice(0, -".build.log".length))) {
        // log of a failed or interrupted build
        if (Date.now() - statSync(path).mtimeMs > STALE_TMP_MS) rmSync(path, { force: true })
      } else if (buildPattern.test(name) && path !== buildDir) {
        builds.push({ path, mtime: statSync(path).mtimeMs })
      }
    } catch {
      // vanished concurrently
    }
  }
  builds.sort((a, b) => b.mtime - a.mtime)
  const inUse = buildsInUse(root)
  for (const old of builds.slice(1)) {
    if (inUse.has(old.path)) continue
    rmSync(old.path, { recursive: true, force: true })
    rmSync(`${old.path}.build.log`, { force: true })
  }
}

/**
 * Builds `program` into `buildDir` (whose parent is its cache root) unless its binary is there.
 * `prepare` runs on the finished temporary directory before it is renamed into place (to add
 * links beside the binary). After a build, older builds are pruned. Resolves to the binary's path.
 */
export async function ensureBuilt(
  program: GoProgram,
  buildDir: string,
  prepare: (tmpDir: string) => void = () => {}
): Promise<string> {
  const binary = join(buildDir, program.binaryName)
  if (isExecutable(binary)) return binary
  requireGo(program)
  const root = dirname(buildDir)
  mkdirSync(root, { recursive: true })
  const logPath = `${buildDir}.build.log`
  info(`building ${program.label} (first time for these sources: ${program.coldEstimate})…`)
  info(`  build log: ${logPath}`)
  const tmpDir = mkdtempSync(join(root, ".build-"))
  try {
    await runBuild(program, tmpDir, logPath)
    prepare(tmpDir)
    try {
      renameSync(tmpDir, buildDir)
    } catch (error) {
      // A concurrent build finished first; its result is equivalent.
      if (!existsSync(binary)) throw error
    }
  } finally {
    rmSync(tmpDir, { recursive: true, force: true })
  }
  pruneCache(buildDir, program.buildPattern)
  return binary
}
