import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { kleffCacheDir } from "../cluster/paths.ts"
import { ensureBuilt, type GoProgram, runToolCommand, sourceHash } from "../gobuild/gobuild.ts"

const program: GoProgram = {
  label: "promcheck",
  purpose: "to build promcheck (Prometheus's rule and PromQL parsers, for the monitoring tests)",
  sourceDir: dirname(fileURLToPath(import.meta.url)),
  binaryName: "promcheck",
  buildArgs: (output) => ["build", "-trimpath", "-ldflags=-s -w", "-o", output, "."],
  coldEstimate: "~2 min on 2 cores with empty Go caches, seconds when warm",
  buildPattern: /^[0-9a-f]{12}$/
}

/** Path of the cached promcheck binary for the current sources, building it first when missing. */
export async function promcheckPath(): Promise<string> {
  return ensureBuilt(program, join(kleffCacheDir("promcheck"), sourceHash(program)))
}

runToolCommand(import.meta.url, promcheckPath)
