/**
 * The cache keeps one copy of a string value its objects repeat. JSON.parse gives each parsed
 * object its own copies, and a cache of 1,000 Tenants held 10,001 copies of one label value;
 * `Store` ingest shares them (`internal/sharedValues.ts`). Counted in a heap snapshot of a process of
 * its own (`fixtures/shared-strings-main.ts`), so nothing else in the heap is counted; counts,
 * not sizes: what it asserts does not depend on the machine.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"

const main = fileURLToPath(new URL("./fixtures/shared-strings-main.ts", import.meta.url))

interface Counts {
  readonly cached: number
  readonly common: number
  readonly own: number
  readonly sample: Record<string, unknown>
}

const run = (share: "cache" | "none"): Promise<Counts> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [main],
      { env: { ...process.env, SHARE: share }, maxBuffer: 2 ** 20 },
      (error, stdout, stderr) =>
        error === null
          ? resolve(JSON.parse(stdout) as Counts)
          : reject(new Error(`${error.message}\n${stderr}`))
    )
  })

describe("Store ingest shares string values", () => {
  it("holds one copy of a value 1,000 cached objects repeat, and the objects read as parsed", async () => {
    const [cached, plain] = await Promise.all([run("cache"), run("none")])
    // Without the cache's sharing, each parsed object holds its own copies: in its label and its
    // data (three per object), so what is counted below would be there.
    assert.strictEqual(plain.cached, 1000)
    assert.isAtLeast(plain.common, 3000)
    assert.strictEqual(cached.cached, 1000)
    // One for all the objects, and the fixture's own variable.
    assert.isAtMost(cached.common, 2, "copies of a value every cached object holds")
    assert.strictEqual(cached.own, 1, "a value one object holds")
    assert.deepStrictEqual(cached.sample, plain.sample)
    assert.deepStrictEqual(cached.sample, {
      common: "kleff-tenant-operator-shared-label-value",
      own: `own-value-7-${"z".repeat(24)}`,
      index: "7",
      list: ["kleff-tenant-operator-shared-label-value", "12"]
    })
  }, 60_000)
})
