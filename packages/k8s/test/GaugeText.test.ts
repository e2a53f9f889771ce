// Gauge families as Prometheus text (0.0.4), written in chunks: escaping, values, one header per family.

import { assert, describe, it } from "@effect/vitest"
import { type GaugeFamily, gaugeText, seriesLine } from "../src/internal/gaugeText.ts"

describe("gaugeText", () => {
  it("escapes label values and help as the text format requires, and writes special values", () => {
    assert.strictEqual(
      seriesLine("m", { labels: { a: 'say "hi"\\now\nthen', b: "" }, value: 0.25 }),
      'm{a="say \\"hi\\"\\\\now\\nthen",b=""} 0.25\n'
    )
    // Each character alone too, plain values as they are.
    assert.strictEqual(
      seriesLine("m", { labels: { a: "x\\y", b: 'x"y', c: "x\ny", d: "plain-1.5Gi" }, value: 1 }),
      'm{a="x\\\\y",b="x\\"y",c="x\\ny",d="plain-1.5Gi"} 1\n'
    )
    assert.strictEqual(seriesLine("m", { labels: {}, value: Number.NaN }), "m NaN\n")
    assert.strictEqual(seriesLine("m", { labels: {}, value: Number.POSITIVE_INFINITY }), "m +Inf\n")
    assert.strictEqual(seriesLine("m", { labels: {}, value: Number.NEGATIVE_INFINITY }), "m -Inf\n")
    const text = [...gaugeText([{ name: "m", help: "a\\b\nc", samples: () => [{ labels: {}, value: 1 }] }])]
    assert.deepStrictEqual(text, ["# HELP m a\\\\b\\nc\n# TYPE m gauge\nm 1\n"])
  })

  it("writes each family's header once before its series, leaves out a family with none, in chunks", () => {
    const many: GaugeFamily = {
      name: "kleff_many",
      help: "many",
      samples: function* () {
        for (let i = 0; i < 20_000; i++) yield { labels: { tenant: `tenant-${i}` }, value: i }
      }
    }
    const none: GaugeFamily = { name: "kleff_none", help: "none", samples: () => [] }
    const chunks = [...gaugeText([none, many, { ...many, name: "kleff_again" }])]
    assert.isAbove(chunks.length, 2, "more than one chunk")
    for (const chunk of chunks) assert.isTrue(chunk.endsWith("\n"), "a chunk ends on a whole line")
    const lines = chunks.join("").split("\n").slice(0, -1)
    assert.lengthOf(lines, 2 * (20_000 + 2))
    assert.deepStrictEqual(lines.slice(0, 3), [
      "# HELP kleff_many many",
      "# TYPE kleff_many gauge",
      'kleff_many{tenant="tenant-0"} 0'
    ])
    assert.strictEqual(lines.filter((line) => line.startsWith("# TYPE")).length, 2)
    assert.notInclude(chunks.join(""), "kleff_none")
    assert.strictEqual(lines[20_002], "# HELP kleff_again many")
  })
})
