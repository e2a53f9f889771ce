/**
 * Bad Tenants and Plans, generated with Effect's Arbitrary: what an older CRD without a schema
 * lets through — wrong types, missing fields, huge strings, invalid quantities and resource
 * names, unknown fields (`__proto__` among them), odd object names. Every generated Tenant
 * carries the reason its `TenantReady` must give (`InvalidSpec`, `InvalidNamespaceName`,
 * `PlanNotFound`, `InvalidPlan`), known from how it was made, not from the operator's schemas:
 * no generated Tenant can be provisioned. A `Batch` holds parameters only; `materialize` makes the
 * objects, with names unique to a run. Pure.
 */
import type { KubeObject } from "@kleff/core"
import { Arbitrary, Schema } from "effect"
import { TenantSpec } from "../../src/api/Tenant.ts"
import { readRepoYaml } from "./harness.ts"

export const apiVersion = "kleff.kleff.io/v1"
/** Every object of one fuzz run carries this label, its value the run's id. */
export const fuzzRunLabel = "e2e.kleff.io/fuzz"
/** And the batch it was written in. */
export const fuzzBatchLabel = "e2e.kleff.io/fuzz-batch"

export type ExpectedReason = "InvalidSpec" | "InvalidNamespaceName" | "PlanNotFound" | "InvalidPlan"

type Json = Schema.Json

/** One thing wrong with a body, named for failure messages. `apply` may return a non-object (or undefined: absent). */
export interface Defect {
  readonly what: string
  readonly apply: (body: unknown) => unknown
}

/** Extra fields a schema does not know: the API server keeps them under a CRD without a schema. */
export type UnknownFields = ReadonlyArray<readonly [string, Json]>

export type NameShape =
  | { readonly _tag: "Plain" }
  /** A DNS-1123 label of 57–63 characters: `tenant-<name>` is too long for a namespace. */
  | { readonly _tag: "LongLabel"; readonly length: number; readonly filler: string }
  /** A DNS subdomain the API server takes for a custom resource, but not a label. */
  | { readonly _tag: "Dotted"; readonly suffix: string }
  | { readonly _tag: "LongSubdomain"; readonly length: number }

export interface PlanCase {
  readonly defects: ReadonlyArray<Defect>
  readonly unknownSpec: UnknownFields
  readonly unknownRoot: UnknownFields
}

export interface TenantCase {
  readonly expected: ExpectedReason
  readonly name: NameShape
  /** A well-formed spec (from the API's own schema), before the plan reference and the defects. */
  readonly spec: TenantSpec
  readonly defects: ReadonlyArray<Defect>
  readonly unknownSpec: UnknownFields
  readonly unknownRoot: UnknownFields
  /** The control tenant's Plan (valid), one that does not exist, or a bad one of its own. */
  readonly plan:
    | { readonly _tag: "Control" }
    | { readonly _tag: "Missing" }
    | ({ readonly _tag: "Bad" } & PlanCase)
}

/** What one batch writes at once: a few bad Tenants, and the bad Plans some of them name. */
export interface Batch {
  readonly tenants: ReadonlyArray<TenantCase>
}

// ---------------------------------------------------------------------------------------------
// building blocks

const oneOf = <A>(...choices: ReadonlyArray<Arbitrary.Arbitrary<A>>): Arbitrary.Arbitrary<A> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: choices.length - 1 }))).pipe(
    // biome-ignore lint/style/noNonNullAssertion: the index is within the choices.
    Arbitrary.flatMap((index) => choices[index]!)
  )

const pick = <const A extends ReadonlyArray<string | number | boolean>>(
  values: A
): Arbitrary.Arbitrary<A[number]> => Arbitrary.schema(Schema.Literals(values))

const intBetween = (minimum: number, maximum: number): Arbitrary.Arbitrary<number> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum, maximum })))

const json: Arbitrary.Arbitrary<Json> = Arbitrary.schema(Schema.Json)
const anyString: Arbitrary.Arbitrary<string> = Arbitrary.schema(Schema.String)

const kindOf = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "array" : typeof value

/** Any JSON value but one of `kind`. */
const notA = (kind: "string" | "object" | "boolean" | "array"): Arbitrary.Arbitrary<Json> =>
  json.pipe(Arbitrary.filter((value: Json) => kindOf(value) !== kind))

const preview = (value: unknown): string => {
  const text =
    typeof value === "string" && value.length > 40
      ? `"${value.slice(0, 12)}…" (${value.length} characters)`
      : JSON.stringify(value)
  return text === undefined ? "undefined" : text.length > 60 ? `${text.slice(0, 60)}…` : text
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** `body` with `key` set, even when the key is `__proto__` (an own property, as JSON.parse makes it). */
const withKey = (body: unknown, key: string, value: unknown): unknown => {
  if (!isRecord(body)) return body
  const copy: Record<string, unknown> = { ...body }
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true })
  return copy
}

const withoutKey = (body: unknown, key: string): unknown => {
  if (!isRecord(body)) return body
  const { [key]: _removed, ...rest } = body
  return rest
}

const setField = (field: string, value: unknown, what: string): Defect => ({
  what,
  apply: (body) => withKey(body, field, value)
})

// Kubernetes' own rules, written out here so that the generators do not lean on the operator's.
const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const qualifiedResourceName =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const quantityGrammar = /^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?[0-9]+))?$/

/** Lengths past a bound: just past it, and far past it (100 KB; the API server takes up to 3 MiB a request). */
const hugeLength = (bound: number) =>
  pick([1, 1_000, 10_000, 100_000]).pipe(Arbitrary.map((extra) => bound + extra))

// ---------------------------------------------------------------------------------------------
// unknown fields

const deeplyNested = intBetween(10, 200).pipe(
  Arbitrary.map((depth): Json => {
    let value: Json = "bottom"
    for (let level = 0; level < depth; level++) value = level % 2 === 0 ? [value] : { deeper: value }
    return value
  })
)

/** Mostly any JSON; sometimes deeply nested, or a huge string. */
const unknownValue: Arbitrary.Arbitrary<Json> = oneOf<Json>(
  json,
  json,
  json,
  deeplyNested,
  hugeLength(0).pipe(Arbitrary.map((length) => "u".repeat(length)))
)

const unknownKeys = (known: ReadonlyArray<string>) =>
  oneOf(
    pick([
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      "valueOf",
      "$ref",
      "😀",
      "a.b",
      "a/b",
      "0",
      ""
    ]),
    anyString
  ).pipe(Arbitrary.filter((key: string) => !known.includes(key)))

const unknownFields = (known: ReadonlyArray<string>): Arbitrary.Arbitrary<UnknownFields> =>
  Arbitrary.array(
    Arbitrary.all([unknownKeys(known), unknownValue]).pipe(
      Arbitrary.map(([key, value]): readonly [string, Json] => [key, value])
    ),
    { maxLength: 3 }
  )

const rootFields = ["apiVersion", "kind", "metadata", "spec", "status"]

// ---------------------------------------------------------------------------------------------
// Tenants

const tenantStringFields = ["plan", "userId", "username", "displayName"] as const
const requiredTenantFields = ["plan", "userId", "username"] as const
/** The longest value each field takes. */
const tenantFieldBounds = { plan: 63, userId: 255, username: 63, displayName: 256 } as const

const badUsernames = pick([
  "",
  "Bad_Name",
  "UPPER",
  "-lead",
  "trail-",
  "dot.ted",
  "ünï",
  "with space",
  "a\nb"
])
const badPlanNames = pick(["", "UPPER", "a..b", ".lead", "trail.", "-x", "x-", "a_b", "ü", "a b"])

/** A change the Tenant's schema refuses. */
const tenantSpecDefect: Arbitrary.Arbitrary<Defect> = oneOf(
  Arbitrary.all([pick(tenantStringFields), notA("string")]).pipe(
    Arbitrary.map(([field, value]) => setField(field, value, `spec.${field} is ${preview(value)}`))
  ),
  pick(requiredTenantFields).pipe(
    Arbitrary.map(
      (field): Defect => ({ what: `spec.${field} is missing`, apply: (body) => withoutKey(body, field) })
    )
  ),
  pick(tenantStringFields).pipe(
    Arbitrary.flatMap((field) =>
      Arbitrary.all([hugeLength(tenantFieldBounds[field]), pick(["a", "é", "0"])]).pipe(
        Arbitrary.map(([length, unit]) =>
          setField(field, unit.repeat(length), `spec.${field} is ${length} characters long`)
        )
      )
    )
  ),
  oneOf(badUsernames, anyString.pipe(Arbitrary.filter((value: string) => !dns1123Label.test(value)))).pipe(
    Arbitrary.map((value) => setField("username", value, `spec.username is ${preview(value)}`))
  ),
  oneOf(
    badPlanNames,
    anyString.pipe(Arbitrary.filter((value: string) => !dns1123Subdomain.test(value)))
  ).pipe(Arbitrary.map((value) => setField("plan", value, `spec.plan is ${preview(value)}`))),
  Arbitrary.Constant(setField("userId", "", "spec.userId is empty")),
  oneOf<Json | undefined>(notA("object"), Arbitrary.Constant(undefined)).pipe(
    Arbitrary.map((value): Defect => ({ what: `spec is ${preview(value)}`, apply: () => value }))
  )
)

const labelCharacters = [..."abcdefghijklmnopqrstuvwxyz0123456789-"] as const

const longLabel: Arbitrary.Arbitrary<NameShape> = Arbitrary.all([
  intBetween(57, 63),
  Arbitrary.array(pick(labelCharacters), { minLength: 4, maxLength: 12 })
]).pipe(
  Arbitrary.map(([length, filler]): NameShape => ({ _tag: "LongLabel", length, filler: filler.join("") }))
)

const oddName: Arbitrary.Arbitrary<NameShape> = oneOf<NameShape>(
  pick(["a", "b0", "x-y", "example", "0"]).pipe(
    Arbitrary.map((suffix): NameShape => ({ _tag: "Dotted", suffix }))
  ),
  intBetween(64, 253).pipe(Arbitrary.map((length): NameShape => ({ _tag: "LongSubdomain", length })))
)

const plain: Arbitrary.Arbitrary<NameShape> = Arbitrary.Constant({ _tag: "Plain" })

// ---------------------------------------------------------------------------------------------
// Plans

const sampleSpec = (readRepoYaml<KubeObject>("deploy/samples/plan-basic.yaml").spec ?? {}) as Readonly<
  Record<string, unknown>
>

const badQuantity: Arbitrary.Arbitrary<Json> = oneOf<Json>(
  pick([
    "",
    "abc",
    "1.5.5",
    "-1",
    "1Zi",
    "1e99999999999",
    " 1",
    "1 ",
    "0x10",
    "1k1",
    "１",
    "+-1",
    ".",
    "1e",
    "NaN",
    "1,5"
  ]),
  anyString.pipe(Arbitrary.filter((value: string) => !quantityGrammar.test(value))),
  // A number is a quantity when it is a non-negative integer.
  json.pipe(
    Arbitrary.filter(
      (value: Json) =>
        typeof value !== "string" && !(typeof value === "number" && Number.isInteger(value) && value >= 0)
    )
  ),
  pick([65, 1_000]).pipe(Arbitrary.map((length): Json => "9".repeat(length)))
)

const quotaResources = pick([
  "requests.cpu",
  "pods",
  "limits.memory",
  "count/jobs.batch",
  "requests.nvidia.com/gpu"
])

const badResourceName: Arbitrary.Arbitrary<string> = oneOf(
  pick(["", "Bad Key", "requests.cpu!", "a/b/c", "-pods", "pods-", "é", "a//b", "/pods", "UP.per/pods"]),
  anyString.pipe(Arbitrary.filter((value: string) => !qualifiedResourceName.test(value)))
)

const quotaOf = (body: unknown): unknown => (isRecord(body) ? body.quota : undefined)

const withQuotaEntries = (entries: ReadonlyArray<readonly [string, unknown]>, what: string): Defect => ({
  what,
  apply: (body) => {
    let quota = quotaOf(body)
    for (const [key, value] of entries) quota = withKey(quota, key, value)
    return withKey(body, "quota", quota)
  }
})

const containerResources = ["cpu", "memory"] as const
const limitRangeParts = ["default", "defaultRequest", "max"] as const

/** A change the Plan's schema refuses. */
const planSpecDefect: Arbitrary.Arbitrary<Defect> = oneOf(
  oneOf<Json | undefined>(notA("object"), Arbitrary.Constant(undefined)).pipe(
    Arbitrary.map((value): Defect => ({ what: `spec is ${preview(value)}`, apply: () => value }))
  ),
  pick(["quota", "podSecurity", "istioInjection", "allowedRegistries"]).pipe(
    Arbitrary.map(
      (field): Defect => ({ what: `spec.${field} is missing`, apply: (body) => withoutKey(body, field) })
    )
  ),
  notA("object").pipe(Arbitrary.map((value) => setField("quota", value, `spec.quota is ${preview(value)}`))),
  Arbitrary.all([quotaResources, badQuantity]).pipe(
    Arbitrary.map(([key, value]) =>
      withQuotaEntries([[key, value]], `spec.quota.${key} is ${preview(value)}`)
    )
  ),
  badResourceName.pipe(
    Arbitrary.map((key) => withQuotaEntries([[key, "1"]], `spec.quota has the key ${preview(key)}`))
  ),
  intBetween(65, 120).pipe(
    Arbitrary.map((count) =>
      withQuotaEntries(
        Array.from({ length: count }, (_, index) => [`count/r${index}.example.com`, "1"] as const),
        `spec.quota has ${count} entries`
      )
    )
  ),
  // Many issues, each with a long path: the message that lists them is longer than a condition holds.
  Arbitrary.all([intBetween(24, 64), intBetween(1_000, 4_000), pick(["1e99999999999", "1Zi", "-1"])]).pipe(
    Arbitrary.map(([count, length, value]) =>
      withQuotaEntries(
        Array.from(
          { length: count },
          (_, index) => [`example.com/${"r".repeat(length)}${index}`, value] as const
        ),
        `spec.quota has ${count} keys of ${length} characters, each set to ${value}`
      )
    )
  ),
  notA("object").pipe(
    Arbitrary.map((value) => setField("limitRange", value, `spec.limitRange is ${preview(value)}`))
  ),
  Arbitrary.all([pick(limitRangeParts), pick(containerResources), badQuantity]).pipe(
    Arbitrary.map(
      ([part, resource, value]): Defect => ({
        what: `spec.limitRange.${part}.${resource} is ${preview(value)}`,
        apply: (body) => {
          const limitRange = isRecord(body) && isRecord(body.limitRange) ? body.limitRange : {}
          const entry = isRecord(limitRange[part]) ? limitRange[part] : {}
          return withKey(body, "limitRange", withKey(limitRange, part, withKey(entry, resource, value)))
        }
      })
    )
  ),
  oneOf<Json>(
    pick(["privileged", "", "Restricted", "baseline ", " restricted", "restricted\n"]),
    notA("string"),
    hugeLength(0).pipe(Arbitrary.map((length): Json => "restricted".repeat(Math.floor(length / 10) + 2)))
  ).pipe(Arbitrary.map((value) => setField("podSecurity", value, `spec.podSecurity is ${preview(value)}`))),
  notA("boolean").pipe(
    Arbitrary.map((value) => setField("istioInjection", value, `spec.istioInjection is ${preview(value)}`))
  ),
  oneOf<Json>(
    notA("array"),
    oneOf<Json>(
      notA("string"),
      Arbitrary.Constant(""),
      hugeLength(253).pipe(Arbitrary.map((n): Json => "r".repeat(n)))
    ).pipe(Arbitrary.map((item): Json => ["registry.kleff.io/", item])),
    intBetween(65, 100).pipe(
      Arbitrary.map((count): Json => Array.from({ length: count }, (_, index) => `r${index}.io/`))
    )
  ).pipe(
    Arbitrary.map((value) =>
      setField("allowedRegistries", value, `spec.allowedRegistries is ${preview(value)}`)
    )
  )
)

const planSpecFields = ["quota", "limitRange", "podSecurity", "istioInjection", "allowedRegistries"]

const badPlan: Arbitrary.Arbitrary<PlanCase> = Arbitrary.all({
  defects: Arbitrary.array(planSpecDefect, { minLength: 1, maxLength: 3 }),
  unknownSpec: unknownFields(planSpecFields),
  unknownRoot: unknownFields(rootFields)
})

// ---------------------------------------------------------------------------------------------
// cases

/** A well-formed spec, never protected from deletion: the run must be able to delete what it wrote. */
const unprotected = ({ deletionProtection: _protected, ...spec }: TenantSpec): TenantSpec => spec

const wellFormed = Arbitrary.all({
  spec: Arbitrary.schema(TenantSpec).pipe(Arbitrary.map(unprotected)),
  unknownSpec: unknownFields([...tenantStringFields]),
  unknownRoot: unknownFields(rootFields)
})

const controlOrMissing = oneOf<TenantCase["plan"]>(
  Arbitrary.Constant({ _tag: "Control" }),
  Arbitrary.Constant({ _tag: "Missing" })
)

/** A bad Tenant of each kind, by the reason it must be given. */
const tenantCases: { readonly [Reason in ExpectedReason]: Arbitrary.Arbitrary<TenantCase> } = {
  // An odd name alone makes the Tenant invalid; otherwise at least one defect does.
  InvalidSpec: Arbitrary.schema(Schema.Boolean).pipe(
    Arbitrary.flatMap((odd) =>
      Arbitrary.all({
        base: wellFormed,
        name: odd ? oddName : oneOf(plain, longLabel),
        defects: Arbitrary.array(tenantSpecDefect, { minLength: odd ? 0 : 1, maxLength: 3 }),
        plan: controlOrMissing
      })
    ),
    Arbitrary.map(({ base, name, defects, plan }) => ({
      expected: "InvalidSpec",
      ...base,
      name,
      defects,
      plan
    }))
  ),
  InvalidNamespaceName: Arbitrary.all({ base: wellFormed, name: longLabel, plan: controlOrMissing }).pipe(
    Arbitrary.map(({ base, name, plan }) => ({
      expected: "InvalidNamespaceName",
      ...base,
      name,
      defects: [],
      plan
    }))
  ),
  PlanNotFound: wellFormed.pipe(
    Arbitrary.map((base) => ({
      expected: "PlanNotFound",
      ...base,
      name: { _tag: "Plain" },
      defects: [],
      plan: { _tag: "Missing" }
    }))
  ),
  InvalidPlan: Arbitrary.all({ base: wellFormed, plan: badPlan }).pipe(
    Arbitrary.map(({ base, plan }) => ({
      expected: "InvalidPlan",
      ...base,
      name: { _tag: "Plain" },
      defects: [],
      plan: { _tag: "Bad", ...plan }
    }))
  )
}

const tenantCase: Arbitrary.Arbitrary<TenantCase> = pick([
  "InvalidSpec",
  "InvalidNamespaceName",
  "PlanNotFound",
  "InvalidPlan"
]).pipe(Arbitrary.flatMap((expected) => tenantCases[expected]))

/** One to three bad Tenants, written together with the bad Plans they name. */
export const batch: Arbitrary.Arbitrary<Batch> = Arbitrary.all({
  tenants: Arbitrary.array(tenantCase, { minLength: 1, maxLength: 3 })
})

// ---------------------------------------------------------------------------------------------
// objects

export interface Materialized {
  readonly plans: ReadonlyArray<KubeObject>
  readonly tenants: ReadonlyArray<{
    readonly object: KubeObject
    readonly expected: ExpectedReason
    /** What is wrong with it, for a failure message. */
    readonly why: string
  }>
}

export interface Names {
  /** The run's id: the value of `fuzzRunLabel`, and part of every name. */
  readonly run: string
  /** This batch's number, unique in the run. */
  readonly batch: number
  /** The control tenant's Plan. */
  readonly controlPlan: string
}

const nameOf = (base: string, shape: NameShape): string => {
  switch (shape._tag) {
    case "Plain":
      return base
    case "LongLabel": {
      const filler = shape.filler.repeat(Math.ceil(shape.length / shape.filler.length))
      const name = `${base}-${filler}`.slice(0, shape.length - 1)
      return `${name}z`
    }
    case "Dotted":
      return `${base}.${shape.suffix}`
    case "LongSubdomain": {
      let name = base
      let remaining = shape.length - base.length
      while (remaining > 0) {
        // Pieces of "." plus 1–63 characters; never leave a lone dot for last.
        const size = remaining > 64 ? (remaining - 64 >= 2 ? 64 : 62) : remaining
        name += `.${"a".repeat(size - 1)}`
        remaining -= size
      }
      return name
    }
  }
}

const withFields = (body: unknown, fields: UnknownFields): unknown =>
  fields.reduce<unknown>((current, [key, value]) => withKey(current, key, value), body)

const objectWith = (
  kind: "Tenant" | "Plan",
  name: string,
  labels: Readonly<Record<string, string>>,
  spec: unknown,
  unknownRoot: UnknownFields
): KubeObject =>
  withFields(
    { apiVersion, kind, metadata: { name, labels }, ...(spec === undefined ? {} : { spec }) },
    unknownRoot
  ) as KubeObject

const describeCase = (item: TenantCase, name: NameShape): string => {
  const parts = item.defects.map((defect) => defect.what)
  if (name._tag === "Dotted" || name._tag === "LongSubdomain") parts.push("the name is not a DNS-1123 label")
  if (name._tag === "LongLabel") parts.push(`the name is ${name.length} characters long`)
  if (item.plan._tag === "Missing") parts.push("its Plan does not exist")
  if (item.plan._tag === "Bad")
    parts.push(`its Plan: ${item.plan.defects.map((defect) => defect.what).join("; ")}`)
  if (item.unknownSpec.length + item.unknownRoot.length > 0) {
    parts.push(
      `unknown fields ${[...item.unknownSpec, ...item.unknownRoot].map(([key]) => preview(key)).join(", ")}`
    )
  }
  return parts.join("; ")
}

/** The objects of one batch, named `fz<run>-<batch>-<index>` (plus the shape), labelled with the run and batch. */
export const materialize = (cases: Batch, names: Names): Materialized => {
  const labels = { [fuzzRunLabel]: names.run, [fuzzBatchLabel]: String(names.batch) }
  const plans: Array<KubeObject> = []
  const tenants = cases.tenants.map((item, index) => {
    const base = `fz${names.run}-${names.batch}-${index}`
    let planName: string
    switch (item.plan._tag) {
      case "Control":
        planName = names.controlPlan
        break
      case "Missing":
        planName = `${base}-gone`
        break
      case "Bad": {
        planName = `${base}-plan`
        const spec = withFields(
          item.plan.defects.reduce<unknown>((body, defect) => defect.apply(body), sampleSpec),
          item.plan.unknownSpec
        )
        plans.push(objectWith("Plan", planName, labels, spec, item.plan.unknownRoot))
      }
    }
    const spec = withFields(
      item.defects.reduce<unknown>((body, defect) => defect.apply(body), { ...item.spec, plan: planName }),
      item.unknownSpec
    )
    return {
      object: objectWith("Tenant", nameOf(base, item.name), labels, spec, item.unknownRoot),
      expected: item.expected,
      why: describeCase(item, item.name)
    }
  })
  return { plans, tenants }
}
