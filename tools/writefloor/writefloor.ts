// writefloor.ts is the TypeScript entry of tools/writefloor (the operator benchmark's write floor
// in client-go): the cached, atomic build of the Go program through tools/gobuild, modules from
// the Go module proxy only. It builds and locates; what the program does is in its Go sources.
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { kleffCacheDir } from "../cluster/paths.ts"
import { ensureBuilt, type GoProgram, runToolCommand, sourceHash } from "../gobuild/gobuild.ts"
import { moduleProxyEnv } from "../gobuild/moduleProxy.ts"

const program = (): GoProgram => ({
  label: "writefloor",
  purpose: "to build writefloor (client-go's dynamic client, for the operator benchmark's write floor)",
  sourceDir: dirname(fileURLToPath(import.meta.url)),
  binaryName: "writefloor",
  buildArgs: (output) => ["build", "-trimpath", "-ldflags=-s -w", "-o", output, "."],
  coldEstimate: "~1.3 CPU-minutes with an empty Go build cache (45 s on 2 loaded cores), seconds when warm",
  buildPattern: /^[0-9a-f]{12}$/,
  env: moduleProxyEnv()
})

/** Path of the cached writefloor binary for the current sources, building it first when missing. */
export async function writefloorPath(): Promise<string> {
  const writefloor = program()
  return ensureBuilt(writefloor, join(kleffCacheDir("writefloor"), sourceHash(writefloor)))
}

runToolCommand(import.meta.url, writefloorPath)
