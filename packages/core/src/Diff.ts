/**
 * The semantic comparison behind "does this child need a write?": desired ⊆ observed, over the
 * fields the controller manages. A field present in desired must be equal in observed (quantities
 * by value, so `1000m` equals `1`); fields only in observed (server defaults, other managers) are
 * ignored; an empty map or list in desired matches an absent one; lists compare element-wise and
 * must have equal length. Metadata compares labels, annotations and finalizers as subsets and owner
 * references by UID; `status` is never compared (apply does not write it).
 *
 * Pure and allocation-free on the matching path: this runs for every child of every primary on
 * every resync. Must not decide what to do about a difference: that is `Plan`.
 */
import { Predicate } from "effect"
import { fieldOf, type QuantityFields, quantityFieldsOf, sameQuantityValue } from "./Canonical.ts"
import { groupOf, type KubeObject, type ObjectMeta } from "./Object.ts"

/** The first place where observed does not carry what desired asks for. */
export interface Difference {
  /** Where, as a field path: `spec.hard["requests.cpu"]`, `metadata.labels.team`, `data.key`, or `(identity)`. */
  readonly path: string
  readonly desired: unknown
  readonly observed: unknown
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

const matches = (
  desired: unknown,
  observed: unknown,
  quantities: QuantityFields | undefined,
  trail: Trail | undefined
): boolean => {
  if (desired === observed || desired === undefined) return true
  if (quantities?.quantity === true) {
    return sameQuantityValue(desired, observed) || miss(trail, desired, observed)
  }
  if (observed === undefined || observed === null) {
    return matchesAbsent(desired) || miss(trail, desired, observed)
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(observed) || observed.length !== desired.length) return miss(trail, desired, observed)
    const elements = quantities?.elements
    for (let i = 0; i < desired.length; i++) {
      trail?.segments.push(i)
      const ok = matches(desired[i], observed[i], elements, trail)
      trail?.segments.pop()
      if (!ok) return false
    }
    return true
  }
  if (Predicate.isObject(desired)) {
    if (!Predicate.isObject(observed)) return miss(trail, desired, observed)
    for (const key in desired) {
      trail?.segments.push(key)
      const ok = matches(desired[key], observed[key], fieldOf(quantities, key), trail)
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
const notBody = new Set(["apiVersion", "kind", "metadata", "status"])

const objectMatches = (desired: KubeObject, observed: KubeObject, trail: Trail | undefined): boolean => {
  const d = desired.metadata
  const o = observed.metadata
  if (
    desired.kind !== observed.kind ||
    groupOf(desired.apiVersion) !== groupOf(observed.apiVersion) ||
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
    if (notBody.has(key)) continue
    trail?.segments.push(key)
    const ok = matches(desired[key], observed[key], fieldOf(quantities, key), trail)
    trail?.segments.pop()
    if (!ok) return false
  }
  return true
}

const identityOf = (object: KubeObject): string =>
  `${object.apiVersion} ${object.kind} ${object.metadata.namespace === undefined ? "" : `${object.metadata.namespace}/`}${object.metadata.name}`

/** Whether `observed` lacks something `desired` manages (so the controller must write it). */
export const differs = (desired: KubeObject, observed: KubeObject): boolean =>
  !objectMatches(desired, observed, undefined)

/** The first managed field where `observed` departs from `desired`, for dry runs and diagnostics; `undefined` when it matches. */
export const firstDifference = (desired: KubeObject, observed: KubeObject): Difference | undefined => {
  const trail: Trail = { segments: [], found: undefined }
  return objectMatches(desired, observed, trail) ? undefined : trail.found
}

/**
 * Whether `observed` carries every field of `desired` (the same subset rule, without quantity
 * knowledge), for values that are not whole objects, e.g. a status fragment.
 */
export const contains = (desired: unknown, observed: unknown): boolean =>
  matches(desired, observed, undefined, undefined)

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
