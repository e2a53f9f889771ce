// Incremental parsing of watch bodies: lines and multi-byte characters cut anywhere by chunks.
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { decodeWatchEvent, JsonLinesDecoder } from "../src/Client.ts"
import { ApiError } from "../src/Errors.ts"

const context = { verb: "watch", resource: "configmaps", name: "" }

const encoder = new TextEncoder()

/** Feeds `bytes` cut at `cuts` (positions, any order, out-of-range ignored) and collects every line. */
const decodeInChunks = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<string> => {
  const positions = [...new Set(cuts.map((c) => Math.abs(c) % (bytes.length + 1)))].sort((a, b) => a - b)
  const decoder = new JsonLinesDecoder()
  const lines: Array<string> = []
  let start = 0
  for (const position of [...positions, bytes.length]) {
    lines.push(...decoder.push(bytes.subarray(start, position)))
    start = position
  }
  lines.push(...decoder.end())
  return lines
}

const events = [
  {
    type: "ADDED",
    object: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", resourceVersion: "1" } }
  },
  {
    type: "MODIFIED",
    object: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "ünïcødé-😀", resourceVersion: "2" },
      data: { text: "日本語のテキスト €€€ 🎉".repeat(50) }
    }
  },
  { type: "BOOKMARK", object: { kind: "ConfigMap", apiVersion: "v1", metadata: { resourceVersion: "3" } } },
  {
    type: "ERROR",
    object: {
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      message: "too old resource version: 1 (5)",
      reason: "Expired",
      code: 410
    }
  }
]
const body = encoder.encode(`${events.map((e) => JSON.stringify(e)).join("\n")}\n`)
const expected = events.map((e) => JSON.stringify(e))

describe("JsonLinesDecoder", () => {
  it("splits a whole body into lines", () => {
    assert.deepStrictEqual(decodeInChunks(body, []), expected)
  })

  it("handles one byte at a time (every boundary, inside multi-byte characters too)", () => {
    assert.deepStrictEqual(
      decodeInChunks(
        body,
        Array.from({ length: body.length }, (_, i) => i)
      ),
      expected
    )
  })

  it("keeps a last line without a trailing newline, drops blank lines", () => {
    const decoder = new JsonLinesDecoder()
    assert.deepStrictEqual(decoder.push(encoder.encode('\n{"a":1}\n\n{"b"')), ['{"a":1}'])
    assert.deepStrictEqual(decoder.push(encoder.encode(":2}")), [])
    assert.deepStrictEqual(decoder.end(), ['{"b":2}'])
  })

  it.prop("any chunking yields the same lines", [Schema.Array(Schema.Int)], ([cuts]) => {
    assert.deepStrictEqual(decodeInChunks(body, cuts), expected)
  })
})

describe("decodeWatchEvent", () => {
  it("decodes object events, bookmarks and errors", () => {
    const [added, modified, bookmark, error] = expected.map((line) => {
      const event = decodeWatchEvent(line, context)
      if ("_tag" in event) throw new Error(event.message)
      return event
    })
    assert.strictEqual(added?.type, "ADDED")
    assert.strictEqual(modified?.type, "MODIFIED")
    assert.deepStrictEqual(bookmark, { type: "BOOKMARK", resourceVersion: "3" })
    assert.strictEqual(error?.type, "ERROR")
    if (error?.type === "ERROR") {
      assert.strictEqual(error.error._tag, "Gone")
      assert.strictEqual(error.error.code, 410)
      assert.strictEqual(error.error.message, "too old resource version: 1 (5)")
    }
  })

  it("reports malformed lines as ApiError", () => {
    assert.isTrue(decodeWatchEvent("{not json", context) instanceof ApiError)
    assert.isTrue(decodeWatchEvent('{"type":"WHAT","object":{}}', context) instanceof ApiError)
    assert.isTrue(decodeWatchEvent('{"type":"ADDED"}', context) instanceof ApiError)
  })
})
