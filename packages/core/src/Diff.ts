/**
 * The semantic comparison behind "does this child need a write?", in two halves:
 * - values: desired ⊆ observed over the fields the controller sets. A field present in desired
 *   must be equal in observed (quantities by value, so `1000m` equals `1`); fields only in
 *   observed (server defaults, other managers) are ignored; an empty map or list in desired
 *   matches an absent one. Lists follow their merge strategy as the controller's own
 *   managed-fields entry records it: a keyed list matches element by key (another manager's
 *   elements are not ours to compare), a set by membership, an atomic list element by element
 *   with equal length. Metadata compares labels, annotations and finalizers as subsets and owner
 *   references by UID; `status` is never compared (apply does not write it).
 * - ownership (`changeOf`): the controller has an `Apply` entry at all (an object it never applied
 *   cannot tell what it owns), the digest of the lists it desires (`Digest`) is the one it stamped
 *   at its last apply (inside an atomic list only the digest sees a key dropped), and it owns no
 *   field it no longer desires (`ManagedFields.firstUnwanted`: the apply would remove it).
 *
 * Pure and allocation-free on the matching path: this runs for every child of every primary on
 * every resync. Must not decide what to do about a difference: that is `Plan`.
 */
import { Predicate } from "effect"
import { fieldOf, type QuantityFields, quantityFieldsOf, sameQuantityValue } from "./Canonical.ts"
import { desiredDigest, desiredDigestAnnotation, withDesiredDigest } from "./Digest.ts"
import {
  appliedFieldsOf,
  elementWithKeys,
  type FieldsV1,
  fieldSegmentOf,
  firstUnwanted,
  isSetList,
  listKeysOf,
  parseSegment,
  valueAt
} from "./ManagedFields.ts"
import { type KubeObject, type ObjectMeta, sameGroup } from "./Object.ts"

/** The first place where observed does not carry what desired asks for. */
export interface Difference {
  /** Where, as a field path: `spec.hard["requests.cpu"]`, `metadata.labels.team`, `data.key`, or `(identity)`. */
  readonly path: string
  readonly desired: unknown
  readonly observed: unknown
  /**
   * `value` (a value to set; the default), `removal` (a field the manager owns and no longer
   * desires: `desired` is undefined), `unapplied` (the manager has no record of applying it), or
   * `digest` (what the manager desires changed where only the digest can tell, inside an atomic
   * list: `path` is the first field observed has and desired lacks, when there is one).
   */
  readonly change?: "value" | "removal" | "unapplied" | "digest" | undefined
}

/** Collects the path while explaining; `undefined` on the fast path. */
interface Trail {
  readonly segments: Array<string | number>
  found: Difference | undefined
}

const miss = (trail: Trail | undefined, desired: unknown, observed: unknown): false => {
  if (trail !== undefined && trail.found === undefined) {
    trail.found = { path: renderPath(trail.segments), desired, observed }
  }
  return false
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$-]*$/

/** Renders `["spec", "hard", "requests.cpu"]` as `spec.hard["requests.cpu"]`. */
export const renderPath = (segments: ReadonlyArray<string | number>): string => {
  let out = ""
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`
    else if (identifier.test(segment)) out += out === "" ? segment : `.${segment}`
    else out += `[${JSON.stringify(segment)}]`
  }
  return out
}

/** A desired value that an absent observed value satisfies: `null`, `[]`, `{}`, or a map of such. */
const matchesAbsent = (desired: unknown): boolean => {
  if (desired === undefined || desired === null) return true
  if (Array.isArray(desired)) return desired.length === 0
  if (Predicate.isObject(desired)) {
    for (const key in desired) if (!matchesAbsent(desired[key])) return false
    return true
  }
  return false
}

/** The owned node of field `name`. */
const ownedField = (owned: FieldsV1 | undefined, name: string): FieldsV1 | undefined =>
  owned === undefined ? undefined : owned[fieldSegmentOf(name)]

/** The owned node of the keyed element whose key fields match `element`'s. */
const ownedElement = (
  owned: FieldsV1 | undefined,
  keys: ReadonlyArray<string>,
  element: unknown
): FieldsV1 | undefined => {
  if (owned === undefined || !Predicate.isObject(element)) return undefined
  for (const segment in owned) {
    if (!segment.startsWith("k:")) continue
    const parsed = parseSegment(segment.slice(2))
    if (Predicate.isObject(parsed) && elementWithKeys([element], parsed) !== undefined && keys.length > 0)
      return owned[segment]
  }
  return undefined
}

const listMatches = (
  desired: ReadonlyArray<unknown>,
  observed: unknown,
  quantities: QuantityFields | undefined,
  owned: FieldsV1 | undefined,
  trail: Trail | undefined
): boolean => {
  if (!Array.isArray(observed)) return miss(trail, desired, observed)
  const elements = quantities?.elements
  const keys = listKeysOf(owned)
  if (keys !== undefined) {
    // A keyed list: each desired element against the observed element with the same keys.
    for (let i = 0; i < desired.length; i++) {
      const element = desired[i]
      const keyValues: Record<string, unknown> = {}
      if (Predicate.isObject(element))
        for (const key of keys) keyValues[key] = (element as Record<string, unknown>)[key]
      const counterpart = elementWithKeys(observed, keyValues)
      trail?.segments.push(i)
      const ok =
        counterpart !== undefined
          ? matches(element, counterpart, elements, ownedElement(owned, keys, element), trail)
          : miss(trail, element, undefined)
      trail?.segments.pop()
      if (!ok) return false
    }
    return true
  }
  if (isSetList(owned)) {
    // A set: membership.
    for (let i = 0; i < desired.length; i++) {
      const element = desired[i]
      if (!observed.some((candidate) => matches(element, candidate, elements, undefined, undefined))) {
        trail?.segments.push(i)
        miss(trail, element, undefined)
        trail?.segments.pop()
        return false
      }
    }
    return true
  }
  if (observed.length !== desired.length) return miss(trail, desired, observed)
  for (let i = 0; i < desired.length; i++) {
    trail?.segments.push(i)
    const ok = matches(desired[i], observed[i], elements, undefined, trail)
    trail?.segments.pop()
    if (!ok) return false
  }
  return true
}

const matches = (
  desired: unknown,
  observed: unknown,
  quantities: QuantityFields | undefined,
  owned: FieldsV1 | undefined,
  trail: Trail | undefined
): boolean => {
  if (desired === observed || desired === undefined) return true
  if (quantities?.quantity === true) {
    return sameQuantityValue(desired, observed) || miss(trail, desired, observed)
  }
  if (observed === undefined || observed === null) {
    return matchesAbsent(desired) || miss(trail, desired, observed)
  }
  if (Array.isArray(desired)) return listMatches(desired, observed, quantities, owned, trail)
  if (Predicate.isObject(desired)) {
    if (!Predicate.isObject(observed)) return miss(trail, desired, observed)
    for (const key in desired) {
      trail?.segments.push(key)
      const ok = matches(desired[key], observed[key], fieldOf(quantities, key), ownedField(owned, key), trail)
      trail?.segments.pop()
      if (!ok) return false
    }
    return true
  }
  return miss(trail, desired, observed)
}

/** Whether every entry of `desired` is in `observed` with the same value. */
const stringMapContains = (
  desired: Readonly<Record<string, string>> | undefined,
  observed: Readonly<Record<string, string>> | undefined,
  trail: Trail | undefined
): boolean => {
  if (desired === undefined) return true
  for (const key in desired) {
    const value = desired[key]
    if (value === undefined) continue
    const actual = observed?.[key]
    if (actual !== value) {
      trail?.segments.push(key)
      miss(trail, value, actual)
      trail?.segments.pop()
      return false
    }
  }
  return true
}

const metadataMatches = (desired: ObjectMeta, observed: ObjectMeta, trail: Trail | undefined): boolean => {
  trail?.segments.push("metadata", "labels")
  if (!stringMapContains(desired.labels, observed.labels, trail)) return false
  trail?.segments.pop()
  trail?.segments.push("annotations")
  if (!stringMapContains(desired.annotations, observed.annotations, trail)) return false
  trail?.segments.pop()
  trail?.segments.push("ownerReferences")
  for (const reference of desired.ownerReferences ?? []) {
    const held = observed.ownerReferences?.find((candidate) => candidate.uid === reference.uid)
    if (held === undefined || (reference.controller === true && held.controller !== true)) {
      return miss(trail, reference, held)
    }
  }
  trail?.segments.pop()
  trail?.segments.push("finalizers")
  for (const finalizer of desired.finalizers ?? []) {
    if (!(observed.finalizers ?? []).includes(finalizer)) return miss(trail, finalizer, observed.finalizers)
  }
  trail?.segments.pop()
  trail?.segments.pop()
  return true
}

/** Top-level fields that are not compared as body: identity, metadata, and status (apply never writes it). */
const notBody = (key: string): boolean =>
  key === "metadata" || key === "apiVersion" || key === "kind" || key === "status"

const objectMatches = (
  desired: KubeObject,
  observed: KubeObject,
  owned: FieldsV1 | undefined,
  trail: Trail | undefined
): boolean => {
  const d = desired.metadata
  const o = observed.metadata
  if (
    desired.kind !== observed.kind ||
    !sameGroup(desired.apiVersion, observed.apiVersion) ||
    d.name !== o.name ||
    (d.namespace ?? "") !== (o.namespace ?? "")
  ) {
    if (trail !== undefined)
      trail.found = { path: "(identity)", desired: identityOf(desired), observed: identityOf(observed) }
    return false
  }
  if (!metadataMatches(d, o, trail)) return false
  const quantities = quantityFieldsOf(desired)
  for (const key in desired) {
    if (notBody(key)) continue
    trail?.segments.push(key)
    const ok = matches(desired[key], observed[key], fieldOf(quantities, key), ownedField(owned, key), trail)
    trail?.segments.pop()
    if (!ok) return false
  }
  return true
}

const identityOf = (object: KubeObject): string =>
  `${object.apiVersion} ${object.kind} ${object.metadata.namespace === undefined ? "" : `${object.metadata.namespace}/`}${object.metadata.name}`

/**
 * Whether `observed` lacks a value `desired` sets. `owned` (the controller's applied field set)
 * tells how its lists merge; without it every list is compared as atomic.
 */
export const differs = (desired: KubeObject, observed: KubeObject, owned?: FieldsV1): boolean =>
  !objectMatches(desired, observed, owned, undefined)

/** The first field where `observed` lacks a value `desired` sets, for dry runs and diagnostics; `undefined` when it matches. */
export const firstDifference = (
  desired: KubeObject,
  observed: KubeObject,
  owned?: FieldsV1
): Difference | undefined => {
  const trail: Trail = { segments: [], found: undefined }
  return objectMatches(desired, observed, owned, trail) ? undefined : trail.found
}

/**
 * Why `manager` must apply `desired` (as its controller builds it; the digest annotation is added
 * here) over `observed`, or `undefined` when it need not: a value it sets is missing or different;
 * it owns a field it no longer sets (the apply removes it); what it desires changed (the digest);
 * or it has never applied the object, so what it owns is unknown. Fields other managers own are
 * never a reason. `fast` skips building the explanation.
 */
export const changeOf = (
  built: KubeObject,
  observed: KubeObject,
  manager: string,
  fast = false
): Difference | undefined => {
  const owned = appliedFieldsOf(observed, manager)
  if (owned === undefined) {
    return { path: "metadata.managedFields", desired: manager, observed: undefined, change: "unapplied" }
  }
  // Three cheap tests, in order: the digest of the lists (the only place the record cannot see a
  // field left behind), the values, and the record (a field owned and no longer desired).
  if (fast) {
    const digest = observed.metadata.annotations?.[desiredDigestAnnotation(manager)]
    return digest === desiredDigest(built) &&
      objectMatches(built, observed, owned, undefined) &&
      firstUnwanted(owned, built) === undefined
      ? undefined
      : { path: "", desired: undefined, observed: undefined }
  }
  const desired = withDesiredDigest(built, manager)
  const unwanted = firstUnwanted(owned, desired)
  const difference = firstDifference(desired, observed, owned)
  if (
    difference !== undefined &&
    !difference.path.startsWith(`metadata.annotations["${desiredDigestAnnotation(manager)}"]`)
  )
    return difference
  if (unwanted !== undefined) {
    return {
      path: unwanted.path,
      desired: undefined,
      observed: valueAt(observed, unwanted.segments),
      change: "removal"
    }
  }
  if (difference === undefined) return undefined
  const extra = firstExtra(desired, observed, [])
  return extra === undefined
    ? { ...difference, change: "digest" }
    : { path: renderPath(extra.path), desired: undefined, observed: extra.value, change: "digest" }
}

/** The first field `observed` has below a body field and `desired` lacks, for explanations only (server defaults count too). */
const firstExtra = (
  desired: unknown,
  observed: unknown,
  path: Array<string | number>
): { readonly path: ReadonlyArray<string | number>; readonly value: unknown } | undefined => {
  if (Array.isArray(observed) && Array.isArray(desired)) {
    for (let i = 0; i < observed.length; i++) {
      if (i >= desired.length) return { path: [...path, i], value: observed[i] }
      const found = firstExtra(desired[i], observed[i], [...path, i])
      if (found !== undefined) return found
    }
    return undefined
  }
  if (!Predicate.isObject(observed) || !Predicate.isObject(desired) || Array.isArray(observed))
    return undefined
  for (const key in observed) {
    if (path.length === 0 && notBody(key)) continue
    if (!(key in desired)) return { path: [...path, key], value: observed[key] }
    const found = firstExtra(desired[key], observed[key], [...path, key])
    if (found !== undefined) return found
  }
  return undefined
}

/** Whether `manager` must apply `desired` (as built) over `observed` (the fast form of `changeOf`). */
export const needsApply = (desired: KubeObject, observed: KubeObject, manager: string): boolean =>
  changeOf(desired, observed, manager, true) !== undefined

/**
 * Whether `observed` carries every field of `desired` (the same subset rule, without quantity
 * knowledge), for values that are not whole objects, e.g. a status fragment.
 */
export const contains = (desired: unknown, observed: unknown): boolean =>
  matches(desired, observed, undefined, undefined, undefined)

/**
 * Whether `after` differs from `before` in nothing but its `status` (and the `resourceVersion`
 * every write moves): a controller reporting on the object, not anyone changing it.
 */
export const onlyStatusChanged = (before: KubeObject, after: KubeObject): boolean =>
  equalApartFrom(before, after, (key) => key === "status" || key === "metadata") &&
  equalApartFrom(before.metadata, after.metadata, (key) => key === "resourceVersion")

/** Whether two JSON maps are equal apart from the fields `ignored` names. */
const equalApartFrom = (a: object, b: object, ignored: (key: string) => boolean): boolean => {
  const x = a as Readonly<Record<string, unknown>>
  const y = b as Readonly<Record<string, unknown>>
  for (const key in x) if (!ignored(key) && !jsonEqual(x[key], y[key])) return false
  for (const key in y) if (!ignored(key) && !(key in x) && y[key] !== undefined) return false
  return true
}

/**
 * Exact JSON equality: same scalars, same list lengths and elements, same map keys; a key whose
 * value is `undefined` counts as absent (it does not survive JSON). Used for status, which the
 * controller owns whole.
 */
export const jsonEqual = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false
    return true
  }
  if (Predicate.isObject(a)) {
    if (!Predicate.isObject(b) || Array.isArray(b)) return false
    let present = 0
    for (const key in a) {
      const value = a[key]
      if (value === undefined) continue
      present++
      if (!jsonEqual(value, b[key])) return false
    }
    let other = 0
    for (const key in b) if (b[key] !== undefined) other++
    return present === other
  }
  return false
}
