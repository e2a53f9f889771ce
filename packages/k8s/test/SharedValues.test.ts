/**
 * The cache shares equal values among its objects (`internal/sharedValues.ts`): what it must
 * never do is give an object a value it did not have. Objects are parsed from JSON text, as a
 * watch event is, ingested through `Store.Cache`, and read back.
 */

import { assert, describe, it } from "@effect/vitest"
import { type KubeObject, keyOf } from "@kleff/core"
import { Cache } from "../src/Store.ts"

/** A seeded generator (mulberry32): the same objects on every run. */
const generator = (seed: number) => {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(next() * items.length)] as A
  return { next, pick }
}

// Few distinct names and values, so that equal subtrees are frequent and unequal ones differ
// little: by one field's name, a value's type ("1" and 1, "true" and true, "null" and null), a
// character, the order of fields, an array's length. The odd characters are there to break a key
// built by joining values (a name or value holding a separator).
const names = ["a", "b", "ab", "a:", "1:a", "\u0000", "s1:", "#1;", "=1;"]
const strings = [
  "",
  "x",
  "1",
  "true",
  "null",
  "a",
  "1:a",
  "s1:a",
  "\u0000\u0001",
  "#2;",
  "=7;",
  "x".repeat(300)
]
const scalars: ReadonlyArray<unknown> = [0, 1, -1, 1.5, 2 ** 40, true, false, null, ...strings]

const randomValue = (random: ReturnType<typeof generator>, depth: number): unknown => {
  const roll = random.next()
  if (depth > 3 || roll < 0.45) return random.pick(scalars)
  const length = Math.floor(random.next() * 4)
  if (roll < 0.7) return Array.from({ length }, () => randomValue(random, depth + 1))
  const record: Record<string, unknown> = {}
  for (let i = 0; i < length; i++) record[random.pick(names)] = randomValue(random, depth + 1)
  return record
}

const randomObject = (random: ReturnType<typeof generator>, i: number): string =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: `object-${i}`,
      namespace: random.pick(["one", "two"]),
      labels: randomValue(random, 2),
      annotations: { note: random.pick(strings) }
    },
    data: randomValue(random, 0),
    extra: randomValue(random, 1)
  })

const parsed = (text: string): KubeObject => JSON.parse(text) as KubeObject

interface Spec {
  readonly policyTypes: ReadonlyArray<string>
  readonly egress: ReadonlyArray<{ readonly ports: ReadonlyArray<{ readonly port: number }> }>
}

const networkPolicy = (tenant: string, port: number): KubeObject =>
  parsed(
    JSON.stringify({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: {
        name: "allow-dns",
        namespace: `tenant-${tenant}`,
        labels: { "app.kubernetes.io/managed-by": "kleff-tenant-operator", "kleff.io/tenant": tenant }
      },
      spec: {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [{ ports: [{ port, protocol: "UDP" }], to: [{ namespaceSelector: { matchLabels: {} } }] }]
      }
    })
  )

describe("Store ingest shares equal values", () => {
  it("gives every object exactly the values it was parsed with, in order, among 5,000 objects whose values often coincide", () => {
    const random = generator(20261201)
    const cache = new Cache()
    const texts = Array.from({ length: 5000 }, (_, i) => randomObject(random, i))
    for (const text of texts) cache.apply({ _tag: "Applied", object: parsed(text) })
    assert.strictEqual(cache.size, 5000)
    for (const text of texts) assert.strictEqual(JSON.stringify(cache.get(keyOf(parsed(text)))), text)
  })

  it("holds one frozen copy of a spec and of labels that objects repeat, and a copy of its own of what differs", () => {
    const cache = new Cache()
    const policies = [networkPolicy("a", 53), networkPolicy("b", 53), networkPolicy("c", 54)]
    for (const object of policies) cache.apply({ _tag: "Applied", object })
    const [a, b, c] = policies.map((object) => {
      const cached = cache.get(keyOf(object))
      if (cached === undefined) return assert.fail(`${keyOf(object)} not cached`)
      return cached as KubeObject & { readonly spec: Spec }
    }) as [
      KubeObject & { readonly spec: Spec },
      KubeObject & { readonly spec: Spec },
      KubeObject & { readonly spec: Spec }
    ]
    assert.strictEqual(a.spec, b.spec, "equal specs are one object")
    assert.notStrictEqual(a.spec, c.spec)
    assert.strictEqual(c.spec.egress[0]?.ports[0]?.port, 54)
    // What differs in c is only the port: the rest of its spec is still the shared copy.
    assert.strictEqual(a.spec.policyTypes, c.spec.policyTypes)
    assert.notStrictEqual(a.metadata.labels, b.metadata.labels, "labels that differ are each object's own")
    assert.notStrictEqual(a.metadata, b.metadata, "an object's metadata is its own")
    assert.isTrue(Object.isFrozen(a.spec))
    assert.throws(() => {
      ;(a.spec as unknown as Record<string, unknown>).podSelector = { matchLabels: { changed: "yes" } }
    }, TypeError)
    assert.deepStrictEqual(b.spec, networkPolicy("b", 53).spec, "a write to the shared copy changed nothing")
  })

  it("forgets what it has not seen for a while: its tables hold a window of recent values, not every value ever cached", () => {
    const cache = new Cache()
    const first = networkPolicy("first", 5353)
    cache.apply({ _tag: "Applied", object: first })
    // 20,000 objects with specs of their own (a different port each) push it out of the window.
    for (let i = 0; i < 20_000; i++)
      cache.apply({ _tag: "Applied", object: networkPolicy(`n${i}`, 10_000 + i) })
    const again = networkPolicy("again", 5353)
    cache.apply({ _tag: "Applied", object: again })
    const spec = (object: KubeObject) => cache.get(keyOf(object))?.spec
    assert.deepStrictEqual(spec(again), spec(first))
    assert.notStrictEqual(spec(again), spec(first), "shared with a value 20,000 distinct specs ago")
    // While one seen lately is shared.
    const soon = networkPolicy("soon", 10_000 + 19_999)
    cache.apply({ _tag: "Applied", object: soon })
    assert.strictEqual(spec(soon), spec(networkPolicy("n19999", 0)))
  })
})
