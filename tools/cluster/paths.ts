// paths.ts owns where things live: the control-plane Go sources inside the
// clone, and the binary caches (of every tool) and cluster state directories outside it
// (XDG base directories, overridable with --dir / KLEFF_CLUSTER_DIR).
import { readdirSync } from "node:fs"
import { homedir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** tools/control-plane inside this clone: the Go module of kleff-control-plane. */
export const controlPlaneSourceDir: string = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "control-plane"
)

function xdgDir(variable: string, fallback: string[]): string {
  const value = process.env[variable]
  // The XDG spec says relative values are invalid and must be ignored.
  if (value !== undefined && value !== "" && value.startsWith("/")) return value
  return join(homedir(), ...fallback)
}

/** `${XDG_CACHE_HOME:-~/.cache}/kleff/<name>`: where a tool's builds are cached. */
export function kleffCacheDir(name: string): string {
  return join(xdgDir("XDG_CACHE_HOME", [".cache"]), "kleff", name)
}

/** Root of cached kleff-control-plane builds: one sub-directory per version. */
export function binaryCacheRoot(): string {
  return kleffCacheDir("control-plane")
}

/** The cluster state directory: --dir, else $KLEFF_CLUSTER_DIR, else the per-user default. */
export function resolveStateDir(dir?: string): string {
  if (dir !== undefined && dir !== "") return resolve(dir)
  const fromEnv = process.env.KLEFF_CLUSTER_DIR
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv)
  return join(xdgDir("XDG_STATE_HOME", [".local", "state"]), "kleff", "cluster", "default")
}

/** Fixed layout inside a cluster state directory. */
export interface StateLayout {
  dir: string
  stateFile: string
  lockFile: string
  pkiDir: string
  etcdDataDir: string
  logDir: string
  adminKubeconfig: string
}

export function stateLayout(dir: string): StateLayout {
  const pkiDir = join(dir, "pki")
  return {
    dir,
    stateFile: join(dir, "cluster.json"),
    lockFile: join(dir, "up.lock"),
    pkiDir,
    etcdDataDir: join(dir, "etcd-data"),
    logDir: join(dir, "logs"),
    adminKubeconfig: join(pkiDir, "admin.kubeconfig")
  }
}

/** Entry names that may exist in a state directory. */
const stateDirEntries: ReadonlySet<string> = new Set([
  "cluster.json",
  "cluster.json.tmp",
  "up.lock",
  "pki",
  "etcd-data",
  "logs"
])

/**
 * Entries of dir that this tool did not create: up refuses to use, and down
 * to delete, a directory holding any. up.lock.<pid> is the transient lock
 * candidate file of a concurrent `up`.
 */
export function foreignEntries(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names.filter((name) => !stateDirEntries.has(name) && !/^up\.lock\.\d+$/.test(name))
}
