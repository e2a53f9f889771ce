import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { UserError } from "../cluster/log.ts"
import { kleffCacheDir } from "../cluster/paths.ts"
import { bundles } from "../crds/versions.ts"
import { ensureBuilt, type GoProgram, runToolCommand, sourceHash } from "../gobuild/gobuild.ts"
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

runToolCommand(import.meta.url, gatekeeperPath)
