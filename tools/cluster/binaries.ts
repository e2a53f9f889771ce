// binaries.ts owns the control-plane executables: building kleff-control-plane
// from tools/control-plane into a versioned cache directory outside the clone
// (only when missing, atomically), and honouring envtest's KUBEBUILDER_ASSETS
// for etcd and kube-apiserver.
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
  renameSync,
  rmSync,
  statSync
} from "node:fs"
import { join, relative } from "node:path"
import { formatDuration, info, UserError } from "./log.ts"
import { binaryCacheRoot, controlPlaneSourceDir } from "./paths.ts"

export const BINARY_NAME = "kleff-control-plane"

/** Rough cold-build duration on a 2-core machine, shown before the first build. */
const COLD_BUILD_ESTIMATE_MIN = "5–10"
const BUILD_HEARTBEAT_MS = 30_000

/** How one control-plane component is executed: a program and the arguments before its own flags. */
export interface Command {
  program: string
  prefixArgs: string[]
}

export interface Binaries {
  kubernetesVersion: string
  /** Directory of the cached kleff-control-plane build. */
  buildDir: string
  etcd: Command
  kubeApiserver: Command
  kubeControllerManager: Command
  pki: Command
  /** Set when etcd and kube-apiserver come from $KUBEBUILDER_ASSETS. */
  envtestAssets?: string
}

/** The k8s.io/kubernetes version required by tools/control-plane/go.mod. */
export function kubernetesVersion(): string {
  const goMod = readFileSync(join(controlPlaneSourceDir, "go.mod"), "utf8")
  const match = /^\s*k8s\.io\/kubernetes\s+(v\d+\.\d+\.\d+\S*)/m.exec(goMod)
  const version = match?.[1]
  if (version === undefined) {
    throw new UserError(`cannot find the k8s.io/kubernetes version in ${controlPlaneSourceDir}/go.mod`)
  }
  return version
}

function ldflags(version: string): string {
  const [major, minor] = version.replace(/^v/, "").split(".")
  const pkg = "k8s.io/component-base/version"
  return [
    "-s -w",
    `-X ${pkg}.gitVersion=${version}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`
  ].join(" ")
}

function buildArgs(version: string, output: string): string[] {
  return ["build", "-trimpath", `-ldflags=${ldflags(version)}`, "-o", output, "."]
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
export function sourceHash(version: string): string {
  const hash = createHash("sha256")
  hash.update(buildArgs(version, "OUT").join("\0"))
  for (const file of listSources(controlPlaneSourceDir).sort()) {
    hash.update(`\0${relative(controlPlaneSourceDir, file)}\0`)
    hash.update(readFileSync(file))
  }
  return hash.digest("hex").slice(0, 12)
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function requireGo(version: string): void {
  const probe = spawnSync("go", ["version"], { encoding: "utf8" })
  if (probe.error !== undefined || probe.status !== 0) {
    throw new UserError(
      `Go is needed once to build the local control plane (Kubernetes ${version}), but \`go\` was not found on PATH.\n` +
        "Install Go 1.26 or newer (https://go.dev/doc/install, or your package manager), make sure `go version` works, then retry."
    )
  }
}

async function runBuild(version: string, tmpDir: string, logPath: string): Promise<void> {
  const logFd = openSync(logPath, "w")
  const started = Date.now()
  const heartbeat = setInterval(
    () => info(`  … still building (${formatDuration(Date.now() - started)}); log: ${logPath}`),
    BUILD_HEARTBEAT_MS
  )
  let interrupted: NodeJS.Signals | undefined
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn("go", buildArgs(version, join(tmpDir, BINARY_NAME)), {
        cwd: controlPlaneSourceDir,
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
      throw new UserError(`build of ${BINARY_NAME} interrupted (${interrupted}); nothing was installed`, 130)
    }
    if (code !== 0) {
      throw new UserError(`building ${BINARY_NAME} failed (exit ${code}); see ${logPath}`)
    }
  } finally {
    clearInterval(heartbeat)
    closeSync(logFd)
  }
  info(`built control plane ${version} in ${formatDuration(Date.now() - started)}`)
}

const BUILD_DIR_PATTERN = /^v\d+\.\d+\.\d+.*-[0-9a-f]{12}$/
const STALE_TMP_MS = 24 * 60 * 60_000

/**
 * Keep the cache bounded: remove all builds but the current one and the most
 * recent other one (a running cluster may still use it; Linux keeps a running
 * binary alive anyway), and day-old leftovers of builds that failed or were killed.
 */
function pruneCache(root: string, current: string): void {
  const builds: { path: string; mtime: number }[] = []
  for (const name of readdirSync(root)) {
    const path = join(root, name)
    try {
      if (name.startsWith(".build-")) {
        if (Date.now() - statSync(path).mtimeMs > STALE_TMP_MS) rmSync(path, { recursive: true, force: true })
      } else if (name.endsWith(".build.log") && !existsSync(path.slice(0, -".build.log".length))) {
        // log of a failed or interrupted build
        if (Date.now() - statSync(path).mtimeMs > STALE_TMP_MS) rmSync(path, { force: true })
      } else if (BUILD_DIR_PATTERN.test(name) && path !== current) {
        builds.push({ path, mtime: statSync(path).mtimeMs })
      }
    } catch {
      // vanished concurrently
    }
  }
  builds.sort((a, b) => b.mtime - a.mtime)
  for (const old of builds.slice(1)) {
    rmSync(old.path, { recursive: true, force: true })
    rmSync(`${old.path}.build.log`, { force: true })
  }
}

/** The cache directory for the current sources (it may not be built yet). */
export function currentBuildDir(version: string = kubernetesVersion()): string {
  return join(binaryCacheRoot(), `${version}-${sourceHash(version)}`)
}

/** Path of the cached kleff-control-plane binary, building it first when missing. */
export async function ensureControlPlaneBinary(): Promise<{
  version: string
  buildDir: string
  binary: string
}> {
  const version = kubernetesVersion()
  const root = binaryCacheRoot()
  const buildDir = currentBuildDir(version)
  const binary = join(buildDir, BINARY_NAME)
  if (isExecutable(binary)) return { version, buildDir, binary }

  requireGo(version)
  mkdirSync(root, { recursive: true })
  const logPath = `${buildDir}.build.log`
  info(
    `building control plane ${version} (first time for these sources: ~${COLD_BUILD_ESTIMATE_MIN} min on 2 cores with a cold Go build cache, seconds when warm)…`
  )
  info(`  build log: ${logPath}`)
  // Build into a private temporary directory and rename it into place: an
  // interrupted build never leaves a partial binary where it would be used.
  const tmpDir = mkdtempSync(join(root, ".build-"))
  try {
    await runBuild(version, tmpDir, logPath)
    try {
      renameSync(tmpDir, buildDir)
    } catch (error) {
      // A concurrent build finished first; its result is equivalent.
      if (!existsSync(binary)) throw error
    }
  } finally {
    rmSync(tmpDir, { recursive: true, force: true })
  }
  pruneCache(root, buildDir)
  return { version, buildDir, binary }
}

/** The envtest asset directory from KUBEBUILDER_ASSETS, if it holds etcd and kube-apiserver. */
function envtestAssets(): string | undefined {
  const dir = process.env.KUBEBUILDER_ASSETS
  if (dir === undefined || dir === "") return undefined
  const missing = ["etcd", "kube-apiserver"].filter((name) => !isExecutable(join(dir, name)))
  if (missing.length > 0) {
    info(`KUBEBUILDER_ASSETS=${dir} has no executable ${missing.join(", ")}; using ${BINARY_NAME} instead`)
    return undefined
  }
  return dir
}

/** Resolve every component's command, building kleff-control-plane if needed. */
export async function ensureBinaries(): Promise<Binaries> {
  const { version, buildDir, binary } = await ensureControlPlaneBinary()
  const ours = (subcommand: string): Command => ({ program: binary, prefixArgs: [subcommand] })
  const assets = envtestAssets()
  return {
    kubernetesVersion: version,
    buildDir,
    etcd: assets !== undefined ? { program: join(assets, "etcd"), prefixArgs: [] } : ours("etcd"),
    kubeApiserver:
      assets !== undefined
        ? { program: join(assets, "kube-apiserver"), prefixArgs: [] }
        : ours("kube-apiserver"),
    kubeControllerManager: ours("kube-controller-manager"),
    pki: ours("pki"),
    ...(assets !== undefined ? { envtestAssets: assets } : {})
  }
}
