/**
 * Where built-in kinds hold quantities, and how the API server rewrites them: `1000m` is stored
 * as `1`, `1024Mi` as `1Gi`. Owns the table of quantity-valued fields (ResourceQuota, LimitRange,
 * pod specs and their templates, PVCs) as a tree the diff walks and the Simulator canonicalises
 * with. Custom resources are stored as sent, so they have no entry here.
 *
 * Pure. Must not copy an object that needs no change: the hot path compares, it does not rewrite.
 */
import { Predicate, Result } from "effect"
import { byGroupKind, type KubeObject } from "./Object.ts"
import * as Quantity from "./Quantity.ts"

/**
 * A path to quantity values inside an object. Segments are field names, `"[]"` for every element
 * of a list, and `"{}"` for every value of a map.
 */
export type QuantityPath = ReadonlyArray<string>

/** Every element of a list. */
export const eachElement = "[]"
/** Every value of a map. */
export const eachValue = "{}"

/** A node of the quantity-field tree: whether the value here is a quantity, and where to look below it. */
export interface QuantityFields {
  readonly quantity: boolean
  readonly fields: ReadonlyMap<string, QuantityFields> | undefined
  readonly elements: QuantityFields | undefined
  readonly values: QuantityFields | undefined
}

interface MutableFields {
  quantity: boolean
  fields: Map<string, MutableFields> | undefined
  elements: MutableFields | undefined
  values: MutableFields | undefined
}

const emptyNode = (): MutableFields => ({
  quantity: false,
  fields: undefined,
  elements: undefined,
  values: undefined
})

/** Builds the tree for a set of paths. */
export const quantityFields = (paths: ReadonlyArray<QuantityPath>): QuantityFields => {
  const root = emptyNode()
  for (const path of paths) {
    let node = root
    for (const segment of path) {
      if (segment === eachElement) {
        node.elements ??= emptyNode()
        node = node.elements
      } else if (segment === eachValue) {
        node.values ??= emptyNode()
        node = node.values
      } else {
        node.fields ??= new Map()
        let child = node.fields.get(segment)
        if (child === undefined) {
          child = emptyNode()
          node.fields.set(segment, child)
        }
        node = child
      }
    }
    node.quantity = true
  }
  return root
}

/** The subtree for field `name` of a map-like value at `node`: a named field, else every map value. */
export const fieldOf = (node: QuantityFields | undefined, name: string): QuantityFields | undefined =>
  node === undefined ? undefined : (node.fields?.get(name) ?? node.values)

/** The subtree for the elements of a list at `node`. */
export const elementOf = (node: QuantityFields | undefined): QuantityFields | undefined => node?.elements

const prefixed = (prefix: QuantityPath, paths: ReadonlyArray<QuantityPath>): ReadonlyArray<QuantityPath> =>
  paths.map((path) => [...prefix, ...path])

const resourceRequirements: ReadonlyArray<QuantityPath> = [
  ["limits", eachValue],
  ["requests", eachValue]
]

/** Quantity fields of a `PodSpec`, relative to it. */
export const podSpecQuantityPaths: ReadonlyArray<QuantityPath> = [
  ...["containers", "initContainers", "ephemeralContainers"].flatMap((list) =>
    prefixed([list, eachElement, "resources"], resourceRequirements)
  ),
  ...prefixed(["resources"], resourceRequirements),
  ["overhead", eachValue],
  ["volumes", eachElement, "emptyDir", "sizeLimit"]
]

const podTemplateAt = (prefix: QuantityPath): ReadonlyArray<QuantityPath> =>
  prefixed(prefix, podSpecQuantityPaths)

/** The quantity fields of the built-in kinds the framework knows, by `group/Kind`. */
export const builtInQuantityPaths: ReadonlyMap<string, ReadonlyArray<QuantityPath>> = new Map<
  string,
  ReadonlyArray<QuantityPath>
>([
  [
    "/ResourceQuota",
    [
      ["spec", "hard", eachValue],
      ["status", "hard", eachValue],
      ["status", "used", eachValue]
    ]
  ],
  [
    "/LimitRange",
    ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"].map((field) => [
      "spec",
      "limits",
      eachElement,
      field,
      eachValue
    ])
  ],
  ["/Pod", podTemplateAt(["spec"])],
  ["/PodTemplate", podTemplateAt(["template", "spec"])],
  ["/ReplicationController", podTemplateAt(["spec", "template", "spec"])],
  [
    "/PersistentVolumeClaim",
    [...prefixed(["spec", "resources"], resourceRequirements), ["status", "capacity", eachValue]]
  ],
  ["/PersistentVolume", [["spec", "capacity", eachValue]]],
  ["apps/Deployment", podTemplateAt(["spec", "template", "spec"])],
  ["apps/ReplicaSet", podTemplateAt(["spec", "template", "spec"])],
  ["apps/DaemonSet", podTemplateAt(["spec", "template", "spec"])],
  [
    "apps/StatefulSet",
    [
      ...podTemplateAt(["spec", "template", "spec"]),
      ...prefixed(["spec", "volumeClaimTemplates", eachElement, "spec", "resources"], resourceRequirements)
    ]
  ],
  ["batch/Job", podTemplateAt(["spec", "template", "spec"])],
  ["batch/CronJob", podTemplateAt(["spec", "jobTemplate", "spec", "template", "spec"])]
])

/** The trees by group and kind: looked up for every child on every resync, so without building a key. */
const treeOf = byGroupKind(
  [...builtInQuantityPaths].map(([groupKind, paths]) => [groupKind, quantityFields(paths)] as const)
)

/** The quantity-field tree of an object's kind, or `undefined` when its kind holds no quantities. */
export const quantityFieldsOf = (object: KubeObject): QuantityFields | undefined =>
  treeOf(object.apiVersion, object.kind)

/**
 * The string the API server stores for a quantity field's value: JSON strings are trimmed and
 * parsed, JSON numbers are parsed from their text. `undefined` when it is not a quantity.
 */
export const canonicalQuantityValue = (value: unknown): string | undefined => {
  const text = Predicate.isString(value)
    ? value.trim()
    : Predicate.isNumber(value)
      ? String(value)
      : undefined
  if (text === undefined) return undefined
  return Result.getOrUndefined(Quantity.canonical(text))
}

/** Whether two values of a quantity field denote the same quantity (`1000m` and `1`). */
export const sameQuantityValue = (desired: unknown, observed: unknown): boolean => {
  if (desired === observed) return true
  if (Predicate.isString(desired) && Predicate.isString(observed))
    return Quantity.sameValue(desired, observed)
  const d = Predicate.isNumber(desired) ? String(desired) : desired
  const o = Predicate.isNumber(observed) ? String(observed) : observed
  return Predicate.isString(d) && Predicate.isString(o) && Quantity.sameValue(d.trim(), o.trim())
}

type Visit = (value: unknown, path: ReadonlyArray<string | number>) => unknown

/** Rewrites the quantity leaves under `node`, copying only along paths that change. */
const rewrite = (
  value: unknown,
  node: QuantityFields,
  path: Array<string | number>,
  visit: Visit
): unknown => {
  if (node.quantity) return visit(value, path)
  if (Array.isArray(value)) {
    const element = node.elements
    if (element === undefined) return value
    let copy: Array<unknown> | undefined
    for (let i = 0; i < value.length; i++) {
      path.push(i)
      const next = rewrite(value[i], element, path, visit)
      path.pop()
      if (next !== value[i]) {
        copy ??= value.slice()
        copy[i] = next
      }
    }
    return copy ?? value
  }
  if (!Predicate.isObject(value)) return value
  const record = value
  let copy: Record<string, unknown> | undefined
  const rewriteField = (key: string, child: QuantityFields) => {
    if (!(key in record)) return
    path.push(key)
    const next = rewrite(record[key], child, path, visit)
    path.pop()
    if (next !== record[key]) {
      copy ??= { ...record }
      copy[key] = next
    }
  }
  if (node.values !== undefined) {
    for (const key of Object.keys(record)) rewriteField(key, node.fields?.get(key) ?? node.values)
  } else if (node.fields !== undefined) {
    for (const [key, child] of node.fields) rewriteField(key, child)
  }
  return copy ?? value
}

/**
 * The object as the API server stores it, as far as quantities go: every quantity field in its
 * stored form. Returns `object` itself when nothing changes; leaves invalid values as they are
 * (see `invalidQuantities`).
 */
export const canonicalize = <A extends KubeObject>(object: A): A => {
  const tree = quantityFieldsOf(object)
  if (tree === undefined) return object
  return rewrite(object, tree, [], (value) => canonicalQuantityValue(value) ?? value) as A
}

/**
 * The object with every valid quantity field rewritten to one spelling of its value (DecimalSI,
 * canonical: `1.500`, `1500m` → `1500m`; `1Gi`, `1073741824` → `1073741824`): two objects that are
 * the same up to how quantities are written normalise to equal objects. For comparisons only; it is
 * not what the API server stores (see `canonicalize`).
 */
export const normalizeQuantities = <A extends KubeObject>(object: A): A => {
  const tree = quantityFieldsOf(object)
  if (tree === undefined) return object
  return rewrite(object, tree, [], (value) => {
    const text = Predicate.isString(value)
      ? value.trim()
      : Predicate.isNumber(value)
        ? String(value)
        : undefined
    if (text === undefined) return value
    const parsed = Quantity.parse(text)
    return Result.isSuccess(parsed)
      ? Quantity.canonicalForm({ ...parsed.success, format: "DecimalSI" })
      : value
  }) as A
}

/** A quantity field whose value the API server would reject. */
export interface InvalidQuantityField {
  readonly path: ReadonlyArray<string | number>
  readonly value: unknown
}

/** The quantity fields of `object` that do not hold a quantity (the API server rejects such an object as Invalid). */
export const invalidQuantities = (object: KubeObject): ReadonlyArray<InvalidQuantityField> => {
  const tree = quantityFieldsOf(object)
  if (tree === undefined) return []
  const found: Array<InvalidQuantityField> = []
  rewrite(object, tree, [], (value, path) => {
    if (value !== undefined && value !== null && canonicalQuantityValue(value) === undefined) {
      found.push({ path: [...path], value })
    }
    return value
  })
  return found
}
