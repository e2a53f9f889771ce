/**
 * Effect Schema → a Kubernetes *structural* OpenAPI v3 schema (`JSONSchemaProps` of
 * apiextensions.k8s.io/v1). Effect's own JSON Schema generator does the walking; this module turns
 * its draft-2020-12 output into what the API server accepts: references inlined, `allOf`
 * fragments folded into their node, every node typed, int-or-string in the one shape Kubernetes
 * allows, `x-kubernetes-*` annotations carried through. Anything it cannot translate faithfully is
 * an error naming the path, never a silent approximation — except one, stated here: a record's
 * key schema (`propertyNames`) is enforced by the operator's decoder, not by the CRD (a CEL rule
 * over unbounded map keys exceeds the API server's cost budget, and OpenAPI v3 has no
 * `propertyNames`).
 */
import { Predicate, Schema } from "effect"
import type * as JsonSchema from "effect/JsonSchema"

/** One node of an `openAPIV3Schema`. */
export type JsonSchemaProps = { readonly [keyword: string]: unknown }

type MutableProps = { [keyword: string]: unknown }

export class StructuralSchemaError extends Error {
  readonly path: string
  constructor(path: string, message: string) {
    super(`${path === "" ? "<root>" : path}: ${message}`)
    this.name = "StructuralSchemaError"
    this.path = path
  }
}

/** Value validations copied as they are. */
const valueKeywords = new Set([
  "format",
  "pattern",
  "enum",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "multipleOf",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties"
])
const lowerBounds = new Set(["minLength", "minimum", "minItems", "minProperties"])
const upperBounds = new Set(["maxLength", "maximum", "maxItems", "maxProperties"])
/** Documentation keywords that carry no meaning for the API server. */
const droppedKeywords = new Set(["title", "examples", "$comment"])

/** The order keywords are written in, so the generated YAML reads like a hand-written CRD. */
const keywordOrder = [
  "description",
  "type",
  "format",
  "enum",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "multipleOf",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "anyOf",
  "allOf",
  "x-kubernetes-int-or-string",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-validations"
]

const isRecord: (value: unknown) => value is JsonSchema.JsonSchema = Predicate.isObject

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

const join = (path: string, segment: string): string => (path === "" ? segment : `${path}.${segment}`)

const ordered = (props: MutableProps): JsonSchemaProps => {
  const out: MutableProps = {}
  for (const key of keywordOrder) if (key in props) out[key] = props[key]
  for (const key of Object.keys(props).sort()) if (!(key in out)) out[key] = props[key]
  return out
}

interface Context {
  readonly definitions: JsonSchema.Definitions
  /** Definitions being expanded on the current path: a repeat is a recursive schema, which CRDs cannot express. */
  readonly expanding: ReadonlySet<string>
}

const definitionName = (ref: string, path: string): string => {
  const match = /^#\/\$defs\/(.+)$/.exec(ref)
  if (match?.[1] === undefined) throw new StructuralSchemaError(path, `unsupported reference ${ref}`)
  return decodeURIComponent(match[1]).replaceAll("~1", "/").replaceAll("~0", "~")
}

/** Folds an `allOf` fragment (already translated) into its node. */
const foldFragment = (out: MutableProps, fragment: JsonSchemaProps, path: string): void => {
  for (const [key, value] of Object.entries(fragment)) {
    const current = out[key]
    if (current === undefined || sameJson(current, value)) {
      out[key] = value
    } else if (key === "description") {
      out[key] = value
    } else if (key === "x-kubernetes-validations" && Array.isArray(current) && Array.isArray(value)) {
      out[key] = [...current, ...value]
    } else if (lowerBounds.has(key) && typeof current === "number" && typeof value === "number") {
      out[key] = Math.max(current, value)
    } else if (upperBounds.has(key) && typeof current === "number" && typeof value === "number") {
      out[key] = Math.min(current, value)
    } else if (valueKeywords.has(key)) {
      // Two different patterns (say): both must hold, which a structural schema says with allOf.
      const residual = Array.isArray(out.allOf) ? out.allOf : []
      out.allOf = [...residual, { [key]: value }]
    } else {
      throw new StructuralSchemaError(path, `conflicting values for "${key}" in allOf`)
    }
  }
}

/** `x-kubernetes-int-or-string`: Kubernetes accepts exactly `anyOf: [{type: integer}, {type: string}]`, no `type`. */
const intOrString = (out: MutableProps, members: ReadonlyArray<JsonSchemaProps>, path: string): void => {
  const types = members.map((member) => member.type).sort()
  if (!sameJson(types, ["integer", "string"])) {
    throw new StructuralSchemaError(path, `x-kubernetes-int-or-string needs an integer and a string member`)
  }
  for (const member of members) {
    for (const [key, value] of Object.entries(member)) {
      if (key === "type" || key === "format") continue
      if (!valueKeywords.has(key)) {
        throw new StructuralSchemaError(
          path,
          `int-or-string member keyword "${key}" is not a value validation`
        )
      }
      // Value validations apply only to values of their own type, so they can sit on the node itself.
      if (out[key] !== undefined && !sameJson(out[key], value)) {
        throw new StructuralSchemaError(path, `int-or-string members both set "${key}"`)
      }
      out[key] = value
    }
  }
  delete out.type
  out.anyOf = [{ type: "integer" }, { type: "string" }]
}

const translate = (
  node: JsonSchema.JsonSchema,
  context: Context,
  path: string,
  fragment: boolean
): JsonSchemaProps => {
  if (typeof node.$ref === "string") {
    if (Object.keys(node).length !== 1) throw new StructuralSchemaError(path, "$ref with sibling keywords")
    const name = definitionName(node.$ref, path)
    const target = context.definitions[name]
    if (target === undefined) throw new StructuralSchemaError(path, `unknown definition ${name}`)
    if (context.expanding.has(name)) {
      throw new StructuralSchemaError(path, `recursive schema ${name} cannot be a structural schema`)
    }
    return translate(target, { ...context, expanding: new Set([...context.expanding, name]) }, path, fragment)
  }

  const out: MutableProps = {}
  let allOf: ReadonlyArray<unknown> = []
  let anyOf: ReadonlyArray<unknown> | undefined
  for (const [key, value] of Object.entries(node)) {
    if (droppedKeywords.has(key)) continue
    if (key.startsWith("x-kubernetes-")) {
      out[key] = value
      continue
    }
    switch (key) {
      case "type":
        if (typeof value !== "string" || value === "null") {
          throw new StructuralSchemaError(path, `type ${JSON.stringify(value)} has no structural form`)
        }
        out.type = value
        break
      case "description":
        out.description = value
        break
      case "const":
        out.enum = [value]
        break
      case "exclusiveMinimum":
        out.minimum = value
        out.exclusiveMinimum = true
        break
      case "exclusiveMaximum":
        out.maximum = value
        out.exclusiveMaximum = true
        break
      case "required":
        out.required = value
        break
      case "properties":
        if (!isRecord(value)) throw new StructuralSchemaError(path, "properties is not an object")
        out.properties = Object.fromEntries(
          Object.entries(value).map(([name, schema]) => {
            if (!isRecord(schema)) throw new StructuralSchemaError(join(path, name), "not a schema")
            return [name, translate(schema, context, join(path, name), false)]
          })
        )
        break
      case "additionalProperties":
        if (isRecord(value)) out.additionalProperties = translate(value, context, join(path, "*"), false)
        else if (value === false)
          throw new StructuralSchemaError(path, "additionalProperties: false is not allowed")
        // `true` is the structural default (unknown fields are pruned); it is dropped.
        break
      case "propertyNames":
        // Documented above: key names are the decoder's to check.
        break
      case "items":
        if (!isRecord(value)) throw new StructuralSchemaError(path, "items must be a single schema")
        out.items = translate(value, context, join(path, "[]"), false)
        break
      case "allOf":
        if (!Array.isArray(value)) throw new StructuralSchemaError(path, "allOf is not a list")
        allOf = value
        break
      case "anyOf":
        if (!Array.isArray(value)) throw new StructuralSchemaError(path, "anyOf is not a list")
        anyOf = value
        break
      default:
        if (!valueKeywords.has(key)) throw new StructuralSchemaError(path, `unsupported keyword "${key}"`)
        out[key] = value
    }
  }

  if (out.type === "integer") {
    if (out.minimum === -Number.MAX_SAFE_INTEGER) delete out.minimum
    if (out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum
    out.format ??= "int64"
  }

  for (const [index, member] of allOf.entries()) {
    if (!isRecord(member)) throw new StructuralSchemaError(path, "allOf member is not a schema")
    foldFragment(out, translate(member, context, `${path}[allOf ${index}]`, true), path)
  }

  if (anyOf !== undefined) {
    if (out["x-kubernetes-int-or-string"] !== true) {
      throw new StructuralSchemaError(
        path,
        "a union has no structural form (only x-kubernetes-int-or-string)"
      )
    }
    const members = anyOf.map((member, index) => {
      if (!isRecord(member)) throw new StructuralSchemaError(path, "anyOf member is not a schema")
      return translate(member, context, `${path}[anyOf ${index}]`, false)
    })
    intOrString(out, members, path)
  }

  const untyped =
    out.type === undefined &&
    out["x-kubernetes-int-or-string"] !== true &&
    out["x-kubernetes-preserve-unknown-fields"] !== true
  if (!fragment && untyped)
    throw new StructuralSchemaError(path, "every node of a structural schema needs a type")
  if (fragment && out.type !== undefined) {
    throw new StructuralSchemaError(path, "an allOf fragment may not set a type")
  }
  return ordered(out)
}

/** The structural OpenAPI v3 schema of `schema`'s encoded (wire) form. */
export const structuralSchema = (schema: Schema.Top): JsonSchemaProps => {
  const document = Schema.toJsonSchemaDocument(schema, {
    includeAnnotationKey: (key) => key.startsWith("x-kubernetes-")
  })
  return translate(document.schema, { definitions: document.definitions, expanding: new Set() }, "", false)
}

/** Every problem that would make the API server reject `props` as a structural schema (empty when none). */
export const structuralProblems = (props: JsonSchemaProps, path = ""): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const intOrStr = props["x-kubernetes-int-or-string"] === true
  if (props.type === undefined && !intOrStr && props["x-kubernetes-preserve-unknown-fields"] !== true) {
    problems.push(`${path || "<root>"}: no type`)
  }
  if ("$ref" in props) problems.push(`${path || "<root>"}: $ref`)
  if (props.properties !== undefined && props.additionalProperties !== undefined) {
    problems.push(`${path || "<root>"}: both properties and additionalProperties`)
  }
  if (props.anyOf !== undefined && !(intOrStr && props.type === undefined)) {
    problems.push(`${path || "<root>"}: anyOf outside int-or-string`)
  }
  if (isRecord(props.properties)) {
    for (const [name, child] of Object.entries(props.properties)) {
      if (isRecord(child)) problems.push(...structuralProblems(child, join(path, name)))
    }
  }
  if (isRecord(props.items)) problems.push(...structuralProblems(props.items, join(path, "[]")))
  if (isRecord(props.additionalProperties)) {
    problems.push(...structuralProblems(props.additionalProperties, join(path, "*")))
  }
  for (const fragment of Array.isArray(props.allOf) ? props.allOf : []) {
    if (isRecord(fragment) && (fragment.type !== undefined || fragment.description !== undefined)) {
      problems.push(`${path || "<root>"}: allOf fragment with type or description`)
    }
  }
  return problems
}
