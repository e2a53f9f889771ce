/**
 * Typed objects: a `ResourceType` may carry the Schema of its kind, and an object of that kind is
 * decoded by it once per version of the object (memoised on the object itself: caches hold each
 * version as one immutable value, so a new resourceVersion is a new key). An object that does not
 * decode is an `InvalidObject`, a value the planner turns into a condition: never a cast, never a
 * crash.
 *
 * Pure apart from the memo (a `WeakMap`, invisible to callers). Must not fetch, fix up or default
 * an object: what the schema refuses is reported as it is.
 */
import { Data, Result, Schema } from "effect"
import { type KubeObject, type ObjectRef, type ResourceType, refOf } from "./Object.ts"

/** An object that does not decode by its kind's schema: where it is, and every issue with its path. */
export class InvalidObject extends Data.TaggedClass("InvalidObject")<{
  readonly ref: ObjectRef
  readonly message: string
}> {}

export type Decoded<T> = Result.Result<T, InvalidObject>

const memos = new WeakMap<object, WeakMap<KubeObject, Decoded<unknown>>>()

/** `object` decoded by `type`'s schema (as it is, for a type without one); memoised per object version. */
export const decodeObject = <T extends KubeObject>(type: ResourceType<T>, object: KubeObject): Decoded<T> => {
  const schema = type.schema
  if (schema === undefined) return Result.succeed(object as T)
  let memo = memos.get(schema)
  if (memo === undefined) {
    memo = new WeakMap()
    memos.set(schema, memo)
  }
  const known = memo.get(object)
  if (known !== undefined) return known as Decoded<T>
  const decoded: Decoded<T> = Schema.decodeUnknownResult(schema)(object, { errors: "all" }).pipe(
    Result.mapError((error) => new InvalidObject({ ref: refOf(object), message: error.message }))
  )
  memo.set(object, decoded)
  return decoded
}
