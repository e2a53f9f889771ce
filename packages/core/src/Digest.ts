/**
 * A digest of the lists a controller desires in one object, stamped on the object as an
 * annotation when it is applied. It closes the one gap the managed-fields record leaves: inside
 * an atomic list (a LimitRange's `limits`, a NetworkPolicy's `ingress`) the record only says the
 * controller owns the whole list, so a key dropped from an element cannot be told from a value
 * the API server defaulted there. With the digest, any change to a list the controller desires is
 * one apply, and defaults never are (they are not in the digest). Everything outside lists is
 * judged by the record itself (`ManagedFields.firstUnwanted`), so an object without lists costs
 * no serialisation at all.
 *
 * The digest is a double 32-bit FNV-1a of the lists' JSON with their paths, stable because
 * `desired()` is deterministic. Not a security measure: anyone who can edit the object can edit
 * the annotation, and that is drift the next plan repairs.
 *
 * Pure. Must not read the observed object: only what the controller sends.
 */
import type { KubeObject } from "./Object.ts"

/**
 * The annotation holding the digest of what field manager `manager` last applied: one per manager,
 * so two controllers writing one object never overwrite each other's.
 */
export const desiredDigestAnnotation = (manager: string): string => {
  const known = annotations.get(manager)
  if (known !== undefined) return known
  const annotation = `desired-digest.kleff.io/${manager}`
  annotations.set(manager, annotation)
  return annotation
}

/** The annotation of each manager, built once: it is read for every child on every resync. */
const annotations = new Map<string, string>()

/**
 * FNV-1a over a string's UTF-16 code units, twice in 32 bits (the standard offset basis, and a
 * second, different basis), as 16 hex digits: 64 bits of digest at the cost of two multiplications
 * a character, which matters on the resync path (every child, every reconcile).
 */
export const fnv1a64 = (text: string): string => {
  let a = 0x811c9dc5
  let b = 0x2f9bd0d3
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    a = Math.imul(a ^ code, 0x01000193)
    b = Math.imul(b ^ code, 0x01000193)
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0")
}

/**
 * Appends every list below `value` (whole, with its path: `path` joined by dots) to `out`; maps
 * are walked, lists not entered. A path's text is built only for a list found: most fields lead
 * to none.
 */
const collectLists = (value: object, path: Array<string>, out: Array<string>): void => {
  if (Array.isArray(value)) {
    out.push(path.join("."), JSON.stringify(value))
    return
  }
  for (const key in value) {
    const child = (value as Record<string, unknown>)[key]
    if (child === null || typeof child !== "object") continue
    path.push(key)
    collectLists(child, path, out)
    path.pop()
  }
}

/** The digest of the lists `desired` holds outside its metadata (owner references and finalizers merge by key). */
export const desiredDigest = (desired: KubeObject): string => {
  const lists: Array<string> = []
  const path: Array<string> = []
  for (const key in desired) {
    const value = desired[key]
    if (key === "metadata" || value === null || typeof value !== "object") continue
    path.push(key)
    collectLists(value, path, lists)
    path.pop()
  }
  return lists.length === 0 ? noListsDigest : fnv1a64(lists.join("\n"))
}

/** The digest of an object without lists (most children): computed once. */
const noListsDigest = fnv1a64("")

/** `desired` carrying the digest annotation of `manager`: what the planner applies and compares. */
export const withDesiredDigest = (desired: KubeObject, manager: string): KubeObject => ({
  ...desired,
  metadata: {
    ...desired.metadata,
    annotations: {
      ...desired.metadata.annotations,
      [desiredDigestAnnotation(manager)]: desiredDigest(desired)
    }
  }
})
