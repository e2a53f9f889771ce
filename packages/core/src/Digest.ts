/**
 * A digest of what a controller desires of one object, stamped on the object as an annotation
 * when it is applied. It closes the one gap the managed-fields record leaves: inside an atomic
 * list (a LimitRange's `limits`, a NetworkPolicy's `ingress`) the record only says the controller
 * owns the whole list, so a key dropped from an element cannot be told from a value the API
 * server defaulted there. With the digest, any change to what the controller desires is exactly
 * one apply, and defaults never are (they are not in the digest).
 *
 * The digest is FNV-1a (64-bit, as two 32-bit halves) of the desired object's JSON, which is
 * stable because `desired()` is deterministic. Not a security measure: anyone who can edit the
 * object can edit the annotation, and that is drift the next plan repairs.
 *
 * Pure. Must not read the observed object: only what the controller sends.
 */
import type { KubeObject } from "./Object.ts"

/**
 * The annotation holding the digest of what field manager `manager` last applied: one per manager,
 * so two controllers writing one object never overwrite each other's.
 */
export const desiredDigestAnnotation = (manager: string): string => `desired-digest.kleff.io/${manager}`

/** FNV-1a over a string's UTF-16 code units, 64 bits as two 32-bit halves, in hex. */
export const fnv1a64 = (text: string): string => {
  // 64-bit FNV-1a in two 32-bit halves: offset basis 0xcbf29ce484222325, prime 0x100000001b3.
  let hi = 0xcbf29ce4
  let lo = 0x84222325
  for (let i = 0; i < text.length; i++) {
    lo ^= text.charCodeAt(i)
    // (hi, lo) *= 0x100000001b3 = (hi, lo) * 0x1b3 + (lo << 40), modulo 2^64
    const loProduct = (lo >>> 0) * 0x1b3
    const carry = Math.floor(loProduct / 0x100000000)
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0
    lo = loProduct >>> 0
  }
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0")
}

/** The digest of `desired` as the controller builds it (before the digest annotation is added). */
export const desiredDigest = (desired: KubeObject): string => fnv1a64(JSON.stringify(desired))

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
