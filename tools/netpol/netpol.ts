import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { kleffCacheDir } from "../cluster/paths.ts"
import { ensureBuilt, type GoProgram, runToolCommand, sourceHash } from "../gobuild/gobuild.ts"

const program: GoProgram = {
  label: "netpol",
  purpose: "to build netpol (cyclonus's NetworkPolicy matcher, for the isolation tests)",
  sourceDir: dirname(fileURLToPath(import.meta.url)),
  binaryName: "netpol",
  buildArgs: (output) => ["build", "-trimpath", "-ldflags=-s -w", "-o", output, "."],
  coldEstimate: "~2-7 min on 2 cores (idle to loaded) with empty Go caches, seconds when warm",
  buildPattern: /^[0-9a-f]{12}$/
}

/** Path of the cached netpol binary for the current sources, building it first when missing. */
export async function netpolPath(): Promise<string> {
  return ensureBuilt(program, join(kleffCacheDir("netpol"), sourceHash(program)))
}

runToolCommand(import.meta.url, netpolPath)
