/**
 * Watch bodies: the API server streams one JSON event per line, and chunk boundaries fall anywhere
 * (inside a line, inside a multi-byte character). Bytes become text with `Stream.decodeText` (a
 * streaming `TextDecoder`) and lines with `Stream.splitLines`; each non-blank line is one event.
 *
 * It owns the shape of a watch event and its typed failure (a line that is not an event is an
 * `ApiError` with reason `MalformedResponse`). It must not do I/O, retry or resume: the transport
 * delivers the bytes and the watcher decides what a failure means.
 */
import type { KubeObject } from "@kleff/core"
import { Effect, Predicate, Stream } from "effect"
import * as Errors from "../Errors.ts"

/** One event of a raw watch, as the API server sends it. */
export type WatchEvent<T extends KubeObject = KubeObject> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: T }
  /** A progress marker: nothing changed up to `resourceVersion`. */
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }
  /** The server ended the watch with a Status (410 `Expired` → `error` is `Gone`). */
  | { readonly type: "ERROR"; readonly error: Errors.KubeError }

/** The non-blank lines of a byte stream, whatever its chunking (without their line breaks). */
export const lines = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<string, E, R> =>
  bytes.pipe(
    Stream.decodeText,
    Stream.splitLines,
    Stream.filter((line) => line.trim() !== "")
  )

/** The events of a watch body; fails with a `MalformedResponse` `ApiError` at the first line that is not one. */
export const events =
  (context: Errors.RequestContext) =>
  <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<WatchEvent, E | Errors.ApiError, R> =>
    lines(bytes).pipe(
      Stream.mapEffect((line) => {
        const event = decodeWatchEvent(line, context)
        return event instanceof Errors.ApiError ? Effect.fail(event) : Effect.succeed(event)
      })
    )

/** Parses one watch line. Returns (does not throw) an `ApiError` for a line that is not a watch event. */
export const decodeWatchEvent = <T extends KubeObject>(
  line: string,
  context: Errors.RequestContext
): WatchEvent<T> | Errors.ApiError => {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch (error) {
    return malformed(
      context,
      `watch event is not JSON: ${error instanceof Error ? error.message : String(error)}`
    )
  }
  if (!Predicate.hasProperty(parsed, "type") || !Predicate.hasProperty(parsed, "object")) {
    return malformed(context, "watch event without type or object")
  }
  const object = parsed.object
  if (!Predicate.isObject(object)) return malformed(context, "watch event object is not an object")
  switch (parsed.type) {
    case "ADDED":
    case "MODIFIED":
    case "DELETED":
      return { type: parsed.type, object: object as unknown as T }
    case "BOOKMARK": {
      const metadata = Predicate.hasProperty(object, "metadata") ? object.metadata : undefined
      const rv = Predicate.hasProperty(metadata, "resourceVersion") ? metadata.resourceVersion : undefined
      return { type: "BOOKMARK", resourceVersion: Predicate.isString(rv) ? rv : "" }
    }
    case "ERROR":
      return { type: "ERROR", error: Errors.fromWatchStatus(context, object) }
    default:
      return malformed(context, `unknown watch event type ${String(parsed.type)}`)
  }
}

const malformed = (context: Errors.RequestContext, message: string) =>
  Errors.malformedResponse(context, 200, message)
