/**
 * Preloaded into the operator under benchmark (`node --expose-gc --import ./MemoryProbe.ts`): on
 * SIGUSR2 it runs full garbage collections and writes `process.memoryUsage()` as JSON to the file
 * `KLEFF_BENCH_MEMORY_FILE` names, so the benchmark reads what the process retains, not what its
 * heap happens to have reserved. Not part of the operator; inert without that variable. Plain
 * JavaScript: a TypeScript preload would load node's type stripper (~19 MiB) into the bundled
 * operator, which never loads it otherwise.
 */
import { renameSync, writeFileSync } from "node:fs"

const file = process.env.KLEFF_BENCH_MEMORY_FILE
/** `--expose-gc`'s gc; the "last-resort" flavour collects everything and releases V8's pooled pages. */
const gc = globalThis.gc

if (file !== undefined && file !== "") {
  process.on("SIGUSR2", () => {
    gc?.({ type: "major", execution: "sync", flavor: "last-resort" })
    // Written aside and renamed, so the reader never sees half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify({ ...process.memoryUsage(), collected: gc !== undefined }))
    renameSync(`${file}.tmp`, file)
  })
}
