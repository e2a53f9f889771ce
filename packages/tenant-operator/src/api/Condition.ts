/**
 * `metav1.Condition` as a schema, with the same bounds the Kubernetes API gives it, and the list
 * of conditions as a map keyed by `type` (one condition per type).
 */
import { Schema } from "effect"

export const Condition = Schema.Struct({
  type: Schema.String.check(
    Schema.isMaxLength(316),
    Schema.isPattern(
      /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/u
    )
  ),
  status: Schema.Literals(["True", "False", "Unknown"]),
  observedGeneration: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  lastTransitionTime: Schema.String.annotate({ format: "date-time" }),
  reason: Schema.String.check(
    Schema.isMinLength(1),
    Schema.isMaxLength(1024),
    Schema.isPattern(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/u)
  ),
  message: Schema.String.check(Schema.isMaxLength(32768))
})

export const Conditions = Schema.Array(Condition).annotate({
  "x-kubernetes-list-type": "map",
  "x-kubernetes-list-map-keys": ["type"]
})
