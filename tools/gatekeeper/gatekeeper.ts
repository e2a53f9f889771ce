// gatekeeper.ts owns the OPA Gatekeeper manager executable the tests run: built by tools/gobuild
// from the `github.com/open-policy-agent/gatekeeper/v3` module that go.mod beside it requires (a
// `tool` requirement, so go.sum pins Gatekeeper's whole build list, the same versions as its own
// go.mod), with the go command limited to module proxies, into
//
//   ${XDG_CACHE_HOME:-~/.cache}/kleff/gatekeeper/<version>-<hash of go.mod, go.sum and the recipe>/
//
// built the way Gatekeeper's Makefile builds its `manager` (`go build` of the module's root
// package, the version stamped into pkg/version), but static and stripped. Its CRDs come from the
// same module version through tools/crds (the `gatekeeper` bundle); the two must name the same
// version. It starts nothing: running Gatekeeper is the test helper's
// (packages/tenant-operator/test/gatekeeper.ts).
//
//   node tools/gatekeeper/gatekeeper.ts            prints the binary's path (building it if needed)
//   node tools/gatekeeper/gatekeeper.ts ARGS...    runs it with ARGS, exits with its code
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { UserError } from "../cluster/log.ts"
import { kleffCacheDir } from "../cluster/paths.ts"
import { bundles } from "../crds/versions.ts"
import { ensureBuilt, type GoProgram, sourceHash } from "../gobuild/gobuild.ts"
import { moduleProxyEnv } from "../gobuild/moduleProxy.ts"

export const gatekeeperModule = "github.com/open-policy-agent/gatekeeper/v3"

const sourceDir = dirname(fileURLToPath(import.meta.url))

/** The Gatekeeper version go.mod requires. */
export function gatekeeperVersion(): string {
  const goMod = readFileSync(join(sourceDir, "go.mod"), "utf8")
  const match = /^\s*github\.com\/open-policy-agent\/gatekeeper\/v3\s+(v\d+\.\d+\.\d+\S*)/m.exec(goMod)
  if (match?.[1] === undefined)
    throw new UserError(`cannot find the ${gatekeeperModule} version in ${sourceDir}/go.mod`)
  return match[1]
}

/** The binary and the CRDs must come from one module version: refuse to build when they differ. */
function requireSameVersionAsCrds(version: string): void {
  const crds = bundles.gatekeeper.version
  if (crds !== version) {
    throw new UserError(
      `tools/gatekeeper/go.mod requires ${gatekeeperModule} ${version}, but tools/crds/versions.ts takes Gatekeeper's CRDs from ${crds}: ` +
        "change both together (and the `sum` in versions.ts)"
    )
  }
}

function program(version: string): GoProgram {
  return {
    label: `OPA Gatekeeper ${version}`,
    purpose: "to build OPA Gatekeeper (for the Gatekeeper end-to-end test)",
    sourceDir,
    binaryName: "gatekeeper",
    buildArgs: (output) => [
      "build",
      "-trimpath",
      `-ldflags=-s -w -X ${gatekeeperModule}/pkg/version.Version=${version}`,
      "-o",
      output,
      gatekeeperModule
    ],
    coldEstimate:
      "~10 CPU-minutes with empty Go caches: ~6 min on 2 idle cores, up to 18 on a loaded machine",
    buildPattern: /^v\d+\.\d+\.\d+\S*-[0-9a-f]{12}$/,
    env: moduleProxyEnv()
  }
}

/** Path of the cached Gatekeeper manager for the current go.mod and recipe, building it first when missing. */
export async function gatekeeperPath(): Promise<string> {
  const version = gatekeeperVersion()
  requireSameVersionAsCrds(version)
  const gatekeeper = program(version)
  return ensureBuilt(gatekeeper, join(kleffCacheDir("gatekeeper"), `${version}-${sourceHash(gatekeeper)}`))
}

async function main(args: ReadonlyArray<string>): Promise<number> {
  const binary = await gatekeeperPath()
  if (args.length === 0) {
    process.stdout.write(`${binary}\n`)
    return 0
  }
  const run = spawnSync(binary, args, { stdio: "inherit" })
  if (run.error !== undefined) throw run.error
  return run.status ?? 1
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof UserError ? error.message : String(error)}\n`)
      process.exit(error instanceof UserError ? error.exitCode : 1)
    }
  )
}
