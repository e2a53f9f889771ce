/**
 * Our list+watch loop, as a `Stream` of `WatcherEvent`s that never ends on its own.
 *
 * The loop is an explicit state machine (after kube-rs' `watcher.rs`), kept pure in `step` so its
 * transitions are unit-tested without a server:
 *
 *   Empty ──list──▶ InitListing(continue, objects so far) ──last page──▶ Watching(rv)  [emits Restarted]
 *   Watching(rv) ── ADDED/MODIFIED/DELETED ──▶ Watching(object rv)                     [emits Applied/Deleted]
 *   Watching(rv) ── BOOKMARK ──▶ Watching(bookmark rv)
 *   Watching(rv) ── stream ended / network error ──▶ Watching(rv)   (resume, no relist)
 *   Watching(rv) ── 410 Gone (HTTP or ERROR event) ──▶ Empty        (full relist)
 *   InitListing ── any failure ──▶ Empty                           (the partial list is dropped)
 *   Empty/InitListing ── 404 ──▶ NotServed                        [emits Restarted([])]
 *   NotServed ──list (after backoff)──▶ as from Empty; a 404 again stays NotServed, silently
 *
 * Failures are retried after a jittered exponential backoff (800 ms → 30 s) that restarts from the
 * beginning once a watch has been healthy (it delivered an event or stayed open for 10 s). A 410
 * relists at once, unless it follows a relist whose watch never delivered anything (no spinning).
 * A 404 on the list means the kind is not served (its CRD is not installed, or was deleted): the
 * consumer learns it holds nothing (an empty `Restarted`, so a cache of it counts as synced), and
 * the list is tried again with the backoff until the kind is served (or at once, when `served`
 * says so: a cache fed by this process's writes must not go stale unwatched), then watched as usual,
 * with the backoff restarted (the delays the absence grew must not hold up the new watch).
 *
 * It owns no cache: a `Restarted` carries the complete list and consumers swap to it atomically
 * (see `Store`). It must not interpret objects beyond their resourceVersion.
 */
import type { KubeObject, ResourceType } from "@kleff/core"
import { Clock, Effect, Queue, Schedule, Stream } from "effect"
import { Client, type ListPage, type WatchEvent } from "./Client.ts"
import type * as Errors from "./Errors.ts"
import { resourceName } from "./internal/paths.ts"

/** What a watcher tells its consumer. */
export type WatcherEvent<T extends KubeObject = KubeObject> =
  /** A complete list: every object that exists now. Anything not in it is gone. */
  | { readonly _tag: "Restarted"; readonly objects: ReadonlyArray<T>; readonly resourceVersion: string }
  | { readonly _tag: "Applied"; readonly object: T }
  | { readonly _tag: "Deleted"; readonly object: T }

export type WatcherState<T extends KubeObject = KubeObject> =
  | { readonly _tag: "Empty" }
  | {
      readonly _tag: "InitListing"
      readonly continueToken: string
      readonly objects: ReadonlyArray<T>
    }
  | { readonly _tag: "Watching"; readonly resourceVersion: string }
  /** The API server does not serve the kind (a 404 on the list). */
  | { readonly _tag: "NotServed" }

/** What happened, as the state machine sees it. */
export type WatcherInput<T extends KubeObject = KubeObject> =
  | { readonly _tag: "Page"; readonly page: ListPage<T> }
  | { readonly _tag: "Event"; readonly event: WatchEvent<T> }
  /** The watch response ended normally; `healthy` when it had delivered events or lasted a while. */
  | { readonly _tag: "WatchEnded"; readonly healthy: boolean }
  | { readonly _tag: "Failed"; readonly error: Errors.KubeError }

export interface Transition<T extends KubeObject = KubeObject> {
  readonly state: WatcherState<T>
  readonly emit: ReadonlyArray<WatcherEvent<T>>
  /** Stop reading the current watch response (and issue the next request for `state`). */
  readonly reconnect: boolean
  /** Wait (backoff) before the next request. */
  readonly backoff: boolean
}

const empty: WatcherState<never> = { _tag: "Empty" }

const transition = <T extends KubeObject>(
  state: WatcherState<T>,
  emit: ReadonlyArray<WatcherEvent<T>> = [],
  options: { readonly reconnect?: boolean; readonly backoff?: boolean } = {}
): Transition<T> => ({
  state,
  emit,
  reconnect: options.reconnect ?? false,
  backoff: options.backoff ?? false
})

const isGone = (error: Errors.KubeError): boolean => error._tag === "Gone" || error.code === 410
const isNotServed = (error: Errors.KubeError): boolean => error._tag === "NotFound" || error.code === 404
const notServed: WatcherState<never> = { _tag: "NotServed" }

/** The state machine: pure, total, no I/O. */
export const step = <T extends KubeObject>(state: WatcherState<T>, input: WatcherInput<T>): Transition<T> => {
  switch (state._tag) {
    case "Empty":
    case "InitListing": {
      if (input._tag === "Page") {
        const objects = state._tag === "Empty" ? input.page.items : [...state.objects, ...input.page.items]
        if (input.page.continue !== undefined) {
          return transition({ _tag: "InitListing", continueToken: input.page.continue, objects })
        }
        if (input.page.resourceVersion === "") {
          // A list without a resourceVersion cannot be watched from: start over, slowly.
          return transition(empty, [], { backoff: true })
        }
        return transition({ _tag: "Watching", resourceVersion: input.page.resourceVersion }, [
          { _tag: "Restarted", objects, resourceVersion: input.page.resourceVersion }
        ])
      }
      if (input._tag === "Failed" && isNotServed(input.error)) {
        return transition(notServed, [{ _tag: "Restarted", objects: [], resourceVersion: "" }], {
          backoff: true
        })
      }
      // Any failure while listing (including an expired continue token) restarts the list.
      return transition(empty, [], { backoff: input._tag === "Failed" })
    }
    case "NotServed":
      return input._tag === "Page" ? step<T>(empty, input) : transition(state, [], { backoff: true })
    case "Watching": {
      switch (input._tag) {
        case "Event": {
          const event = input.event
          switch (event.type) {
            case "ADDED":
            case "MODIFIED":
            case "DELETED": {
              const rv = event.object.metadata.resourceVersion
              const next: WatcherState<T> =
                rv === undefined || rv === "" ? state : { _tag: "Watching", resourceVersion: rv }
              return transition(next, [
                event.type === "DELETED"
                  ? { _tag: "Deleted", object: event.object }
                  : { _tag: "Applied", object: event.object }
              ])
            }
            case "BOOKMARK":
              return transition(
                event.resourceVersion === ""
                  ? state
                  : { _tag: "Watching", resourceVersion: event.resourceVersion }
              )
            case "ERROR":
              // 410: our resourceVersion is out of the server's window; only a relist recovers.
              return isGone(event.error)
                ? transition(empty, [], { reconnect: true })
                : transition(state, [], { reconnect: true, backoff: true })
          }
          break
        }
        case "WatchEnded":
          return transition(state, [], { reconnect: true, backoff: !input.healthy })
        case "Failed":
          return isGone(input.error)
            ? transition(empty, [], { reconnect: true })
            : transition(state, [], { reconnect: true, backoff: true })
        case "Page":
          // Not expected while watching; a page is always welcome as a complete relist though.
          return step<T>(empty, input)
      }
    }
  }
  return transition(state)
}

export interface WatcherOptions<T extends KubeObject = KubeObject> {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
  /** Objects per list page. Defaults to 500. */
  readonly pageSize?: number | undefined
  /**
   * Server-side lifetime of each watch request, in seconds. Defaults to a random 5–10 minutes
   * (client-go's spread), so many watchers do not reconnect in lockstep.
   */
  readonly timeoutSeconds?: number | undefined
  /** Delays between failed attempts. Defaults to `defaultBackoff`. */
  readonly backoff?: Schedule.Schedule<unknown> | undefined
  /**
   * Start by watching from this resourceVersion instead of listing (to resume a previous watcher).
   * If the server no longer has it (410), the watcher relists as usual.
   */
  readonly resumeFrom?: string | undefined
  /**
   * While the kind is not served, list again as soon as this completes instead of waiting out the
   * backoff: its owner's evidence that the kind is served now (say, this process just created an
   * object of it).
   */
  readonly served?: Effect.Effect<void> | undefined
  /**
   * Applied to each listed object as its page arrives (a cache's ingest: what it keeps of the
   * object), so a list of many pages holds what its consumer will keep, not every object as parsed
   * until the last page is in.
   */
  readonly prepare?: ((object: T) => T) | undefined
}

/** Exponential from 800 ms, ×2, capped at 30 s, each delay jittered by ±20 %. */
export const defaultBackoff: Schedule.Schedule<unknown> = Schedule.min([
  Schedule.exponential("800 millis", 2),
  Schedule.spaced("30 seconds")
]).pipe(Schedule.jittered)

const initialState = <T extends KubeObject>(resumeFrom: string | undefined): WatcherState<T> =>
  resumeFrom === undefined || resumeFrom === "" ? empty : { _tag: "Watching", resourceVersion: resumeFrom }

/**
 * A watch counts as healthy (the backoff restarts) once it delivered an event or stayed open this
 * long (or half its timeout, when that is shorter).
 */
const healthyAfterMillis = 10_000

/**
 * The list+watch loop for one resource type. Never fails and never ends; interrupt it to stop.
 * Errors are logged (warning) and retried with backoff.
 */
export const watcher = <T extends KubeObject>(
  type: ResourceType<T>,
  options: WatcherOptions<T> = {}
): Stream.Stream<WatcherEvent<T>, never, Client> =>
  Stream.callback<WatcherEvent<T>, never, Client>(
    (queue) =>
      Effect.gen(function* () {
        const client = yield* Client
        const schedule = options.backoff ?? defaultBackoff
        let backoff = yield* Schedule.toStepWithSleep(schedule)
        let state = initialState<T>(options.resumeFrom)
        const selectors = {
          namespace: options.namespace,
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector
        }
        const resource = resourceName(type)

        // True from a relist until a watch delivers an event: a 410 in between means the server
        // keeps expiring what it just listed, and relisting at once would spin.
        let unprovenRelist = false
        // True from a 404 on the list until a list succeeds: the kind was not served.
        let unserved = false

        const apply = (t: Transition<T>) =>
          Effect.gen(function* () {
            state = t.state
            if (t.emit.length > 0) {
              if (t.emit.some((e) => e._tag === "Restarted")) unprovenRelist = true
              yield* Queue.offerAll(queue, t.emit)
            }
            return t
          })

        const afterFailure = (t: Transition<T>, error?: Errors.KubeError) =>
          Effect.gen(function* () {
            if (error !== undefined) {
              // 410 is routine (the server's history window moved on); anything else is worth a warning.
              const log = error._tag === "Gone" ? Effect.logInfo : Effect.logWarning
              yield* log(`watcher ${resource}: ${error._tag}: ${error.message}`).pipe(
                Effect.annotateLogs({ resource, state: t.state._tag })
              )
            }
            if (t.backoff || (t.state._tag === "Empty" && unprovenRelist)) {
              const wait = backoff(undefined).pipe(Effect.catchCause(() => Effect.void))
              yield* t.state._tag === "NotServed" && options.served !== undefined
                ? Effect.raceFirst(wait, options.served)
                : wait
            }
          })

        // One list request, then one watch request, each in a function of its own: a generator
        // keeps its locals alive while it is suspended, and the loop is suspended in a watch for
        // minutes. A page or a `Restarted` held there would keep a relist's fresh copies of every
        // unchanged object (the cache keeps the instances it holds) for as long as the watch runs.
        const listOnce = Effect.gen(function* () {
          const page = yield* client
            .listPage(type, {
              ...selectors,
              limit: options.pageSize ?? 500,
              continue: state._tag === "InitListing" ? state.continueToken : undefined
            })
            .pipe(Effect.result)
          if (page._tag === "Success") {
            const prepare = options.prepare
            const listed =
              prepare === undefined
                ? page.success
                : { ...page.success, items: page.success.items.map((o) => prepare(o)) }
            const t = yield* apply(step(state, { _tag: "Page", page: listed }))
            if (unserved && t.state._tag === "Watching") {
              // The backoff grew while the kind was absent; its watch starts with a fresh one, or
              // a first hiccup (a new kind's watch can be closed as the server settles its handler)
              // would leave the cache unwatched, fed only by writes, for as long as it was missing.
              unserved = false
              backoff = yield* Schedule.toStepWithSleep(schedule)
              yield* Effect.logInfo(`watcher ${resource}: served now; watching`).pipe(
                Effect.annotateLogs({ resource })
              )
            }
            yield* afterFailure(t)
          } else {
            const before = state._tag
            const t = yield* apply(step(state, { _tag: "Failed", error: page.failure }))
            if (t.state._tag === "NotServed" && before !== "NotServed") {
              unserved = true
              yield* Effect.logInfo(
                `watcher ${resource}: not served (is its CustomResourceDefinition installed?); listing again with backoff until it is`
              ).pipe(Effect.annotateLogs({ resource }))
            }
            yield* afterFailure(t, t.state._tag === "NotServed" ? undefined : page.failure)
          }
        })

        // One watch request from `resourceVersion`, read until it ends, fails or the machine says reconnect.
        const watchOnce = (from: string) =>
          Effect.gen(function* () {
            const timeoutSeconds = options.timeoutSeconds ?? Math.floor(300 * (1 + Math.random()))
            const opened = yield* Clock.currentTimeMillis
            let events = 0
            let last: Transition<T> | undefined
            let watchError: Errors.KubeError | undefined
            const outcome = yield* client
              .watch(type, {
                ...selectors,
                resourceVersion: from,
                allowWatchBookmarks: true,
                timeoutSeconds
              })
              .pipe(
                Stream.runForEachWhile((event) =>
                  Effect.gen(function* () {
                    if (event.type === "ERROR") watchError = event.error
                    else if (events++ === 0) {
                      // Healthy: the next failure starts the backoff from its first delay.
                      backoff = yield* Schedule.toStepWithSleep(schedule)
                      unprovenRelist = false
                    }
                    last = yield* apply(step(state, { _tag: "Event", event }))
                    return !last.reconnect
                  })
                ),
                Effect.result
              )
            if (outcome._tag === "Failure") {
              const t = yield* apply(step(state, { _tag: "Failed", error: outcome.failure }))
              yield* afterFailure(t, outcome.failure)
            } else if (last?.reconnect) {
              // The machine stopped the watch (an ERROR event): it already moved state.
              yield* afterFailure(last, watchError)
            } else {
              const lasted = (yield* Clock.currentTimeMillis) - opened
              const healthy = events > 0 || lasted >= Math.min(healthyAfterMillis, timeoutSeconds * 500)
              if (healthy && events === 0) backoff = yield* Schedule.toStepWithSleep(schedule)
              const t = yield* apply(step(state, { _tag: "WatchEnded", healthy }))
              yield* afterFailure(t)
            }
          })

        for (;;) yield* state._tag === "Watching" ? watchOnce(state.resourceVersion) : listOnce
      }),
    { bufferSize: 256, strategy: "suspend" }
  )
