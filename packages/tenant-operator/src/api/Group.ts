/**
 * The `kleff.kleff.io/v1` API group the Tenant and Plan kinds live in, and the object metadata
 * both kinds decode. Constants and schemas only.
 */
import { Schema } from "effect"

export const group = "kleff.kleff.io"
export const version = "v1"
export const apiVersion = `${group}/${version}`

/** The CRD category every Kleff kind joins (`kubectl get kleff`). */
export const category = "kleff"

/**
 * The part of `metav1.ObjectMeta` the operator reads from its own kinds. Unknown metadata
 * fields (managedFields, …) are dropped when decoding; the raw object keeps them.
 */
export const objectMetaFields = {
  uid: Schema.optionalKey(Schema.String),
  resourceVersion: Schema.optionalKey(Schema.String),
  generation: Schema.optionalKey(Schema.Int),
  creationTimestamp: Schema.optionalKey(Schema.String),
  deletionTimestamp: Schema.optionalKey(Schema.String),
  labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  annotations: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  finalizers: Schema.optionalKey(Schema.Array(Schema.String))
} as const
