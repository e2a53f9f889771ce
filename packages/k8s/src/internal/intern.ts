/**
 * One copy of what thousands of cached objects repeat. A cache of 1,000 Tenants (11 objects each)
 * held 150,000 empty objects and 50,000 more in `metadata.managedFields[].fieldsV1` (the same
 * few field sets, one per kind of child, parsed afresh from every watch event) and 12,000 copies
 * of "kleff.kleff.io/v1": of 36 KiB of heap per tenant, 10 were field sets. Here every part of a
 * field set is replaced by the one frozen copy of its value, and the strings that name a type or a
 * field manager by one copy each.
 *
 * A field set is whole only per object (its `f:ownerReferences` names the owner's UID), so it is
 * shared part by part, bottom up: a part is known by its field names and its parts' numbers, and
 * a part keyed by a UID (`k:{"uid":…}`) — or holding one — is the object's own and never enters
 * the table (it would only fill it).
 *
 * It owns the tables and their bounds, nothing else; the Store decides what to intern. Interned
 * values are shared and frozen, so a mutation throws instead of changing other objects. The
 * tables stop growing at their bounds (a cluster with endless distinct values gets no more
 * sharing past them, never unbounded memory). Hand-written: JavaScript has no value interning and
 * no library offers it for JSON trees.
 */
import type { KubeObject, ManagedFields } from "@kleff/core"

type ManagedFieldsEntry = ManagedFields.ManagedFieldsEntry

/** Distinct parts of field sets kept (a controller's children give a few hundred; a bound, not a target). */
const maxFieldSetParts = 16384
/** Distinct short strings kept: apiVersions, kinds, field managers. */
const maxStrings = 4096
/** Longer strings are not worth a table entry. */
const maxStringLength = 128

/** The empty part, `{}`: most of a field set's objects (every leaf). */
const emptyPart: object = Object.freeze({})
/** Interned parts by their key (field names and the numbers of their parts). */
const parts = new Map<string, object>()
/** The number of each interned part. */
const partNumbers = new WeakMap<object, number>()
const strings = new Map<string, string>()

/** The one copy of `value`, or `value` itself when the table is full or the string long. */
export const internString = <S extends string | undefined>(value: S): S => {
  if (value === undefined || value.length > maxStringLength) return value
  const known = strings.get(value)
  if (known !== undefined) return known as S
  if (strings.size < maxStrings) strings.set(value, value)
  return value
}

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

/** A managedFields entry with its field set and names interned (a new entry; the input is not changed). */
export const internEntry = (entry: ManagedFieldsEntry): ManagedFieldsEntry => {
  const interned: { -readonly [K in keyof ManagedFieldsEntry]: ManagedFieldsEntry[K] } = {
    ...entry,
    manager: internString(entry.manager)
  }
  if (entry.apiVersion !== undefined) interned.apiVersion = internString(entry.apiVersion)
  if (entry.fieldsV1 !== undefined) interned.fieldsV1 = internFieldSet(entry.fieldsV1)
  return interned
}

/**
 * Interns, in place, the strings of `object` that name types (its own and its owners'
 * apiVersion and kind). The object must be fresh from the wire, not yet shared.
 */
export const internTypeNames = (object: KubeObject): void => {
  const mutable = object as { apiVersion: string; kind: string }
  mutable.apiVersion = internString(object.apiVersion)
  mutable.kind = internString(object.kind)
  const owners = object.metadata.ownerReferences
  if (owners !== undefined)
    for (const owner of owners as unknown as Array<{ apiVersion: string; kind: string }>) {
      owner.apiVersion = internString(owner.apiVersion)
      owner.kind = internString(owner.kind)
    }
}
