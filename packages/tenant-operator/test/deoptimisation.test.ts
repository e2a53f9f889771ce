/**
 * The resync path stays in optimised code. A V8 deoptimisation is normal once or twice per site
 * while types settle; a site that deoptimises again and again means the function is recompiled
 * and thrown away on every few calls, which once made the planner's walk of a field set 12×
 * slower on objects parsed from JSON (the way the caches hold them) and on no other.
 *
 * Runs the tenant plan bench (`bench/plan.bench.ts`, a converged Tenant planned for about a
 * second) under `--trace-deopt-verbose` and counts the deoptimisations at each source position of
 * the project's packages (their `src`: the bench's own timing loops leave on-stack replacement
 * as they please). Counts, not times: what it asserts does not depend on the machine's
 * speed.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"

const bench = fileURLToPath(new URL("../bench/plan.bench.ts", import.meta.url))

/** More than this many at one position is a loop, not settling (the loop this guards against made 1,028). */
const maxPerSite = 10

const traced = (): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--trace-deopt-verbose", bench],
      { maxBuffer: 512 * 2 ** 20, env: { ...process.env, BENCH_BASELINE: "" } },
      (error, stdout, stderr) =>
        error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`))
    )
  })

describe("the tenant controller's plan of a converged Tenant", () => {
  it(`deoptimises no function of the packages' sources more than ${maxPerSite} times at one place`, async () => {
    const output = await traced()
    assert.include(output, "A converged Tenant with 10 children", "the bench did not run")
    const bySite = new Map<string, number>()
    for (const [, site] of output.matchAll(
      /;;; deoptimize at <(file:\/\/[^>]*\/packages\/[^/>]+\/src\/[^>]*)>/g
    )) {
      if (site === undefined) continue
      bySite.set(site, (bySite.get(site) ?? 0) + 1)
    }
    const loops = [...bySite].filter(([, count]) => count > maxPerSite)
    assert.deepStrictEqual(
      loops.map(([site, count]) => `${count} at ${site}`),
      [],
      "deoptimised again and again (run the bench with --trace-deopt-verbose to see why)"
    )
  }, 120_000)
})
