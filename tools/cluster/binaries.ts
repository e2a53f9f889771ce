// binaries.ts owns the control-plane executables: building kleff-control-plane
// from tools/control-plane into a versioned cache directory outside the clone
// (only when missing, atomically), with a `kubectl` link to it beside it (a
// client of the server's exact version), and honouring envtest's
// KUBEBUILDER_ASSETS for etcd and kube-apiserver.
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
  statSync,
  symlinkSync
} from "node:fs"
import { join, relative, sep } from "node:path"
import { formatDuration, info, UserError } from "./log.ts"
import { binaryCacheRoot, controlPlaneSourceDir } from "./paths.ts"

export const BINARY_NAME = "kleff-control-plane"
/** Name of the link to BINARY_NAME in a build directory that runs its kubectl subcommand. */
export const KUBECTL_NAME = "kubectl"

/** Rough cold-build duration on a 2-core machine (idle to heavily loaded), shown before the first build. */
const COLD_BUILD_ESTIMATE_MIN = "5–15"
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
  /** The version-matched kubectl: a link to kleff-control-plane in buildDir. */
  kubectl: string
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

/**
 * Version stamps, as Kubernetes' hack/lib/version.sh sets them: the server
 * components read k8s.io/component-base/version, kubectl (`kubectl version`,
 * its skew warning, its User-Agent) reads k8s.io/client-go/pkg/version.
 */
function ldflags(version: string): string {
  const [major, minor] = version.replace(/^v/, "").split(".")
  const stamps = ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap((pkg) => [
    `-X ${pkg}.gitVersion=${version}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`
  ])
  return ["-s -w", ...stamps].join(" ")
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

/**
 * Make buildDir/kubectl a link to the kleff-control-plane beside it (relative,
 * so the build directory can be renamed into place). Idempotent and safe to
 * race: a concurrent caller creating the same link is fine.
 */
function linkKubectl(buildDir: string): string {
  const link = join(buildDir, KUBECTL_NAME)
  try {
    if (readlinkSync(link) === BINARY_NAME) return link
    rmSync(link, { force: true }) // a link to something else: replace it
  } catch {
    // missing (or not a link: symlinkSync below reports it)
  }
  try {
    symlinkSync(BINARY_NAME, link)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST" || readlinkSync(link) !== BINARY_NAME) throw error
  }
  return link
}

const BUILD_DIR_PATTERN = /^v\d+\.\d+\.\d+.*-[0-9a-f]{12}$/
const STALE_TMP_MS = 24 * 60 * 60_000

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
 * Keep the cache bounded: remove all builds but the current one, the most
 * recent other one, and any other that a running process (a cluster started
 * from it, a kubectl) still uses; and day-old leftovers of builds that failed
 * or were killed. (Linux would keep a deleted running binary alive, but its
 * kubectl link, and restarts of its clusters, need the directory.)
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
  const inUse = buildsInUse(root)
  for (const old of builds.slice(1)) {
    if (inUse.has(old.path)) continue
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
    `building control plane ${version} (first time for these sources: ~${COLD_BUILD_ESTIMATE_MIN} min on 2 cores with a cold Go build cache, under a minute when warm)…`
  )
  info(`  build log: ${logPath}`)
  // Build into a private temporary directory and rename it into place: an
  // interrupted build never leaves a partial binary where it would be used.
  const tmpDir = mkdtempSync(join(root, ".build-"))
  try {
    await runBuild(version, tmpDir, logPath)
    linkKubectl(tmpDir)
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

/** Path of the version-matched kubectl (a link to kleff-control-plane), building it first when missing. */
export async function kubectlPath(): Promise<string> {
  const { buildDir } = await ensureControlPlaneBinary()
  return linkKubectl(buildDir)
}

/**
 * The kubectl of the current sources' build if it is already built, else
 * the one of buildDir (e.g. a running cluster's) if that has one. Never builds.
 */
export function builtKubectl(buildDir?: string): string | undefined {
  const candidates = [currentBuildDir(), ...(buildDir !== undefined ? [buildDir] : [])]
  for (const dir of candidates) {
    const link = join(dir, KUBECTL_NAME)
    if (isExecutable(link)) return link
  }
  return undefined
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
    kubectl: linkKubectl(buildDir),
    ...(assets !== undefined ? { envtestAssets: assets } : {})
  }
}
