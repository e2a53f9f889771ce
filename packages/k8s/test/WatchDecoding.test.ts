// Incremental parsing of watch bodies: lines and multi-byte characters cut anywhere by chunks.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import { ApiError } from "../src/Errors.ts"
import { events as decodeEvents, decodeWatchEvent, lines } from "../src/internal/watchDecoding.ts"

const context = { verb: "watch", resource: "configmaps", name: "" }

const encoder = new TextEncoder()

/** `bytes` cut at `cuts` (positions, any order, out-of-range ignored), as a stream of chunks. */
const chunked = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Stream.Stream<Uint8Array> => {
  const positions = [...new Set(cuts.map((c) => Math.abs(c) % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let start = 0
  for (const position of [...positions, bytes.length]) {
    chunks.push(bytes.subarray(start, position))
    start = position
  }
  return Stream.fromIterable(chunks)
}

/** Every line of `bytes` cut at `cuts`. */
const decodeInChunks = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<string> =>
  Effect.runSync(Stream.runCollect(lines(chunked(bytes, cuts))))

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

describe("watch body lines", () => {
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

  it("keeps a last line without a trailing newline, drops blank lines, accepts CRLF", () => {
    const text = encoder.encode('\n{"a":1}\r\n\n  \n{"b"')
    const rest = encoder.encode(":2}")
    const collected = Effect.runSync(Stream.runCollect(lines(Stream.make(text, rest))))
    assert.deepStrictEqual(collected, ['{"a":1}', '{"b":2}'])
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

  it("turns a body into events, whatever its chunking, and fails at the first malformed line", () => {
    const decoded = Effect.runSync(
      Stream.runCollect(
        decodeEvents(context)(
          chunked(
            body,
            Array.from({ length: 64 }, (_, i) => i * 37)
          )
        )
      )
    )
    assert.deepStrictEqual(
      decoded.map((event) => event.type),
      ["ADDED", "MODIFIED", "BOOKMARK", "ERROR"]
    )
    const bad = encoder.encode(`${expected[0]}\n{"type":"ADDED","obj\n${expected[1]}\n`)
    const seen: Array<string> = []
    const failure = Effect.runSync(
      decodeEvents(context)(chunked(bad, [5, 50, 70])).pipe(
        Stream.runForEach((event) => Effect.sync(() => seen.push(event.type))),
        Effect.flip
      )
    )
    assert.deepStrictEqual(seen, ["ADDED"])
    assert.strictEqual(failure._tag, "ApiError")
    assert.strictEqual(failure.reason, "MalformedResponse")
    assert.strictEqual(failure.verb, "watch")
  })

  it("reports malformed lines as ApiError", () => {
    assert.isTrue(decodeWatchEvent("{not json", context) instanceof ApiError)
    assert.isTrue(decodeWatchEvent('{"type":"WHAT","object":{}}', context) instanceof ApiError)
    assert.isTrue(decodeWatchEvent('{"type":"ADDED"}', context) instanceof ApiError)
  })
})
