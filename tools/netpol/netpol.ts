// netpol.ts owns the netpol executable (the Go program beside it: cyclonus's NetworkPolicy matcher
// over a cluster's live policies): its path, built once per source hash into
// `${XDG_CACHE_HOME:-~/.cache}/kleff/netpol/<hash>/` by tools/gobuild. It must not decide
// anything about traffic itself: what the policies allow is cyclonus's to say.
//
//   node tools/netpol/netpol.ts            prints the binary's path (building it if needed)
//   node tools/netpol/netpol.ts ARGS...    runs it with ARGS (see main.go), exits with its code
import { spawnSync } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { UserError } from "../cluster/log.ts"
import { kleffCacheDir } from "../cluster/paths.ts"
import { ensureBuilt, type GoProgram, sourceHash } from "../gobuild/gobuild.ts"

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

async function main(args: ReadonlyArray<string>): Promise<number> {
  const binary = await netpolPath()
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
