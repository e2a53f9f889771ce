// crds.ts owns getting the upstream CRD bundles of versions.ts onto this machine, for tests and
// tools: from the Go module proxy only (`go mod download`, with GOPROXY limited to its proxies —
// never `direct`, so never a VCS or anything else), checked against the pinned `h1:` sum, and
// copied into a cache outside the clone keyed by module and version:
//
//   ${XDG_CACHE_HOME:-~/.cache}/kleff/crds/<module>@<version>/<dir>/<file>
//
// Once cached, reading a bundle needs neither Go nor the network. It applies nothing to a cluster
// (packages/tenant-operator/test/meshCrds.ts does that).
//
//   node tools/crds/crds.ts [istio|gateway-api ...]   # prints the files' paths, one a line
import { spawnSync } from "node:child_process"
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync
} from "node:fs"
import { dirname, join } from "node:path"
import { pathToFileURL } from "node:url"
import { formatDuration, info, UserError } from "../cluster/log.ts"
import { kleffCacheDir } from "../cluster/paths.ts"
import { moduleProxyEnv } from "../gobuild/moduleProxy.ts"
import { type Bundle, type BundleSource, bundleNames, bundles } from "./versions.ts"

export { type Bundle, bundleNames, bundles } from "./versions.ts"

const STALE_TMP_MS = 24 * 60 * 60_000

/** Root of the cache: one `<module>@<version>` directory per module. */
export function crdCacheRoot(): string {
  return kleffCacheDir("crds")
}

/** Where a bundle's directory lives in the cache (it may not be there yet). */
export function cachedBundleDir(bundle: Bundle): string {
  const source = bundles[bundle]
  return join(crdCacheRoot(), `${source.module}@${source.version}`, source.dir)
}

function go(args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, cwd: string): string {
  const run = spawnSync("go", [...args], { cwd, env, encoding: "utf8", timeout: 10 * 60_000 })
  if (run.error !== undefined && (run.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new UserError(
      "Go is needed once to fetch the Istio and Gateway API CRDs from the Go module proxy, but `go` was not found on PATH.\n" +
        "Install Go 1.26 or newer (https://go.dev/doc/install), make sure `go version` works, then retry."
    )
  }
  if (run.error !== undefined) throw run.error
  if (run.status !== 0) {
    throw new UserError(`go ${args.join(" ")} failed (exit ${run.status}):\n${run.stdout}${run.stderr}`)
  }
  return run.stdout
}

interface Downloaded {
  readonly Dir?: string
  readonly Sum?: string
  readonly Error?: string
}

/** `go mod download` of the bundle's module through the proxy: its directory in the module cache. */
function downloadModule(source: BundleSource, cwd: string): string {
  const env: NodeJS.ProcessEnv = { ...process.env, ...moduleProxyEnv() }
  const target = `${source.module}@${source.version}`
  let downloaded: Downloaded
  try {
    downloaded = JSON.parse(go(["mod", "download", "-json", target], env, cwd)) as Downloaded
  } catch (error) {
    if (error instanceof UserError) {
      throw new UserError(`${error.message}\n(module proxy: GOPROXY=${env.GOPROXY})`)
    }
    throw error
  }
  if (downloaded.Error !== undefined || downloaded.Dir === undefined) {
    throw new UserError(`go mod download ${target}: ${downloaded.Error ?? "no directory"}`)
  }
  if (downloaded.Sum !== source.sum) {
    throw new UserError(
      `${target} has checksum ${downloaded.Sum ?? "(none)"}, but tools/crds/versions.ts pins ${source.sum}: ` +
        "the proxy served other content than expected, or the pin is out of date"
    )
  }
  return downloaded.Dir
}

/** Removes day-old temporary directories of fetches that were killed. */
function pruneTemporary(root: string): void {
  for (const name of readdirSync(root)) {
    if (!name.startsWith(".tmp-")) continue
    const path = join(root, name)
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_TMP_MS) rmSync(path, { recursive: true, force: true })
    } catch {
      // vanished concurrently
    }
  }
}

/**
 * The bundle's directory in the cache, fetching it first when missing. Safe to call from several
 * processes at once: each copies into a private directory and renames it into place; the first
 * rename wins and the others find the same content there.
 */
export function ensureBundle(bundle: Bundle): string {
  const target = cachedBundleDir(bundle)
  if (existsSync(target)) return target
  const source = bundles[bundle]
  const root = crdCacheRoot()
  mkdirSync(root, { recursive: true })
  const started = Date.now()
  info(`fetching the ${bundle} CRDs: ${source.module}@${source.version} from the Go module proxy (once)…`)
  const moduleDir = downloadModule(source, root)
  const tmp = mkdtempSync(join(root, ".tmp-"))
  try {
    for (const entry of readdirSync(join(moduleDir, source.dir), { withFileTypes: true })) {
      if (!entry.isFile()) continue
      const copy = join(tmp, entry.name)
      copyFileSync(join(moduleDir, source.dir, entry.name), copy)
      chmodSync(copy, 0o644) // the module cache's files are read-only
    }
    mkdirSync(dirname(target), { recursive: true })
    try {
      renameSync(tmp, target)
    } catch (error) {
      if (!existsSync(target)) throw error // else a concurrent fetch finished first
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  pruneTemporary(root)
  info(`cached the ${bundle} CRDs in ${target} (${formatDuration(Date.now() - started)})`)
  return target
}

/** The bundle's files (absolute paths, in apply order), fetched and cached on first use. */
export function crdFiles(bundle: Bundle): ReadonlyArray<string> {
  const dir = ensureBundle(bundle)
  const files = readdirSync(dir)
    .filter((name) => bundles[bundle].files.test(name))
    .sort()
    .map((name) => join(dir, name))
  if (files.length === 0) throw new UserError(`${dir} holds no file of the ${bundle} bundle`)
  return files
}

const USAGE = `usage: node tools/crds/crds.ts [${bundleNames.join("|")} ...]

Prints the paths of the bundles' files (all bundles when none is named), fetching them from the
Go module proxy into ${crdCacheRoot()} the first time.
`

export function main(argv: ReadonlyArray<string>): number {
  if (argv.includes("-h") || argv.includes("--help")) {
    process.stdout.write(USAGE)
    return 0
  }
  const unknown = argv.filter((arg) => !(bundleNames as ReadonlyArray<string>).includes(arg))
  if (unknown.length > 0) {
    process.stderr.write(`unknown bundle ${unknown.join(", ")}\n\n${USAGE}`)
    return 2
  }
  const chosen = argv.length === 0 ? bundleNames : (argv as ReadonlyArray<Bundle>)
  try {
    for (const bundle of chosen) for (const file of crdFiles(bundle)) process.stdout.write(`${file}\n`)
    return 0
  } catch (error) {
    process.stderr.write(`error: ${error instanceof UserError ? error.message : String(error)}\n`)
    return error instanceof UserError ? error.exitCode : 1
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2))
}
