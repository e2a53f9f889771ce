/**
 * The operator as it runs in production: `src/bin.ts` and everything it imports, bundled by
 * rolldown into one ES module (`dist/tenant-operator.mjs`), TypeScript stripped and unused code of
 * its dependencies dropped. The image runs that file and nothing else of the repository.
 *
 * Why a bundle rather than the sources: measured with node 24.21 on a fresh control plane, the
 * operator idle (no Tenant) holds 133 MiB resident and 37 MiB of V8 heap when node strips the
 * types of ~150 source files and loads every module of `effect`; 104 MiB and 14 MiB from the
 * first bundle (78 MiB now, below). Node's type stripper alone costs ~19 MiB resident; the
 * bundle loads only the parts of `effect` the operator uses. Rolldown, not a hand-written step:
 * it is the bundler the test runner (vite) already brings, so no new package enters the lockfile.
 *
 * The output is ASCII and keeps only legal comments: node holds a module's source as long as the
 * process lives (to compile functions when first called), and one character outside Latin-1 (the
 * dependencies' JSDoc has dashes and box drawing) makes V8 store all of it at two bytes a
 * character. Measured (three alternating pairs, idle on an empty control plane): 2.3 MB of
 * source held as 4.3 MiB became 1.3 MB at one byte; resident 84.9–85.1 → 81.3–82.1 MiB.
 *
 * Node's fetch stack (undici) never loads: the operator does not use it, and it costs 3.5 MiB
 * resident and 1.4 MiB of heap idle (three alternating pairs, idle on an empty control plane:
 * 81.0–81.7 → 77.9–78.0 MiB). Two things loaded it, both by reading a lazy getter at start:
 * - `import … from "node:http"`: node's ESM facade of a builtin reads every export, and
 *   `node:http` exports `WebSocket`, `CloseEvent` and `MessageEvent` as getters that load it. The
 *   bundle `require`s `node:http` instead and re-exports everything else (`nodeHttpByRequire`);
 * - a statement that only reads a global (`globalThis.FormData;`): what is left of a dependency's
 *   unused `instanceOf(globalThis.FormData)` once its call is dropped (a property read may have
 *   effects, so the tree-shaker keeps it). Such lines are dropped (`dropBareGlobalReads`);
 *   `treeshake.propertyReadSideEffects: false` would drop them too, and 20 KB of other code with
 *   them, unaudited.
 * `test/deploy/image.test.ts` checks that the bundle loads no undici.
 *
 * It owns the bundle's recipe only; what the operator does is `src/`'s. `install` and `crds` read
 * the repository's `deploy/` directory and stay development commands of the sources.
 *
 *   node packages/tenant-operator/bundle.ts [OUT_FILE]     (default: dist/tenant-operator.mjs)
 */
import { createRequire } from "node:module"
import { resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { build, type Plugin } from "rolldown"

const entry = fileURLToPath(new URL("./src/bin.ts", import.meta.url))
export const defaultBundlePath = fileURLToPath(new URL("./dist/tenant-operator.mjs", import.meta.url))

/** A statement that is a bare read of a global's property, alone on its line (see the header). */
const bareGlobalRead = /^[ \t]*globalThis\.[A-Za-z_$][\w$]*;[ \t]*\n/gm

/** Drops bare global reads from the chunks, as they are once dead code is gone (see the header). */
const dropBareGlobalReads: Plugin = {
  name: "drop-bare-global-reads",
  generateBundle: (_options, output) => {
    for (const file of Object.values(output))
      if (file.type === "chunk") file.code = file.code.replace(bareGlobalRead, "")
  }
}

/**
 * `node:http`'s exports that are lazy getters loading node's fetch stack (undici) when first read:
 * node's ESM facade of a builtin reads every export, so `import … from "node:http"` loads it.
 */
const lazyWebExports = new Set(["WebSocket", "CloseEvent", "MessageEvent"])
const httpByRequire = "\0node:http by require"

/** `import … from "node:http"` becomes a `require` of it, re-exporting all but `lazyWebExports` (see the header). */
const nodeHttpByRequire: Plugin = {
  name: "node-http-by-require",
  resolveId: (source, _importer, options) =>
    (source === "node:http" || source === "http") && options.kind === "import-statement"
      ? httpByRequire
      : null,
  load: (id) => {
    if (id !== httpByRequire) return null
    const names = Object.keys(createRequire(import.meta.url)("node:http")).filter(
      (name) => !lazyWebExports.has(name)
    )
    return [
      'import { createRequire } from "node:module"',
      'const http = createRequire(import.meta.url)("node:http")',
      "export default http",
      `export const { ${names.join(", ")} } = http`
    ].join("\n")
  }
}

/** Bundles the operator into `outFile` (an ES module for node, its imports of `node:*` kept). */
export const bundle = async (outFile: string = defaultBundlePath): Promise<string> => {
  await build({
    input: entry,
    platform: "node",
    // Class and function names stay as written: errors and logs name them.
    output: {
      file: outFile,
      format: "esm",
      keepNames: true,
      charset: "ascii",
      comments: { legal: true, annotation: false, jsdoc: false }
    },
    plugins: [dropBareGlobalReads, nodeHttpByRequire],
    logLevel: "warn"
  })
  return outFile
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = await bundle(process.argv[2] === undefined ? undefined : resolve(process.argv[2]))
  process.stdout.write(`${out}\n`)
}
