import { existsSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { Schema } from "effect"
import { planCrd, tenantCrd } from "../src/api/crds.ts"
import { dns1123LabelPattern, dns1123SubdomainPattern } from "../src/api/Names.ts"
import { quantityPattern } from "../src/api/Quantity.ts"
import {
  type JsonSchemaProps,
  StructuralSchemaError,
  structuralProblems,
  structuralSchema
} from "../src/api/Structural.ts"
import { crdFiles, regenerateCommand } from "../src/cli/crds.ts"
import { readRepoFile, repoPath } from "./fixtures.ts"

type Node = { readonly [key: string]: unknown }

interface CrdSpec {
  readonly scope: string
  readonly names: { readonly shortNames: ReadonlyArray<string> } & Readonly<Record<string, unknown>>
  readonly versions: ReadonlyArray<{
    readonly subresources?: unknown
    readonly additionalPrinterColumns: ReadonlyArray<{
      readonly name: string
      readonly jsonPath: string
      readonly priority?: number
    }>
    readonly schema: { readonly openAPIV3Schema: JsonSchemaProps }
  }>
}

const specOf = (crd: KubeObject): CrdSpec => crd.spec as CrdSpec

const firstVersion = (crd: KubeObject) => specOf(crd).versions[0] ?? assert.fail("no version")

const openApi = (crd: KubeObject): JsonSchemaProps => firstVersion(crd).schema.openAPIV3Schema

/** The schema node at a dotted path through `properties` (`[]` for items, `*` for map values). */
const at = (root: JsonSchemaProps, path: string): Node => {
  let node: Node = root
  for (const segment of path.split(".")) {
    const next =
      segment === "[]"
        ? node.items
        : segment === "*"
          ? node.additionalProperties
          : (node.properties as Record<string, unknown> | undefined)?.[segment]
    if (next === undefined || next === null || typeof next !== "object") assert.fail(`no schema at ${path}`)
    node = next as Node
  }
  return node
}

describe("generated CRDs", () => {
  it("match the committed deploy/crds files", () => {
    for (const file of crdFiles()) {
      const path = `deploy/crds/${file.name}`
      assert.isTrue(existsSync(repoPath(path)), `${path} is missing; run \`${regenerateCommand}\``)
      assert.isTrue(
        readRepoFile(path) === file.content,
        `${path} differs from what the schemas in src/api generate; run \`${regenerateCommand}\``
      )
    }
  })

  it("are structural: every node typed, no $ref, no unions but int-or-string", () => {
    assert.deepStrictEqual(structuralProblems(openApi(tenantCrd())), [])
    assert.deepStrictEqual(structuralProblems(openApi(planCrd())), [])
    assert.notInclude(JSON.stringify(tenantCrd()), "$ref")
    assert.notInclude(JSON.stringify(planCrd()), "$ref")
  })

  it("describe cluster-scoped kinds with short names, categories and a status subresource for Tenant", () => {
    const tenant = specOf(tenantCrd())
    assert.strictEqual(tenant.scope, "Cluster")
    assert.deepStrictEqual(tenant.names, {
      kind: "Tenant",
      listKind: "TenantList",
      plural: "tenants",
      singular: "tenant",
      shortNames: ["tn"],
      categories: ["kleff"]
    })
    assert.deepStrictEqual(firstVersion(tenantCrd()).subresources, { status: {} })
    assert.isUndefined(firstVersion(planCrd()).subresources)
    const plan = specOf(planCrd())
    assert.strictEqual(plan.scope, "Cluster")
    assert.deepStrictEqual(plan.names.shortNames, ["tplan"])
    assert.strictEqual(tenantCrd().metadata.name, "tenants.kleff.kleff.io")
    assert.strictEqual(planCrd().metadata.name, "plans.kleff.kleff.io")
  })

  it("print Plan, Namespace, Ready, Reason and Age for Tenants; Phase, User, Protected and the usage with -o wide", () => {
    const columns = firstVersion(tenantCrd()).additionalPrinterColumns
    const shown = columns.filter((column) => (column.priority ?? 0) === 0)
    assert.deepStrictEqual(
      shown.map((column) => [column.name, column.jsonPath]),
      [
        ["Plan", ".spec.plan"],
        ["Namespace", ".status.namespace"],
        ["Ready", '.status.conditions[?(@.type=="TenantReady")].status'],
        ["Reason", '.status.conditions[?(@.type=="TenantReady")].reason'],
        ["Age", ".metadata.creationTimestamp"]
      ]
    )
    assert.deepStrictEqual(
      columns.filter((column) => column.priority === 1).map((column) => [column.name, column.jsonPath]),
      [
        ["Phase", ".status.phase"],
        ["User", ".spec.username"],
        ["Protected", ".spec.deletionProtection"],
        ["CPU", ".status.usage.used.requests\\.cpu"],
        ["Memory", ".status.usage.used.requests\\.memory"],
        ["Pods", ".status.usage.used.pods"]
      ]
    )
  })

  it("state the Tenant rules: required fields, immutable userId, DNS-1123 names", () => {
    const root = openApi(tenantCrd())
    assert.deepStrictEqual(root.required, ["spec"])
    assert.deepStrictEqual(at(root, "spec").required, ["plan", "userId", "username"])
    assert.deepStrictEqual(at(root, "spec.userId")["x-kubernetes-validations"], [
      { rule: "self == oldSelf", message: "spec.userId is immutable" }
    ])
    assert.strictEqual(at(root, "spec.username").pattern, dns1123LabelPattern.source)
    assert.strictEqual(at(root, "spec.username").maxLength, 63)
    assert.strictEqual(at(root, "spec.plan").pattern, dns1123SubdomainPattern.source)
    const nameRule = (root["x-kubernetes-validations"] as ReadonlyArray<{ rule: string }>)[0]
    assert.include(nameRule?.rule, "self.metadata.name")
    assert.deepStrictEqual(at(root, "status.conditions")["x-kubernetes-list-map-keys"], ["type"])
    assert.deepStrictEqual(at(root, "status.phase").enum, ["Pending", "Active", "Terminating", "Failed"])
    assert.strictEqual(at(root, "status.observedGeneration").format, "int64")
  })

  it("validate Plan quantities as int-or-string with the quantity pattern", () => {
    const root = openApi(planCrd())
    for (const path of ["spec.quota.*", "spec.limitRange.max.cpu", "spec.limitRange.defaultRequest.memory"]) {
      const node = at(root, path)
      assert.isTrue(node["x-kubernetes-int-or-string"], path)
      assert.isUndefined(node.type, path)
      assert.deepStrictEqual(node.anyOf, [{ type: "integer" }, { type: "string" }], path)
      assert.strictEqual(node.pattern, quantityPattern.source, path)
    }
    assert.deepStrictEqual(at(root, "spec.podSecurity").enum, ["restricted", "baseline"])
    assert.deepStrictEqual(at(root, "spec").required, [
      "quota",
      "podSecurity",
      "istioInjection",
      "allowedRegistries"
    ])
  })
})

describe("structuralSchema", () => {
  it("folds checks, inlines identified definitions and types integers", () => {
    const Named = Schema.Struct({ n: Schema.Int }).annotate({ identifier: "Named" })
    assert.deepStrictEqual(structuralSchema(Schema.Struct({ a: Named, b: Schema.optionalKey(Named) })), {
      type: "object",
      properties: {
        a: { type: "object", properties: { n: { type: "integer", format: "int64" } }, required: ["n"] },
        b: { type: "object", properties: { n: { type: "integer", format: "int64" } }, required: ["n"] }
      },
      required: ["a"]
    })
  })

  it("keeps two patterns on one string as an allOf of value validations", () => {
    const s = Schema.String.check(Schema.isPattern(/^a/u), Schema.isPattern(/b$/u))
    const props = structuralSchema(s)
    assert.strictEqual(props.type, "string")
    assert.deepStrictEqual(structuralProblems(props), [])
    assert.include(JSON.stringify(props), "b$")
    assert.include(JSON.stringify(props), "^a")
  })

  it("refuses what a structural schema cannot say, naming the path", () => {
    const cases: ReadonlyArray<readonly [Schema.Top, string]> = [
      [Schema.Struct({ u: Schema.Union([Schema.String, Schema.Number]) }), "u"],
      [Schema.Struct({ o: Schema.optional(Schema.String) }), "o"],
      [Schema.Struct({ x: Schema.Unknown }), "x"]
    ]
    for (const [schema, path] of cases) {
      try {
        structuralSchema(schema)
        assert.fail(`expected ${path} to be refused`)
      } catch (error) {
        assert.instanceOf(error, StructuralSchemaError)
        assert.strictEqual((error as StructuralSchemaError).path, path)
      }
    }
  })

  it("refuses recursive schemas", () => {
    interface Tree {
      readonly children: ReadonlyArray<Tree>
    }
    const Tree: Schema.Codec<Tree> = Schema.Struct({
      children: Schema.Array(Schema.suspend((): Schema.Codec<Tree> => Tree))
    }).annotate({ identifier: "Tree" })
    assert.throws(() => structuralSchema(Tree), /recursive/)
  })
})
