// The reflector cache without a server: atomic relist swap, incremental indexes, change feed.

import { assert, describe, it } from "@effect/vitest"
import { controllerReference, type KubeObject, keyOf } from "@kleff/core"
import { Effect, Fiber, Schema, Stream } from "effect"
import * as Store from "../src/Store.ts"

const owner: KubeObject = { apiVersion: "kleff.io/v1", kind: "Tenant", metadata: { name: "t", uid: "uid-t" } }
const other: KubeObject = { apiVersion: "kleff.io/v1", kind: "Tenant", metadata: { name: "o", uid: "uid-o" } }

const cm = (
  name: string,
  rv: string,
  options: { labels?: Record<string, string>; owner?: KubeObject; managed?: boolean } = {}
): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    name,
    namespace: "ns",
    resourceVersion: rv,
    ...(options.labels === undefined ? {} : { labels: options.labels }),
    ...(options.owner === undefined ? {} : { ownerReferences: [controllerReference(options.owner)] }),
    ...(options.managed === true ? { managedFields: [{ manager: "kleff", operation: "Apply" }] } : {})
  },
  data: { k: name }
})

const names = (objects: ReadonlyArray<KubeObject>) => objects.map((o) => o.metadata.name).sort()

describe("Store.Cache", () => {
  it("is not ready until the first complete list, then holds exactly that list", () => {
    const cache = new Store.Cache()
    assert.isFalse(cache.ready)
    cache.apply({ _tag: "Applied", object: cm("early", "1") })
    assert.isFalse(cache.ready)
    cache.apply({ _tag: "Restarted", objects: [cm("a", "2"), cm("b", "3")], resourceVersion: "3" })
    assert.isTrue(cache.ready)
    assert.deepStrictEqual(names(cache.list()), ["a", "b"])
    assert.strictEqual(cache.get(keyOf(cm("a", "x")))?.metadata.resourceVersion, "2")
    assert.strictEqual(cache.get(keyOf(cm("early", "x"))), undefined)
  })

  it("a relist reports adds, updates, deletes, and unchanged objects (same resourceVersion), keeping their instance", () => {
    const cache = new Store.Cache()
    cache.apply({
      _tag: "Restarted",
      objects: [cm("keep", "1"), cm("bump", "2"), cm("gone", "3")],
      resourceVersion: "3"
    })
    const kept = cache.get(keyOf(cm("keep", "1")))
    const changes = cache.apply({
      _tag: "Restarted",
      objects: [cm("keep", "1"), cm("bump", "5"), cm("new", "6")],
      resourceVersion: "6"
    })
    const byName = new Map(changes.map((c) => [(c.after ?? c.before)?.metadata.name, c]))
    assert.isTrue(byName.get("keep")?.unchanged)
    assert.strictEqual(byName.get("keep")?.after, kept, "the cached instance is reused")
    assert.isFalse(byName.get("bump")?.unchanged)
    assert.strictEqual(byName.get("bump")?.before?.metadata.resourceVersion, "2")
    assert.strictEqual(byName.get("bump")?.after?.metadata.resourceVersion, "5")
    assert.strictEqual(byName.get("new")?.before, undefined)
    assert.strictEqual(byName.get("gone")?.after, undefined)
    assert.strictEqual(changes.length, 4)
    assert.deepStrictEqual(names(cache.list()), ["bump", "keep", "new"])
  })

  it("maintains the owner and label indexes through updates, deletes and relists", () => {
    const cache = new Store.Cache()
    cache.apply({
      _tag: "Restarted",
      objects: [
        cm("a", "1", { owner, labels: { tier: "gold" } }),
        cm("b", "2", { owner, labels: { tier: "silver" } }),
        cm("c", "3", { owner: other, labels: { tier: "gold" } })
      ],
      resourceVersion: "3"
    })
    assert.deepStrictEqual(names(cache.ownedBy("uid-t")), ["a", "b"])
    assert.deepStrictEqual(names(cache.byLabel("tier", "gold")), ["a", "c"])
    // b changes owner and label.
    cache.apply({ _tag: "Applied", object: cm("b", "4", { owner: other, labels: { tier: "gold" } }) })
    assert.deepStrictEqual(names(cache.ownedBy("uid-t")), ["a"])
    assert.deepStrictEqual(names(cache.ownedBy("uid-o")), ["b", "c"])
    assert.deepStrictEqual(names(cache.byLabel("tier", "gold")), ["a", "b", "c"])
    assert.deepStrictEqual(names(cache.byLabel("tier", "silver")), [])
    assert.lengthOf(cache.apply({ _tag: "Deleted", object: cm("a", "5") }), 1)
    assert.deepStrictEqual(names(cache.ownedBy("uid-t")), [])
    // The watch's echo of a deletion already written through: not cached, nothing to publish.
    assert.deepStrictEqual(cache.apply({ _tag: "Deleted", object: cm("a", "5") }), [])
    assert.deepStrictEqual(names(cache.byLabel("tier", "gold")), ["b", "c"])
    cache.apply({
      _tag: "Restarted",
      objects: [cm("z", "9", { owner, labels: { tier: "gold" } })],
      resourceVersion: "9"
    })
    assert.deepStrictEqual(names(cache.ownedBy("uid-t")), ["z"])
    assert.deepStrictEqual(names(cache.ownedBy("uid-o")), [])
    assert.deepStrictEqual(names(cache.byLabel("tier", "gold")), ["z"])
  })

  it("answers byLabel on a non-indexed key by scanning", () => {
    const cache = new Store.Cache({ indexLabels: ["tier"] })
    cache.apply({
      _tag: "Restarted",
      objects: [
        cm("a", "1", { labels: { tier: "gold", zone: "x" } }),
        cm("b", "2", { labels: { zone: "y" } })
      ],
      resourceVersion: "2"
    })
    assert.deepStrictEqual(names(cache.byLabel("tier", "gold")), ["a"])
    assert.deepStrictEqual(names(cache.byLabel("zone", "y")), ["b"])
  })

  it("drops managedFields on ingest unless asked to keep them", () => {
    const cache = new Store.Cache()
    cache.apply({ _tag: "Restarted", objects: [cm("a", "1", { managed: true })], resourceVersion: "1" })
    const managedFields = (o: KubeObject | undefined) =>
      (o?.metadata as { managedFields?: unknown } | undefined)?.managedFields
    assert.strictEqual(managedFields(cache.get(keyOf(cm("a", "1")))), undefined)
    const keeping = new Store.Cache({ managers: "all" })
    keeping.apply({ _tag: "Applied", object: cm("a", "1", { managed: true }) })
    assert.isDefined(managedFields(keeping.get(keyOf(cm("a", "1")))))
  })

  it("prepares a listed object as it will keep it, takes it in as it is on the relist, and answers an unchanged one with the instance it holds", () => {
    const cache = new Store.Cache()
    cache.apply({ _tag: "Restarted", objects: [cm("same", "1"), cm("old", "1")], resourceVersion: "1" })
    const held = cache.get(keyOf(cm("same", "1")))
    // A relist in progress: its pages are prepared one by one, before the list is complete.
    const unchanged = cache.prepare(cm("same", "1"))
    const updated = cache.prepare(cm("old", "2", { managed: true }))
    const added = cache.prepare(cm("new", "3"))
    assert.strictEqual(unchanged, held, "the object at the version held is the instance held")
    assert.isUndefined(
      updated.metadata.managedFields,
      "a prepared object is ingested (its managed fields dropped)"
    )
    assert.isTrue(Object.isFrozen(updated.data), "and its values shared")
    // Nothing changes until the list is in.
    assert.strictEqual(cache.get(keyOf(cm("old", "1")))?.metadata.resourceVersion, "1")
    assert.isUndefined(cache.get(keyOf(cm("new", "3"))))
    const changes = cache.apply({
      _tag: "Restarted",
      objects: [unchanged, updated, added],
      resourceVersion: "3"
    })
    assert.strictEqual(cache.get(keyOf(cm("old", "2"))), updated, "taken in as prepared, not ingested again")
    assert.strictEqual(cache.get(keyOf(cm("new", "3"))), added)
    assert.deepStrictEqual(
      changes.map((c) => [c.after?.metadata.name, c.unchanged]),
      [
        ["same", true],
        ["old", false],
        ["new", false]
      ]
    )
  })

  it("takes in a prepared object whose field set it keeps as it is, without ingesting it a second time", () => {
    const cache = new Store.Cache({ managers: new Set(["kleff"]) })
    const listed = cm("kept", "4")
    ;(listed.metadata as { managedFields?: unknown }).managedFields = [
      { manager: "kleff", operation: "Apply", fieldsType: "FieldsV1", fieldsV1: { "f:data": { "f:k": {} } } }
    ]
    const prepared = cache.prepare(listed)
    const fields = prepared.metadata.managedFields?.[0]?.fieldsV1
    assert.isTrue(Object.isFrozen(fields), "its field set is interned on prepare")
    // Ingesting it again would walk its frozen field set as if fresh from the wire.
    cache.apply({ _tag: "Restarted", objects: [prepared], resourceVersion: "4" })
    assert.strictEqual(cache.get(keyOf(listed)), prepared)
    assert.strictEqual(cache.get(keyOf(listed))?.metadata.managedFields?.[0]?.fieldsV1, fields)
  })

  it("keeps one frozen copy of each part of a field set that objects repeat; an owner's UID stays each object's own", () => {
    type Fields = { readonly [field: string]: Fields }
    const withFields = (name: string, fields: Fields): KubeObject => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name,
        namespace: "ns",
        resourceVersion: "1",
        managedFields: [
          { manager: "kleff", operation: "Apply", fieldsType: "FieldsV1", fieldsV1: structuredClone(fields) }
        ]
      }
    })
    const owned = (uid: string): Fields => ({
      "f:data": { "f:k": {} },
      "f:metadata": {
        "f:labels": { "f:kleff.io/tenant": {} },
        "f:ownerReferences": { [`k:{"uid":"${uid}"}`]: {} }
      }
    })
    const cache = new Store.Cache({ managers: new Set(["kleff"]) })
    cache.apply({
      _tag: "Restarted",
      objects: [
        withFields("a", owned("uid-a")),
        withFields("b", owned("uid-b")),
        withFields("c", { "f:data": { "f:other": {} } }),
        withFields("d", { "f:data": { "f:other": {} } })
      ],
      resourceVersion: "1"
    })
    const [a, b, c, d] = ["a", "b", "c", "d"].map(
      (name) => cache.get(keyOf(withFields(name, {})))?.metadata.managedFields?.[0]?.fieldsV1 as Fields
    ) as [Fields, Fields, Fields, Fields]
    assert.deepStrictEqual(a, owned("uid-a"), "the values are unchanged")
    assert.deepStrictEqual(b, owned("uid-b"))
    assert.strictEqual(c, d, "equal field sets without a UID are one object")
    assert.strictEqual(a["f:data"], b["f:data"], "parts both repeat are one object")
    assert.strictEqual(a["f:metadata"]?.["f:labels"], b["f:metadata"]?.["f:labels"])
    assert.notStrictEqual(a, b)
    assert.notStrictEqual(a["f:metadata"], b["f:metadata"], "what holds a UID is each object's own")
    assert.notStrictEqual(a["f:data"], c["f:data"])
    // Shared, so frozen: writing to it throws instead of changing every object that holds it.
    assert.throws(() => {
      ;(a["f:data"] as Record<string, unknown>)["f:x"] = {}
    }, TypeError)
  })

  // Indexes always agree with a brute-force scan, whatever sequence of events arrives.
  const Op = Schema.Struct({
    kind: Schema.Literals(["apply", "delete", "relist"]),
    name: Schema.Literals(["a", "b", "c", "d"]),
    owner: Schema.Literals(["uid-t", "uid-o", "none"]),
    tier: Schema.Literals(["gold", "silver", "none"])
  })
  it.prop("indexes equal a scan after any event sequence", [Schema.Array(Op)], ([ops]) => {
    const cache = new Store.Cache()
    let rv = 0
    const make = (op: typeof Op.Type) =>
      cm(op.name, String(++rv), {
        ...(op.owner === "none" ? {} : { owner: op.owner === "uid-t" ? owner : other }),
        ...(op.tier === "none" ? {} : { labels: { tier: op.tier } })
      })
    for (const op of ops) {
      if (op.kind === "apply") cache.apply({ _tag: "Applied", object: make(op) })
      else if (op.kind === "delete") cache.apply({ _tag: "Deleted", object: make(op) })
      else cache.apply({ _tag: "Restarted", objects: [make(op)], resourceVersion: String(rv) })
    }
    const all = cache.list()
    for (const uid of ["uid-t", "uid-o"]) {
      const scan = all.filter((o) =>
        o.metadata.ownerReferences?.some((r) => r.uid === uid && r.controller === true)
      )
      assert.deepStrictEqual(names(cache.ownedBy(uid)), names(scan))
    }
    for (const tier of ["gold", "silver"]) {
      assert.deepStrictEqual(
        names(cache.byLabel("tier", tier)),
        names(all.filter((o) => o.metadata.labels?.tier === tier))
      )
    }
  })
})

describe("Store (Effect)", () => {
  it.effect("ready completes on the first complete list; subscribers see every change in order", () =>
    Effect.gen(function* () {
      const store = yield* Store.make()
      const changes = yield* store.subscribe
      const collected = yield* changes.pipe(Stream.take(3), Stream.runCollect, Effect.forkChild)
      assert.isFalse(yield* store.isReady)
      const waiting = yield* Effect.forkChild(store.ready)
      yield* store.apply({ _tag: "Restarted", objects: [cm("a", "1"), cm("b", "2")], resourceVersion: "2" })
      yield* Fiber.join(waiting)
      assert.isTrue(yield* store.isReady)
      yield* store.apply({ _tag: "Deleted", object: cm("a", "3") })
      const seen = yield* Fiber.join(collected)
      assert.deepStrictEqual(
        seen.map((c) => [
          (c.after ?? c.before)?.metadata.name,
          c.after === undefined ? "deleted" : "present"
        ]),
        [
          ["a", "present"],
          ["b", "present"],
          ["a", "deleted"]
        ]
      )
      assert.deepStrictEqual(names(yield* store.list), ["b"])
    })
  )
})

describe("Cache: write-through ordering", () => {
  const versioned = (rv: string, value: string): KubeObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", namespace: "n", resourceVersion: rv },
    data: { value }
  })

  it("ignores an Applied event older than the cached object, and takes a newer one", () => {
    const cache = new Store.Cache()
    cache.apply({ _tag: "Restarted", objects: [], resourceVersion: "1" })
    cache.apply({ _tag: "Applied", object: versioned("12", "written-through") })
    assert.deepStrictEqual(cache.apply({ _tag: "Applied", object: versioned("11", "late watch event") }), [])
    const storedValue = () => (cache.get("/ConfigMap/n/c")?.data as { value?: string } | undefined)?.value
    assert.strictEqual(storedValue(), "written-through")
    assert.strictEqual(cache.apply({ _tag: "Applied", object: versioned("13", "newer") }).length, 1)
    assert.strictEqual(storedValue(), "newer")
  })

  it("takes the watch's echo of an object written through as no change (same resourceVersion), keeping the instance", () => {
    const cache = new Store.Cache()
    cache.apply({ _tag: "Restarted", objects: [], resourceVersion: "1" })
    const written = cache.apply({ _tag: "Applied", object: versioned("12", "written-through") })
    assert.strictEqual(written.length, 1, "the write-through is the change")
    const stored = cache.get("/ConfigMap/n/c")
    assert.deepStrictEqual(cache.apply({ _tag: "Applied", object: versioned("12", "written-through") }), [])
    assert.strictEqual(cache.get("/ConfigMap/n/c"), stored)
    assert.strictEqual(cache.apply({ _tag: "Applied", object: versioned("13", "newer") }).length, 1)
  })

  it("does not bring back a deleted object with a write's answer from before its deletion; a newer one is stored", () => {
    const cache = new Store.Cache()
    cache.apply({ _tag: "Restarted", objects: [versioned("20", "live")], resourceVersion: "20" })
    // As the API server does it: the last finalizer's removal answered at 21, the deletion's event at 23.
    cache.apply({ _tag: "Deleted", object: versioned("23", "gone") })
    assert.deepStrictEqual(cache.apply({ _tag: "Applied", object: versioned("21", "late answer") }), [])
    assert.deepStrictEqual(cache.apply({ _tag: "Applied", object: versioned("23", "late answer") }), [])
    assert.isUndefined(cache.get("/ConfigMap/n/c"))
    // Created again afterwards: a later resourceVersion.
    assert.strictEqual(cache.apply({ _tag: "Applied", object: versioned("30", "again") }).length, 1)
    assert.isDefined(cache.get("/ConfigMap/n/c"))
  })

  it("remembers only the most recent deletions", () => {
    const cache = new Store.Cache()
    cache.apply({ _tag: "Restarted", objects: [], resourceVersion: "1" })
    const named = (name: string, rv: string): KubeObject => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: "n", resourceVersion: rv }
    })
    for (let index = 0; index <= Store.maxTombstones; index++)
      cache.apply({ _tag: "Deleted", object: named(`c-${index}`, String(100 + index)) })
    // The first deletion is forgotten: an answer from before it is taken again.
    assert.strictEqual(cache.apply({ _tag: "Applied", object: named("c-0", "50") }).length, 1)
    assert.deepStrictEqual(cache.apply({ _tag: "Applied", object: named("c-1", "50") }), [])
  })
})
