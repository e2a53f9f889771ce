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
 * The objects' other values are shared by `sharedValues.ts`.
 *
 * It owns the table of field-set parts and its bound, nothing else; the Store decides what to
 * intern. Interned parts are shared and frozen, so a mutation throws instead of changing other
 * objects. The table stops growing at its bound (a cluster with endless distinct values gets no more
 * sharing past it, never unbounded memory). Hand-written: JavaScript has no value interning and
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
