// promcheck.ts owns the promcheck executable (main.go beside it: Prometheus's own rule and PromQL
// parsers): its path, built once per source hash into
// `${XDG_CACHE_HOME:-~/.cache}/kleff/promcheck/<hash>/` by tools/gobuild. It must not check
// anything itself: what a rule or expression means is the binary's to say.
//
//   node tools/promcheck/promcheck.ts            prints the binary's path (building it if needed)
//   node tools/promcheck/promcheck.ts ARGS...    runs it with ARGS (see main.go), exits with its code
import { spawnSync } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { UserError } from "../cluster/log.ts"
import { kleffCacheDir } from "../cluster/paths.ts"
import { ensureBuilt, type GoProgram, sourceHash } from "../gobuild/gobuild.ts"

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

async function main(args: ReadonlyArray<string>): Promise<number> {
  const binary = await promcheckPath()
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
