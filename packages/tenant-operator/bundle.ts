/**
 * The operator as it runs in production: `src/bin.ts` and everything it imports, bundled by
 * rolldown into one ES module (`dist/tenant-operator.mjs`), TypeScript stripped and unused code of
 * its dependencies dropped. The image runs that file and nothing else of the repository.
 *
 * Why a bundle rather than the sources: measured with node 24.21 on a fresh control plane, the
 * operator idle (no Tenant) holds 133 MiB resident and 37 MiB of V8 heap when node strips the
 * types of ~150 source files and loads every module of `effect`; 104 MiB and 14 MiB from the
 * bundle. Node's type stripper alone costs ~19 MiB resident, and the bundle loads only the parts
 * of `effect` the operator uses. Rolldown, not a hand-written step: it is the bundler the test
 * runner (vite) already brings, so no new package enters the lockfile.
 *
 * It owns the bundle's recipe only; what the operator does is `src/`'s. `install` and `crds` read
 * the repository's `deploy/` directory and stay development commands of the sources.
 *
 *   node packages/tenant-operator/bundle.ts [OUT_FILE]     (default: dist/tenant-operator.mjs)
 */
import { resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { build } from "rolldown"

const entry = fileURLToPath(new URL("./src/bin.ts", import.meta.url))
export const defaultBundlePath = fileURLToPath(new URL("./dist/tenant-operator.mjs", import.meta.url))

/** Bundles the operator into `outFile` (an ES module for node, its imports of `node:*` kept). */
export const bundle = async (outFile: string = defaultBundlePath): Promise<string> => {
  await build({
    input: entry,
    platform: "node",
    // Class and function names stay as written: errors and logs name them.
    output: { file: outFile, format: "esm", keepNames: true },
    logLevel: "warn"
  })
  return outFile
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = await bundle(process.argv[2] === undefined ? undefined : resolve(process.argv[2]))
  process.stdout.write(`${out}\n`)
}
