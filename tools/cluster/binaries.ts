// binaries.ts owns the control-plane executables: building kleff-control-plane
// from tools/control-plane into a versioned cache directory outside the clone
// (only when missing, atomically), with a `kubectl` link to it beside it (a
// client of the server's exact version), and honouring envtest's
// KUBEBUILDER_ASSETS for etcd and kube-apiserver.
import { readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs"
import { join } from "node:path"
import { ensureBuilt, type GoProgram, isExecutable, sourceHash } from "../gobuild/gobuild.ts"
import { info, UserError } from "./log.ts"
import { binaryCacheRoot, controlPlaneSourceDir } from "./paths.ts"

export const BINARY_NAME = "kleff-control-plane"
/** Name of the link to BINARY_NAME in a build directory that runs its kubectl subcommand. */
export const KUBECTL_NAME = "kubectl"

/** Rough cold-build duration on a 2-core machine (idle to heavily loaded), shown before the first build. */
const COLD_BUILD_ESTIMATE_MIN = "5–15"

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

/** kleff-control-plane of `version` as a Go program (its build recipe stamps the version). */
function controlPlaneProgram(version: string): GoProgram {
  return {
    label: `control plane ${version}`,
    purpose: `to build the local control plane (Kubernetes ${version})`,
    sourceDir: controlPlaneSourceDir,
    binaryName: BINARY_NAME,
    buildArgs: (output) => ["build", "-trimpath", `-ldflags=${ldflags(version)}`, "-o", output, "."],
    coldEstimate: `~${COLD_BUILD_ESTIMATE_MIN} min on 2 cores with a cold Go build cache, under a minute when warm`,
    buildPattern: /^v\d+\.\d+\.\d+.*-[0-9a-f]{12}$/
  }
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

/** The cache directory for the current sources (it may not be built yet). */
export function currentBuildDir(version: string = kubernetesVersion()): string {
  return join(binaryCacheRoot(), `${version}-${sourceHash(controlPlaneProgram(version))}`)
}

/** Path of the cached kleff-control-plane binary, building it first when missing. */
export async function ensureControlPlaneBinary(): Promise<{
  version: string
  buildDir: string
  binary: string
}> {
  const version = kubernetesVersion()
  const buildDir = currentBuildDir(version)
  const binary = await ensureBuilt(controlPlaneProgram(version), buildDir, linkKubectl)
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
