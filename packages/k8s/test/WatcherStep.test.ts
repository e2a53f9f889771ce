// The watcher's state machine, transition by transition (pure: no server).

import { assert, describe, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import type { ListPage } from "../src/Client.ts"
import * as Errors from "../src/Errors.ts"
import { step, type WatcherState } from "../src/Watcher.ts"

const cm = (name: string, rv: string): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "ns", resourceVersion: rv }
})

const page = (
  items: ReadonlyArray<KubeObject>,
  resourceVersion: string,
  next?: string
): ListPage<KubeObject> => ({
  items,
  resourceVersion,
  continue: next
})

const base = { verb: "watch", resource: "configmaps", objectName: "", code: 0, reason: "", message: "m" }
const gone = new Errors.Gone({ ...base, code: 410, reason: "Expired" })
const reset = new Errors.Unavailable({ ...base, reason: "ECONNRESET" })

const empty: WatcherState = { _tag: "Empty" }
const watching = (resourceVersion: string): WatcherState => ({ _tag: "Watching", resourceVersion })

describe("Watcher.step", () => {
  it("Empty → InitListing (more pages) → Watching, emitting one Restarted with every page's objects", () => {
    const first = step(empty, { _tag: "Page", page: page([cm("a", "1")], "10", "token-1") })
    assert.deepStrictEqual(first.emit, [])
    assert.strictEqual(first.state._tag, "InitListing")
    const second = step(first.state, { _tag: "Page", page: page([cm("b", "2")], "10") })
    assert.deepStrictEqual(second.state, watching("10"))
    assert.deepStrictEqual(second.emit, [
      { _tag: "Restarted", objects: [cm("a", "1"), cm("b", "2")], resourceVersion: "10" }
    ])
    assert.isFalse(second.backoff)
  })

  it("an empty list is a complete list", () => {
    const t = step(empty, { _tag: "Page", page: page([], "7") })
    assert.deepStrictEqual(t.emit, [{ _tag: "Restarted", objects: [], resourceVersion: "7" }])
  })

  it("a failure while listing drops the partial list and restarts it after a backoff", () => {
    const listing = step(empty, { _tag: "Page", page: page([cm("a", "1")], "10", "t") }).state
    const t = step(listing, { _tag: "Failed", error: gone })
    assert.deepStrictEqual(t.state, empty)
    assert.isTrue(t.backoff)
    assert.deepStrictEqual(t.emit, [])
  })

  it("watch events advance the resourceVersion and are emitted", () => {
    const applied = step(watching("10"), { _tag: "Event", event: { type: "ADDED", object: cm("a", "11") } })
    assert.deepStrictEqual(applied.state, watching("11"))
    assert.deepStrictEqual(applied.emit, [{ _tag: "Applied", object: cm("a", "11") }])
    assert.isFalse(applied.reconnect)
    const modified = step(applied.state, {
      _tag: "Event",
      event: { type: "MODIFIED", object: cm("a", "12") }
    })
    assert.deepStrictEqual(modified.emit, [{ _tag: "Applied", object: cm("a", "12") }])
    const deleted = step(modified.state, { _tag: "Event", event: { type: "DELETED", object: cm("a", "13") } })
    assert.deepStrictEqual(deleted.state, watching("13"))
    assert.deepStrictEqual(deleted.emit, [{ _tag: "Deleted", object: cm("a", "13") }])
  })

  it("bookmarks advance the resourceVersion silently", () => {
    const t = step(watching("10"), { _tag: "Event", event: { type: "BOOKMARK", resourceVersion: "42" } })
    assert.deepStrictEqual(t.state, watching("42"))
    assert.deepStrictEqual(t.emit, [])
    assert.isFalse(t.reconnect)
  })

  it("a watch that ends normally resumes from the last resourceVersion without relisting", () => {
    const t = step(watching("42"), { _tag: "WatchEnded", healthy: true })
    assert.deepStrictEqual(t.state, watching("42"))
    assert.isTrue(t.reconnect)
    assert.isFalse(t.backoff)
    assert.isTrue(step(watching("42"), { _tag: "WatchEnded", healthy: false }).backoff)
  })

  it("a network error resumes from the last resourceVersion after a backoff", () => {
    const t = step(watching("42"), { _tag: "Failed", error: reset })
    assert.deepStrictEqual(t.state, watching("42"))
    assert.isTrue(t.backoff)
  })

  it("410 Gone, as an HTTP answer or an ERROR event, goes back to Empty (relist) at once", () => {
    const http = step(watching("42"), { _tag: "Failed", error: gone })
    assert.deepStrictEqual(http.state, empty)
    assert.isFalse(http.backoff)
    const event = step(watching("42"), { _tag: "Event", event: { type: "ERROR", error: gone } })
    assert.deepStrictEqual(event.state, empty)
    assert.isTrue(event.reconnect)
  })

  it("another ERROR event reconnects from the same resourceVersion after a backoff", () => {
    const internal = new Errors.Unavailable({ ...base, code: 500, reason: "InternalError" })
    const t = step(watching("42"), { _tag: "Event", event: { type: "ERROR", error: internal } })
    assert.deepStrictEqual(t.state, watching("42"))
    assert.isTrue(t.reconnect)
    assert.isTrue(t.backoff)
  })

  it("a list without a resourceVersion cannot be watched from: start over", () => {
    const t = step(empty, { _tag: "Page", page: page([cm("a", "1")], "") })
    assert.deepStrictEqual(t.state, empty)
    assert.deepStrictEqual(t.emit, [])
    assert.isTrue(t.backoff)
  })
})

describe("Watcher.step: a kind the server does not serve", () => {
  const notFound = new Errors.NotFound({ ...base, verb: "list", code: 404, reason: "NotFound" })

  it("a 404 on the list: an empty Restarted once (the cache is synced, and empty), then quiet retries with backoff", () => {
    const first = step(empty, { _tag: "Failed", error: notFound })
    assert.deepStrictEqual(first.state, { _tag: "NotServed" })
    assert.deepStrictEqual(first.emit, [{ _tag: "Restarted", objects: [], resourceVersion: "" }])
    assert.isTrue(first.backoff)
    const again = step(first.state, { _tag: "Failed", error: notFound })
    assert.deepStrictEqual(again.state, { _tag: "NotServed" })
    assert.deepStrictEqual(again.emit, [])
    assert.isTrue(again.backoff)
  })

  it("once the kind is served, its list is a Restarted like any other, and watching starts", () => {
    const served = step({ _tag: "NotServed" }, { _tag: "Page", page: page([cm("a", "1")], "7") })
    assert.deepStrictEqual(served.state, watching("7"))
    assert.deepStrictEqual(served.emit, [
      { _tag: "Restarted", objects: [cm("a", "1")], resourceVersion: "7" }
    ])
  })

  it("any other list failure is not taken for a missing kind", () => {
    const failed = step(empty, { _tag: "Failed", error: reset })
    assert.deepStrictEqual(failed.state, empty)
    assert.deepStrictEqual(failed.emit, [])
  })
})
