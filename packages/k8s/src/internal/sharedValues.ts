/**
 * One copy of the values cached objects repeat, besides their field sets (`intern.ts`): strings,
 * and whole objects and arrays below an object's top level and its metadata (a NetworkPolicy's
 * spec, a quota's `hard`, a tenant's labels and owner references across its children).
 * JSON.parse gives every parsed object its own copy of everything: a cache of 1,000 Tenants held
 * 10,001 copies of one label value, 28,000 timestamps of 1,067 distinct values, two copies of each
 * UID, and one copy per tenant of specs that differ only by plan.
 *
 * A value is shared with an equal one seen lately: each kind of value has two tables, the newer
 * and the one before it, and the older is dropped when the newer fills. What a cache's objects
 * repeat recurs within that window (what every tenant has, on every ingest; what one tenant's
 * children have, within its burst of writes or within one kind's relist); what recurs more rarely
 * gets a copy of its own; the tables never hold more than their window. V8's own table of
 * internalised strings would share every string and hold nothing alive, but the only way in is to
 * make the string a property name, which cost 70 µs of ingest per object, three times the rest of
 * the ingest.
 *
 * An object or array is found by a hash of its values, built bottom up in one walk from numbers
 * given to shared strings, field names and subtrees, and then compared value by value (its
 * strings and subtrees are shared copies by then, so `===` compares them): two objects are one
 * only if equal, whatever their hashes. A subtree holding a frozen part (an interned field set,
 * shared by its own table) or a string longer than 256 characters is not shared. A shared copy is
 * frozen: a mutation throws instead of changing every object that holds it.
 *
 * It owns the tables and their windows, nothing else; the Store decides what to share.
 * Hand-written: JavaScript has no value interning and no library offers it for JSON trees.
 */

/** Longer strings are rarely repeated and cost their length to hash. */
const maxStringLength = 256

/** Recently seen values: a window of between `size` and `2 × size` distinct keys. */
class Window<K, V> {
  private recent = new Map<K, V>()
  private older = new Map<K, V>()
  private readonly size: number

  constructor(size: number) {
    this.size = size
  }

  /** The value kept for `key` (kept on in the newer table), or undefined. */
  find(key: K): V | undefined {
    const recent = this.recent.get(key)
    if (recent !== undefined) return recent
    const older = this.older.get(key)
    if (older !== undefined) this.keep(key, older)
    return older
  }

  /** Keeps `value` for `key`, and returns it. */
  keep(key: K, value: V): V {
    this.recent.set(key, value)
    if (this.recent.size >= this.size) {
      this.older = this.recent
      this.recent = new Map()
    }
    return value
  }
}

/** A shared value and its number, which the hashes of the objects holding it are made of. */
interface Shared<V> {
  readonly value: V
  readonly number: number
}
let nextNumber = 1
const shared = <V>(value: V): Shared<V> => ({ value, number: nextNumber++ })

const strings = new Window<string, Shared<string>>(16384)
/** Field names are V8's single copies already; only their numbers are kept. */
const fieldNames = new Window<string, number>(4096)
/** Shared objects and arrays by the hash of their values. */
const subtrees = new Window<number, Shared<object>>(4096)

const mix = (hash: number, value: number): number => Math.imul(hash ^ value, 0x01000193)

// What `part` says of the value it returns, without allocating: whether it can be part of a
// shared object (it is a shared string or subtree, or a number, boolean or null), and its hash.
let partKeyed = true
let partHash = 0

/** Whether `candidate`, a shared object or array, has exactly `node`'s values, in order. */
const sameValues = (candidate: object, node: object): boolean => {
  if (Array.isArray(node)) {
    if (!Array.isArray(candidate) || candidate.length !== node.length) return false
    for (let i = 0; i < node.length; i++) if (candidate[i] !== node[i]) return false
    return true
  }
  if (Array.isArray(candidate)) return false
  const fields = Object.keys(candidate)
  const record = node as Record<string, unknown>
  let i = 0
  for (const field in record) {
    if (fields[i] !== field || (candidate as Record<string, unknown>)[field] !== record[field]) return false
    i++
  }
  return i === fields.length
}

/** The shared copy of `node` (its values shared first), or undefined when it cannot be shared. */
const shareNode = (node: object): Shared<object> | undefined => {
  if (Object.isFrozen(node)) return undefined
  let hash = Array.isArray(node) ? 0x2f1a5c03 : 0x811c9dc5
  let keyed = true
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      node[i] = part(node[i])
      if (!partKeyed) keyed = false
      else if (keyed) hash = mix(hash, partHash)
    }
  } else {
    const record = node as Record<string, unknown>
    for (const field in record) {
      record[field] = part(record[field])
      if (!partKeyed) keyed = false
      else if (keyed) {
        const name = fieldNames.find(field) ?? fieldNames.keep(field, nextNumber++)
        hash = mix(mix(hash, name), partHash)
      }
    }
  }
  if (!keyed) return undefined
  const known = subtrees.find(hash)
  // Another value with the same hash (rare): this one stays unshared.
  if (known !== undefined) return sameValues(known.value, node) ? known : undefined
  return subtrees.keep(hash, shared(Object.freeze(node)))
}

/** `value` with its strings and subtrees shared; sets `partKeyed` and `partHash`. */
const part = (value: unknown): unknown => {
  partKeyed = true
  if (typeof value === "string") {
    if (value.length > maxStringLength) {
      partKeyed = false
      return value
    }
    const known = strings.find(value) ?? strings.keep(value, shared(value))
    partHash = mix(1, known.number)
    return known.value
  }
  if (typeof value === "object" && value !== null) {
    const known = shareNode(value)
    if (known === undefined) {
      partKeyed = false
      return value
    }
    partKeyed = true
    partHash = mix(2, known.number)
    return known.value
  }
  // Numbers (integers exactly, others by one hash: equal values are compared anyway), booleans, null.
  partHash =
    typeof value === "number"
      ? mix(3, Number.isInteger(value) ? value | 0 : 7)
      : value === true
        ? 5
        : value === false
          ? 6
          : 8
  return value
}

/** Shares, in place, the values of one object's own level: its strings, each subtree whole. */
const shareLevel = (record: Record<string, unknown>, skip: string): void => {
  for (const field in record) {
    if (field === skip) continue
    record[field] = part(record[field])
  }
}

/**
 * Replaces, in place, the values of `object` (fresh from the wire, not yet shared) by their
 * shared copies: every string, and every object and array below the object itself and its
 * `metadata` (those two are each object's own). Of `metadata.managedFields`, only the entries'
 * strings: their field sets are interned by `intern.ts`, and the entries are the object's own.
 */
export const shareValues = (object: { readonly metadata: object }): void => {
  const record = object as unknown as Record<string, unknown>
  for (const field in record) {
    if (field !== "metadata") {
      record[field] = part(record[field])
      continue
    }
    const metadata = record.metadata as Record<string, unknown>
    shareLevel(metadata, "managedFields")
    const entries = metadata.managedFields
    if (Array.isArray(entries)) for (const entry of entries) shareLevel(entry, "fieldsV1")
  }
}
