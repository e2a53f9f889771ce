/**
 * `resource.Quantity` as a schema: a non-negative quantity written as a string (`500m`, `2Gi`,
 * `"1"`) or a plain integer (`20`), decoded to its string form. The CRD renders it the way
 * Kubernetes' own types do: `x-kubernetes-int-or-string` with the quantity pattern. The decoder
 * goes further than the pattern and runs core's `Quantity.parse` (apimachinery's parser), so a
 * value the API server would refuse in a ResourceQuota never reaches one.
 * Canonicalisation (`1000m` → `1`) is core's job, not this module's.
 */
import { Quantity as CoreQuantity } from "@kleff/core"
import { Result, Schema, SchemaTransformation } from "effect"

/**
 * apimachinery's quantity grammar without a leading `-` (quotas and limits are never negative)
 * and with an integer exponent (the parser refuses `1e1.5`, which the published pattern admits):
 * a decimal number, then a binary suffix (`Ki`…`Ei`), a decimal suffix (`n u m k M G T P E`) or
 * an exponent.
 */
export const quantityPattern =
  /^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?[0-9]+))?$/u

const expected = "a non-negative quantity such as 500m, 2Gi or 1"

/** The parser's verdict; the CRD cannot say it, so it exports nothing (the pattern stands in). */
const isParsedQuantity = Schema.makeFilter<string>(
  (value) => {
    const parsed = CoreQuantity.parse(value)
    if (Result.isFailure(parsed)) return parsed.failure.message
    return CoreQuantity.sign(parsed.success) >= 0 || "a quantity must not be negative"
  },
  { expected, toJsonSchema: () => [{}, true] }
)

/** A quantity in its string form. */
export const QuantityString = Schema.String.check(
  Schema.isMaxLength(64),
  Schema.isPattern(quantityPattern, { expected }),
  isParsedQuantity
)

/** A quantity as users write it (a string or a non-negative integer), decoded to a string. */
export const Quantity = Schema.Union([QuantityString, Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))])
  .annotate({ "x-kubernetes-int-or-string": true })
  .pipe(
    Schema.decodeTo(
      QuantityString,
      SchemaTransformation.transform<string, string | number>({
        decode: (value) => String(value),
        encode: (value) => value
      })
    )
  )
