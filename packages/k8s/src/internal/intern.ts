/**
 * One copy of what thousands of cached objects repeat. A cache of 1,000 Tenants (11 objects each)
 * held 150,000 empty objects and 50,000 more in `metadata.managedFields[].fieldsV1` (the same
 * few field sets, one per kind of child, parsed afresh from every watch event) and 12,000 copies
 * of "kleff.kleff.io/v1": of 36 KiB of heap per tenant, 10 were field sets. Here every part of a
 * field set is replaced by the one frozen copy of its value.
 *
 * A field set is whole only per object (its `f:ownerReferences` names the owner's UID), so it is
 * shared part by part, bottom up: a part is known by its field names and its parts' numbers, and
 * a part keyed by a UID (`k:{"uid":…}`) — or holding one — is the object's own and never enters
 * the table (it would only fill it).
 *
 * String values are shared too (`shareStrings`): JSON.parse gives every value its own copy, and
 * a cache of 1,000 Tenants held 10,001 copies of one label value, 28,000 timestamps of 1,067
 * distinct values and two copies of each UID (an object's and its children's owner references),
 * over a quarter of the caches' heap. A value is shared with an equal one seen lately (a window
 * of recent distinct strings, `sharedString`), which is where a cache's repeats are.
 *
 * It owns the tables (field-set parts, recent strings) and their bounds, nothing else; the Store decides what to
 * intern. Interned parts are shared and frozen, so a mutation throws instead of changing other
 * objects. The table stops growing at its bound (a cluster with endless distinct values gets no more
 * sharing past them, never unbounded memory). Hand-written: JavaScript has no value interning and
 * no library offers it for JSON trees.
 */
import type { ManagedFields } from "@kleff/core"

type ManagedFieldsEntry = ManagedFields.ManagedFieldsEntry

/** Distinct parts of field sets kept (a controller's children give a few hundred; a bound, not a target). */
const maxFieldSetParts = 16384

/** The empty part, `{}`: most of a field set's objects (every leaf). */
const emptyPart: object = Object.freeze({})
/** Interned parts by their key (field names and the numbers of their parts). */
const parts = new Map<string, object>()
/** The number of each interned part. */
const partNumbers = new WeakMap<object, number>()

/** A key of a list item that names a UID: unique to one object (and owner), never shared. */
const isUidKey = (field: string): boolean => field.startsWith('k:{"uid":')

/**
 * `part` (fresh from the wire, changed in place) with each of its parts replaced by its interned
 * copy; the part's own interned copy and number when it can be shared.
 */
const internPart = (part: Record<string, unknown>): { readonly value: object; readonly number?: number } => {
  let key = ""
  let shareable = true
  let empty = true
  for (const field in part) {
    empty = false
    const child = part[field]
    if (typeof child !== "object" || child === null) {
      shareable = false
      continue
    }
    const interned = internPart(child as Record<string, unknown>)
    part[field] = interned.value
    if (interned.number === undefined || isUidKey(field)) shareable = false
    else if (shareable) key += `${JSON.stringify(field)}:${interned.number},`
  }
  if (empty) return { value: emptyPart, number: 0 }
  if (!shareable) return { value: part }
  const known = parts.get(key)
  if (known !== undefined) return { value: known, number: partNumbers.get(known) as number }
  if (parts.size >= maxFieldSetParts) return { value: part }
  Object.freeze(part)
  const number = parts.size + 1
  parts.set(key, part)
  partNumbers.set(part, number)
  return { value: part, number }
}

/** `fieldsV1` (fresh from the wire, changed in place) with its parts shared (see the header). */
export const internFieldSet = <F>(fieldsV1: F): F =>
  typeof fieldsV1 === "object" && fieldsV1 !== null
    ? (internPart(fieldsV1 as Record<string, unknown>).value as F)
    : fieldsV1

/** A managedFields entry with its field set interned (a new entry; the input is not changed). */
export const internEntry = (entry: ManagedFieldsEntry): ManagedFieldsEntry =>
  entry.fieldsV1 === undefined ? { ...entry } : { ...entry, fieldsV1: internFieldSet(entry.fieldsV1) }

/** Longer string values are rarely repeated and cost their length to hash. */
const maxSharedStringLength = 256
/** Distinct strings a table of recent values holds before it is set aside for a new one. */
const recentStrings = 16384

/** Strings seen lately: the newer table, and the one before it. */
let recentValues = new Map<string, string>()
let olderValues = new Map<string, string>()

/**
 * The copy of `value` kept for strings equal to it: the first copy seen, if one was seen among
 * the last 16,384 to 32,768 distinct strings, else `value` itself. Two tables, the older dropped
 * when the newer fills: what a cache's objects repeat (label values, type names, a tenant's
 * namespace and owner UID across its children, the timestamps of one second) recurs within that
 * window and stays shared; what recurs more rarely gets a copy of its own; the tables never hold
 * more than the window. V8's own table of internalised strings would share everything and hold
 * nothing alive, but putting a string in it (the only way is to make it a property name) cost
 * 70 µs of ingest per object, three times the rest of the ingest; this costs a map lookup a string.
 */
const sharedString = (value: string): string => {
  const recent = recentValues.get(value)
  if (recent !== undefined) return recent
  const kept = olderValues.get(value) ?? value
  recentValues.set(kept, kept)
  if (recentValues.size >= recentStrings) {
    olderValues = recentValues
    recentValues = new Map()
  }
  return kept
}

/**
 * Replaces, in place, every string value in `value` (an object or array fresh from the wire, not
 * yet shared; frozen parts, already interned, are passed over) by its shared copy. Property
 * names need nothing: V8 keeps one copy of each.
 */
export const shareStrings = (value: object): void => {
  if (Object.isFrozen(value)) return
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = shared(value[i])
    return
  }
  const record = value as Record<string, unknown>
  for (const field in record) record[field] = shared(record[field])
}

const shared = (value: unknown): unknown => {
  if (typeof value === "string") return value.length > maxSharedStringLength ? value : sharedString(value)
  if (typeof value === "object" && value !== null) shareStrings(value)
  return value
}
