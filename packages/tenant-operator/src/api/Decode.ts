/**
 * Decoding cluster data through a schema: the result is a value or a readable message, never an
 * exception, so an invalid object becomes a condition on its Tenant instead of a crash.
 */
import { Result, Schema } from "effect"

/** Decodes `input` with `schema`, reporting every issue, each with the path it was found at. */
export const decodeWith =
  <S extends Schema.Decoder<unknown>>(schema: S) =>
  (input: unknown): Result.Result<S["Type"], string> =>
    Schema.decodeUnknownResult(schema)(input, { errors: "all" }).pipe(
      Result.mapError((error) => error.message)
    )
