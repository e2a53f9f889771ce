/**
 * Server-side apply and updates as the API server does them, per field manager, for the
 * Simulator: every manager's fields are recorded in `metadata.managedFields`; an apply sets the
 * fields it sends, takes over (force) the ones another manager held at a different value, and
 * removes the fields it sent last time and no longer sends unless another manager also owns
 * them; an update (a PUT or patch) gives its manager the fields it changed and takes them from
 * everyone else.
 *
 * Pure: objects in, objects out. Must not validate, default or version anything (the Simulator
 * does the little of that it models); lists merge by `ListTypes`.
 */
import { Predicate } from "effect"
import { type ListTypeNode, listTypeOf, listTypesOf } from "./ListTypes.ts"
import {
  elementWithKeys,
  type FieldsV1,
  fieldsOf,
  fromLeaves,
  leavesOf,
  type ManagedFieldsEntry,
  parseSegment,
  sameJson,
  statusFieldsOf,
  valueAt
} from "./ManagedFields.ts"
import type { KubeObject } from "./Object.ts"

type Json = unknown
type Path = ReadonlyArray<string>

/** `value` with the node at `segment` replaced by `update(node)`, or removed when `update` gives undefined. */
const updateChild = (value: Json, segment: string, update: (node: Json) => Json): Json => {
  const tag = segment.slice(0, 2)
  const rest = segment.slice(2)
  if (tag === "f:") {
    if (!Predicate.isObject(value) || Array.isArray(value)) return value
    const record = value as Record<string, Json>
    const next = update(record[rest])
    const out: Record<string, Json> = { ...record }
    if (next === undefined) delete out[rest]
    else out[rest] = next
    return out
  }
  if (!Array.isArray(value)) return value
  const matchIndex =
    tag === "k:"
      ? (() => {
          const keys = parseSegment(rest)
          const element = Predicate.isObject(keys) ? elementWithKeys(value, keys) : undefined
          return element === undefined ? -1 : value.indexOf(element)
        })()
      : tag === "v:"
        ? value.findIndex((element) => sameJson(element, parseSegment(rest)))
        : tag === "i:"
          ? Number(rest)
          : -1
  if (matchIndex < 0 || matchIndex >= value.length) return value
  const next = update(value[matchIndex])
  const out = [...value]
  if (next === undefined) out.splice(matchIndex, 1)
  else out[matchIndex] = next
  return out
}

const isEmptyContainer = (value: Json): boolean =>
  (Array.isArray(value) && value.length === 0) ||
  (Predicate.isObject(value) && Object.keys(value).length === 0)

/**
 * Removes from `value` what `old` held and `kept` no longer does, except where `others` (every
 * other manager's fields) still hold something: their fields stay.
 */
const release = (
  value: Json,
  old: FieldsV1,
  kept: FieldsV1 | undefined,
  others: FieldsV1 | undefined
): Json => {
  let current = value
  for (const segment in old) {
    if (segment === ".") continue
    const stillKept = kept?.[segment]
    const shared = others?.[segment]
    if (stillKept === undefined && shared === undefined) {
      current = updateChild(current, segment, () => undefined)
      continue
    }
    current = updateChild(current, segment, (node) => {
      const next = release(node, old[segment] as FieldsV1, stillKept ?? {}, shared)
      // A container emptied by the release goes too, unless it is itself still wanted.
      return isEmptyContainer(next) &&
        !isEmptyContainer(node) &&
        stillKept === undefined &&
        shared?.["."] === undefined
        ? undefined
        : next
    })
  }
  return current
}

/** `applied` merged into `current`: maps by key, lists by their list type, everything else replaced. */
const merge = (current: Json, applied: Json, types: ListTypeNode | undefined): Json => {
  if (applied === undefined || applied === null) return current
  if (Array.isArray(applied)) {
    const list = types?.list
    if (list === undefined || list.type === "atomic" || !Array.isArray(current)) return applied
    if (list.type === "set")
      return [...current, ...applied.filter((x) => !current.some((y) => sameJson(x, y)))]
    const out = [...current]
    for (const element of applied) {
      if (!Predicate.isObject(element)) continue
      const keys: Record<string, Json> = {}
      for (const key of list.keys) keys[key] = (element as Record<string, Json>)[key]
      const existing = elementWithKeys(out, keys)
      if (existing === undefined) out.push(element)
      else out[out.indexOf(existing)] = merge(existing, element, types?.elements)
    }
    return out
  }
  if (Predicate.isObject(applied) && Predicate.isObject(current) && !Array.isArray(current)) {
    const out: Record<string, Json> = { ...(current as Record<string, Json>) }
    for (const key in applied) {
      const value = (applied as Record<string, Json>)[key]
      if (value === undefined || value === null) continue
      out[key] = merge(out[key], value, listTypeOf(types, key))
    }
    return out
  }
  return applied
}

const leafKey = (path: Path): string => path.join("\u0000")

const union = (sets: ReadonlyArray<FieldsV1>): FieldsV1 => fromLeaves(sets.flatMap((set) => leavesOf(set)))

/** `fields` without the leaves `drop` names; a node left with no member but `.` goes too. */
const withoutLeaves = (
  fields: FieldsV1,
  drop: (leaf: Path) => boolean,
  path: Array<string> = []
): FieldsV1 => {
  const out: Record<string, FieldsV1> = {}
  for (const segment in fields) {
    const node = fields[segment] as FieldsV1
    if (segment === ".") {
      out[segment] = node
      continue
    }
    path.push(segment)
    const hasChildren = Object.keys(node).some((key) => key !== ".")
    if (!hasChildren) {
      if (!drop(path)) out[segment] = node
    } else {
      const kept = withoutLeaves(node, drop, path)
      if (Object.keys(kept).some((key) => key !== ".")) out[segment] = kept
    }
    path.pop()
  }
  return out
}

const isEmpty = (fields: FieldsV1): boolean => Object.keys(fields).length === 0

const withEntries = (object: KubeObject, entries: ReadonlyArray<ManagedFieldsEntry>): KubeObject => {
  const { managedFields: _managedFields, ...metadata } = object.metadata
  return { ...object, metadata: entries.length === 0 ? metadata : { ...metadata, managedFields: entries } }
}

const stripEntries = (object: KubeObject): KubeObject => withEntries(object, [])

/**
 * `applied` applied by `manager` with force onto `current` (undefined: a create), or with
 * `subresource` "status" its `.status` only, recorded in a separate entry of the same manager as
 * the API server does. Returns the stored object with its managed fields.
 */
export const apply = (
  current: KubeObject | undefined,
  applied: KubeObject,
  manager: string,
  now: string,
  subresource?: "status"
): KubeObject => {
  const fields = subresource === "status" ? statusFieldsOf(applied) : fieldsOf(applied)
  const entries = current?.metadata.managedFields ?? []
  const mine = entries.find(
    (entry) => entry.manager === manager && entry.operation === "Apply" && entry.subresource === subresource
  )
  const others = entries.filter((entry) => entry !== mine)
  const base: KubeObject =
    current === undefined ? { ...applied, metadata: { ...applied.metadata } } : stripEntries(current)
  const released =
    mine === undefined
      ? base
      : (release(
          base,
          mine.fieldsV1 ?? {},
          fields,
          union(others.map((entry) => entry.fieldsV1 ?? {}))
        ) as KubeObject)
  const merged = merge(released, stripEntries(applied), listTypesOf(applied)) as KubeObject
  // Force: a field someone else held at another value is ours now.
  const newLeaves = new Set(leavesOf(fields).map(leafKey))
  const entry: ManagedFieldsEntry = {
    manager,
    operation: "Apply",
    apiVersion: applied.apiVersion,
    time: now,
    fieldsType: "FieldsV1",
    fieldsV1: fields,
    ...(subresource === undefined ? {} : { subresource })
  }
  // Entries keep their places; a new manager's goes last.
  const next = entries.flatMap((other): ReadonlyArray<ManagedFieldsEntry> => {
    if (other === mine) return [entry]
    const remaining = withoutLeaves(
      other.fieldsV1 ?? {},
      (leaf) => newLeaves.has(leafKey(leaf)) && !sameJson(valueAt(base, leaf), valueAt(merged, leaf))
    )
    return isEmpty(remaining) ? [] : [{ ...other, fieldsV1: remaining }]
  })
  return withEntries(merged, mine === undefined ? [...next, entry] : next)
}

/**
 * `next` written whole by `manager` over `current` (an update: a PUT, or a patch's result). The
 * fields it changed or added become its own and nobody else's; fields it removed are nobody's.
 */
export const update = (current: KubeObject, next: KubeObject, manager: string, now: string): KubeObject => {
  const before = stripEntries(current)
  const after = stripEntries(next)
  const afterLeaves = leavesOf(fieldsOf(after))
  const changed = afterLeaves.filter((leaf) => !sameJson(valueAt(before, leaf), valueAt(after, leaf)))
  const changedKeys = new Set(changed.map(leafKey))
  const present = new Set(afterLeaves.map(leafKey))
  const entries = current.metadata.managedFields ?? []
  const mine = entries.find((entry) => entry.manager === manager && entry.operation === "Update")
  const kept = entries.flatMap((entry): ReadonlyArray<ManagedFieldsEntry> => {
    if (entry === mine) return []
    const remaining = withoutLeaves(
      entry.fieldsV1 ?? {},
      (leaf) => changedKeys.has(leafKey(leaf)) || !present.has(leafKey(leaf))
    )
    return isEmpty(remaining) ? [] : [{ ...entry, fieldsV1: remaining }]
  })
  const owned = fromLeaves([
    ...(mine === undefined ? [] : leavesOf(mine.fieldsV1 ?? {}).filter((leaf) => present.has(leafKey(leaf)))),
    ...changed
  ])
  const entry: ManagedFieldsEntry = {
    manager,
    operation: "Update",
    apiVersion: next.apiVersion,
    time: now,
    fieldsType: "FieldsV1",
    fieldsV1: owned
  }
  return withEntries(after, isEmpty(owned) ? kept : [...kept, entry])
}
