import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { placeholder } from "../src/index.ts"

describe("smoke", () => {
  it.effect("runs", () => Effect.sync(() => assert.strictEqual(placeholder, 1)))
  it.prop("prop", [Schema.Int], ([n]) => n + 0 === n)
})
