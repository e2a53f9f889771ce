/**
 * Server-side apply's record of which field manager owns which fields (`metadata.managedFields`,
 * in the API server's `FieldsV1` form), as plain data: reading a manager's entry, asking whether
 * everything a manager owns is still in what it desires, and building the field set an apply
 * records (for the Simulator).
 *
 * Why this matters: an apply owns exactly the fields it sends, and removes, on the next apply, the
 * fields it stops sending. So "does this child need a write?" has two halves: does the object
 * lack a value the controller desires (`Diff`), and does the controller still own a field it no
 * longer desires (`firstUnwanted`)? The second half reads the controller's own entry and nothing
 * else, so a field another manager owns is never a reason to write.
 *
 * The entry itself says how each list merges: `k:{"name":"x"}` segments are a list keyed by those
 * fields, `v:"x"` a set, a leaf an atomic list. Reading needs no schema; only building a field
 * set from an object (the Simulator's side) needs `ListTypes`.
 *
 * Pure. Must not decide what to write (that is `Plan`) nor compare values (that is `Diff`).
 */
import { Predicate } from "effect"
import { type ListTypeNode, listTypeOf, listTypesOf } from "./ListTypes.ts"
import type { KubeObject } from "./Object.ts"

/** A set of fields as the API server records it: `f:<field>`, `k:<keys JSON>`, `v:<value JSON>`, `i:<index>`, and `.` for "this node itself". */
export interface FieldsV1 {
  readonly [segment: string]: FieldsV1
}

/** One entry of `metadata.managedFields`. */
export interface ManagedFieldsEntry {
  readonly manager: string
  readonly operation: "Apply" | "Update"
  readonly apiVersion?: string | undefined
  readonly time?: string | undefined
  readonly fieldsType?: "FieldsV1" | undefined
  readonly fieldsV1?: FieldsV1 | undefined
  readonly subresource?: string | undefined
}

/** Metadata fields the API server never records in a field set (identity and server-set fields). */
const unrecordedMetadata: ReadonlySet<string> = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "selfLink",
  "managedFields"
])

/** Top-level fields never recorded: the type fields, and `status` (written through its own subresource). */
const unrecordedTop = (name: string): boolean => name === "apiVersion" || name === "kind" || name === "status"

/**
 * The fields `manager` owns on `object` through server-side apply (its `Apply` entry on the main
 * resource, or on `subresource` such as `status`), if it has one.
 */
export const appliedFieldsOf = (
  object: KubeObject,
  manager: string,
  subresource = ""
): FieldsV1 | undefined => {
  for (const entry of object.metadata.managedFields ?? []) {
    if (entry.manager === manager && entry.operation === "Apply" && (entry.subresource ?? "") === subresource)
      return entry.fieldsV1 ?? {}
  }
  return undefined
}

/** The managed-fields entries worth keeping in a cache: the `Apply` entries of `managers`; `undefined` when there are none. */
export const entriesOf = (
  entries: ReadonlyArray<ManagedFieldsEntry> | undefined,
  managers: ReadonlySet<string>
): ReadonlyArray<ManagedFieldsEntry> | undefined => {
  if (entries === undefined) return undefined
  let kept: Array<ManagedFieldsEntry> | undefined
  for (const entry of entries) {
    if (entry.operation !== "Apply" || !managers.has(entry.manager)) continue
    kept ??= []
    kept.push(entry)
  }
  return kept
}

// ---------------------------------------------------------------------------------------------
// Reading: what a manager owns that it no longer desires

/** A path in field-set segments, for messages: `spec.hard["services"]`, `spec.ports[name=http]`. */
export const renderFieldPath = (segments: ReadonlyArray<string>): string => {
  let out = ""
  for (const segment of segments) {
    const tag = segment.slice(0, 2)
    const rest = segment.slice(2)
    if (tag === "f:")
      out += /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(rest)
        ? out === ""
          ? rest
          : `.${rest}`
        : `[${JSON.stringify(rest)}]`
    else if (tag === "k:") out += `[${keyText(rest)}]`
    else if (tag === "v:") out += `[=${rest}]`
    else if (tag === "i:") out += `[${rest}]`
  }
  return out
}

const keyText = (json: string): string => {
  const keys = parseSegment(json)
  return Predicate.isObject(keys)
    ? Object.entries(keys)
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(",")
    : json
}

/**
 * `compute`, remembered by its argument: segments and field names are the same few (an owner's
 * UID, a label's name) on every child of every resync. At most 10,000 remembered, then forgotten
 * all at once: a bound, never unbounded memory.
 */
const remembered = <V>(compute: (text: string) => V): ((text: string) => V) => {
  const known = new Map<string, V>()
  return (text) => {
    const value = known.get(text)
    if (value !== undefined || known.has(text)) return value as V
    const computed = compute(text)
    if (known.size >= 10_000) known.clear()
    known.set(text, computed)
    return computed
  }
}

/** A `k:`/`v:` segment's JSON, parsed once (`undefined` when it is not JSON). */
export const parseSegment = remembered((text): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
})

/** Structural equality of JSON values (a key whose value is `undefined` counts as absent). */
export const sameJson = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]))
  if (Predicate.isObject(a) && Predicate.isObject(b) && !Array.isArray(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined)
    const kb = Object.keys(b).filter((k) => b[k] !== undefined)
    return ka.length === kb.length && ka.every((k) => sameJson(a[k], b[k]))
  }
  return false
}

/** The element of `list` whose key fields equal `keys` (a `k:` segment's object). */
export const elementWithKeys = (
  list: ReadonlyArray<unknown>,
  keys: Readonly<Record<string, unknown>>
): unknown => {
  for (const element of list) {
    if (!Predicate.isObject(element)) continue
    let match = true
    for (const field in keys) {
      if (!sameJson((element as Record<string, unknown>)[field], keys[field])) {
        match = false
        break
      }
    }
    if (match) return element
  }
  return undefined
}

/** The key fields of a keyed list, from the first `k:` segment of its field set; `undefined` when it is not keyed. */
export const listKeysOf = (fields: FieldsV1 | undefined): ReadonlyArray<string> | undefined => {
  if (fields === undefined) return undefined
  for (const segment in fields) {
    if (!segment.startsWith("k:")) continue
    const keys = parseSegment(segment.slice(2))
    return Predicate.isObject(keys) ? Object.keys(keys) : undefined
  }
  return undefined
}

/** Whether `fields` records a set (its members as `v:` segments). */
export const isSetList = (fields: FieldsV1 | undefined): boolean => {
  if (fields === undefined) return false
  for (const segment in fields) if (segment.startsWith("v:")) return true
  return false
}

const absent = (value: unknown): boolean => value === undefined || value === null

/** Where a walk of a field set is: the fields some levels hold are never the controller's. */
type Level = "top" | "metadata" | "annotations" | "below"

/** The prefix of the digest annotations (`Digest`), each stamped by the planner for its manager. */
const digestAnnotationPrefix = "desired-digest.kleff.io/"

/** The character codes of the segment tags: `f:`, `k:`, `v:`, `i:`. */
const tagF = 102
const tagK = 107
const tagV = 118
const tagI = 105
const colon = 58

/** The field name of an `f:` segment. */
const fieldNameOf = remembered((segment) => segment.slice(2))

/** The `f:` segment of field `name`. */
export const fieldSegmentOf = remembered((name) => `f:${name}`)

/** The parsed JSON of a whole `k:` or `v:` segment. */
const segmentValueOf = remembered((segment) => parseSegment(segment.slice(2)))

/** Whether an `f:` field at `level` is never the controller's to desire (so never unwanted). */
const unrecordedAt = (level: Level, name: string): boolean =>
  level === "top"
    ? unrecordedTop(name)
    : level === "metadata"
      ? unrecordedMetadata.has(name)
      : // A manager's own digest annotation is added by the planner, not by the controller.
        level === "annotations" && name.startsWith(digestAnnotationPrefix)

/**
 * The part of `owned` below `segment`. A function of its own, not `owned[segment]` inside the
 * `for … in` over `owned`: on field sets parsed from JSON (cached or not), V8 (Node 24) optimised
 * `unwanted` with no type feedback for that load, deoptimised there ("Insufficient type feedback
 * for generic keyed access"), optimised it again the same way, and so on: 387–1,435 deopts a run
 * of the tenant plan bench, and `firstUnwanted` took 14 µs a child instead of 1.2.
 * `test/deoptimisation.test.ts` in the tenant operator fails if such a loop comes back.
 */
const partOf = (owned: FieldsV1, segment: string): FieldsV1 => owned[segment] as FieldsV1

/**
 * Walks `owned` against the desired value; returns the first owned path the desired value lacks.
 * Where the shapes disagree (a desired scalar or atomic list under an owned node with children)
 * the node counts as desired: only a field the controller plainly dropped is reported.
 * Slices nothing on the matching path: it runs for every field of every child on every resync.
 */
const unwanted = (owned: FieldsV1, desired: unknown, segments: Array<string>, level: Level): boolean => {
  if (typeof desired !== "object" || desired === null) return false
  const isMap = Predicate.isObject(desired) && !Array.isArray(desired)
  for (const segment in owned) {
    if (segment.charCodeAt(1) !== colon) continue
    const tag = segment.charCodeAt(0)
    let next: unknown
    let nextLevel: Level = "below"
    if (tag === tagF) {
      if (!isMap) continue
      const name = fieldNameOf(segment)
      if (level !== "below" && unrecordedAt(level, name)) continue
      next = (desired as Record<string, unknown>)[name]
      if (level === "top" && name === "metadata") nextLevel = "metadata"
      else if (level === "metadata" && name === "annotations") nextLevel = "annotations"
    } else if (!Array.isArray(desired)) {
      continue
    } else if (tag === tagK) {
      const keys = segmentValueOf(segment)
      next = Predicate.isObject(keys) ? elementWithKeys(desired, keys) : undefined
    } else if (tag === tagV) {
      const value = segmentValueOf(segment)
      next = desired.some((element) => sameJson(element, value)) ? true : undefined
    } else if (tag === tagI) {
      next = desired[Number(segment.slice(2))]
    } else continue
    // Annotations the controller does not set may still hold the planner's digest: look inside.
    if (absent(next)) {
      if (nextLevel !== "annotations") {
        segments.push(segment)
        return true
      }
      next = {}
    }
    // Below a scalar nothing is unwanted (the shapes disagree, or it is a leaf): no walk needed.
    if (typeof next !== "object" || next === null) continue
    segments.push(segment)
    if (unwanted(partOf(owned, segment), next, segments, nextLevel)) return true
    segments.pop()
  }
  return false
}

/** A field a manager owns and no longer desires. */
export interface Unwanted {
  /** Readable: `spec.hard.services`. */
  readonly path: string
  /** Field-set segments: `["f:spec", "f:hard", "f:services"]`. */
  readonly segments: ReadonlyArray<string>
}

/**
 * The first field `owned` (a manager's applied field set) holds that `desired` no longer sets;
 * `undefined` when every owned field is still desired. Such a field is removed by applying
 * `desired`: an apply releases the fields it no longer sends.
 */
export const firstUnwanted = (owned: FieldsV1, desired: KubeObject): Unwanted | undefined => {
  const segments: Array<string> = []
  return unwanted(owned, desired, segments, "top") ? { path: renderFieldPath(segments), segments } : undefined
}

/**
 * The first field of `status` that a manager's status entry (`owned`, its `Apply` entry on the
 * status subresource) holds and `status` no longer sets: applying `status` removes it.
 */
export const firstUnwantedStatus = (
  owned: FieldsV1,
  status: Readonly<Record<string, unknown>>
): Unwanted | undefined => {
  const below = owned["f:status"]
  if (below === undefined) return undefined
  const segments: Array<string> = ["f:status"]
  return unwanted(below, status, segments, "below")
    ? { path: renderFieldPath(segments), segments }
    : undefined
}

/** The value at field-set `segments` below `value` (a field, a keyed element, a set member); `.` is skipped. */
export const valueAt = (value: unknown, segments: ReadonlyArray<string>): unknown => {
  let current = value
  for (const segment of segments) {
    if (segment === ".") continue
    const tag = segment.slice(0, 2)
    const rest = segment.slice(2)
    if (tag === "f:") {
      current =
        Predicate.isObject(current) && !Array.isArray(current)
          ? (current as Record<string, unknown>)[rest]
          : undefined
    } else if (!Array.isArray(current)) {
      return undefined
    } else if (tag === "k:") {
      const keys = parseSegment(rest)
      current = Predicate.isObject(keys) ? elementWithKeys(current, keys) : undefined
    } else if (tag === "v:") {
      const member = parseSegment(rest)
      current = current.some((element) => sameJson(element, member)) ? member : undefined
    } else if (tag === "i:") {
      current = current[Number(rest)]
    } else return undefined
    if (current === undefined) return undefined
  }
  return current
}

// ---------------------------------------------------------------------------------------------
// Building: the field set an apply of an object records

const fieldsOfValue = (value: unknown, types: ListTypeNode | undefined): FieldsV1 => {
  if (Array.isArray(value)) {
    const listType = types?.list
    if (listType === undefined || listType.type === "atomic") return {}
    const out: Record<string, FieldsV1> = {}
    for (const element of value) {
      if (listType.type === "set") out[`v:${JSON.stringify(element)}`] = {}
      else if (Predicate.isObject(element)) {
        const keys: Record<string, unknown> = {}
        for (const key of listType.keys) keys[key] = (element as Record<string, unknown>)[key]
        out[`k:${JSON.stringify(keys)}`] = { ".": {}, ...fieldsOfValue(element, types?.elements) }
      }
    }
    return out
  }
  if (Predicate.isObject(value)) {
    const out: Record<string, FieldsV1> = {}
    for (const key in value) {
      const child = (value as Record<string, unknown>)[key]
      if (absent(child)) continue
      out[`f:${key}`] = fieldsOfValue(child, listTypeOf(types, key))
    }
    return out
  }
  return {}
}

/** The field set an apply of `object` records for its manager: every field it sets, lists by their merge strategy. */
export const fieldsOf = (object: KubeObject): FieldsV1 => {
  const types = listTypesOf(object)
  const out: Record<string, FieldsV1> = {}
  for (const key in object) {
    if (unrecordedTop(key)) continue
    const value = object[key]
    if (absent(value)) continue
    if (key === "metadata") {
      const metadata: Record<string, FieldsV1> = {}
      const meta = value as Record<string, unknown>
      for (const field in meta) {
        if (unrecordedMetadata.has(field) || absent(meta[field])) continue
        metadata[`f:${field}`] = fieldsOfValue(meta[field], listTypeOf(listTypeOf(types, "metadata"), field))
      }
      if (Object.keys(metadata).length > 0) out["f:metadata"] = metadata
      continue
    }
    out[`f:${key}`] = fieldsOfValue(value, listTypeOf(types, key))
  }
  return out
}

/** The field set an apply of `object`'s status to its status subresource records (lists by their merge strategy). */
export const statusFieldsOf = (object: KubeObject): FieldsV1 =>
  absent(object.status)
    ? {}
    : { "f:status": fieldsOfValue(object.status, listTypeOf(listTypesOf(object), "status")) }

/** Every leaf path of a field set (nodes with no member other than `.`), as segment lists. */
export const leavesOf = (fields: FieldsV1): ReadonlyArray<ReadonlyArray<string>> => {
  const out: Array<ReadonlyArray<string>> = []
  const walk = (node: FieldsV1, path: Array<string>): void => {
    let children = 0
    for (const segment in node) {
      if (segment === ".") continue
      children++
      path.push(segment)
      walk(node[segment] as FieldsV1, path)
      path.pop()
    }
    if (children === 0 && path.length > 0) out.push([...path])
  }
  walk(fields, [])
  return out
}

/** The field set holding exactly `leaves`. */
export const fromLeaves = (leaves: Iterable<ReadonlyArray<string>>): FieldsV1 => {
  const root: MutableFields = {}
  for (const leaf of leaves) {
    let node = root
    for (const segment of leaf) {
      node[segment] ??= {}
      node = node[segment]
    }
  }
  return root
}

interface MutableFields {
  [segment: string]: MutableFields
}
