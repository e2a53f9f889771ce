/**
 * The CustomResourceDefinitions of Tenant and Plan (`apiextensions.k8s.io/v1`), generated from
 * their Effect Schemas: the schema of `spec` and `status`, the CEL rules and the required fields
 * all come from `Tenant.ts` / `Plan.ts`; this module adds only what a CRD has beyond a schema
 * (names, scope, printer columns, subresources). Pure: the YAML files are written by `cli/crds.ts`.
 */
import type { KubeObject } from "@kleff/core"
import type { Schema } from "effect"
import { category, group, version } from "./Group.ts"
import { Plan, PlanType } from "./Plan.ts"
import { type JsonSchemaProps, StructuralSchemaError, structuralSchema } from "./Structural.ts"
import { Tenant, TenantType } from "./Tenant.ts"

export interface PrinterColumn {
  readonly name: string
  readonly type: "string" | "integer" | "number" | "boolean" | "date"
  readonly jsonPath: string
  readonly description?: string
  /** 0 shows in `kubectl get`; 1 only with `-o wide`. */
  readonly priority?: number
}

/** Everything a CRD says besides the schema. */
export interface CrdDefinition {
  readonly kind: string
  readonly plural: string
  readonly singular: string
  readonly shortNames: ReadonlyArray<string>
  /** The whole object's schema: `apiVersion`, `kind`, `metadata`, `spec` and (optionally) `status`. */
  readonly schema: Schema.Top
  readonly printerColumns: ReadonlyArray<PrinterColumn>
  readonly statusSubresource: boolean
}

const typeMeta = {
  apiVersion: {
    description:
      "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
    type: "string"
  },
  kind: {
    description:
      "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    type: "string"
  },
  metadata: { type: "object" }
}

/**
 * The `openAPIV3Schema` of a kind: its schema, with `apiVersion`, `kind` and `metadata` described
 * the way every Kubernetes CRD describes them (the API server owns metadata's schema; the rules
 * on the name are CEL rules at the root, where CRDs may state them).
 */
export const openApiSchema = (schema: Schema.Top): JsonSchemaProps => {
  const root = structuralSchema(schema)
  const properties = root.properties as Readonly<Record<string, JsonSchemaProps>> | undefined
  if (properties === undefined) throw new StructuralSchemaError("", "a kind's schema must be an object")
  const { apiVersion: _apiVersion, kind: _kind, metadata: _metadata, ...body } = properties
  const required = ((root.required as ReadonlyArray<string> | undefined) ?? []).filter(
    (name) => !(name in typeMeta)
  )
  const { properties: _properties, required: _required, ...rest } = root
  return {
    ...(rest.description === undefined ? {} : { description: rest.description }),
    type: "object",
    properties: { ...typeMeta, ...body },
    ...(required.length === 0 ? {} : { required }),
    ...Object.fromEntries(Object.entries(rest).filter(([key]) => key !== "description" && key !== "type"))
  }
}

export const customResourceDefinition = (definition: CrdDefinition): KubeObject => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: {
    name: `${definition.plural}.${group}`,
    labels: { "app.kubernetes.io/part-of": "kleff" }
  },
  spec: {
    group,
    names: {
      kind: definition.kind,
      listKind: `${definition.kind}List`,
      plural: definition.plural,
      singular: definition.singular,
      shortNames: definition.shortNames,
      categories: [category]
    },
    scope: "Cluster",
    versions: [
      {
        name: version,
        served: true,
        storage: true,
        ...(definition.statusSubresource ? { subresources: { status: {} } } : {}),
        additionalPrinterColumns: definition.printerColumns,
        schema: { openAPIV3Schema: openApiSchema(definition.schema) }
      }
    ]
  }
})

const age: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }

export const tenantCrdDefinition: CrdDefinition = {
  kind: TenantType.kind,
  plural: TenantType.plural,
  singular: "tenant",
  shortNames: ["tn"],
  schema: Tenant,
  statusSubresource: true,
  printerColumns: [
    { name: "Plan", type: "string", jsonPath: ".spec.plan", description: "The tenant's plan" },
    {
      name: "Namespace",
      type: "string",
      jsonPath: ".status.namespace",
      description: "The namespace provisioned for the tenant"
    },
    {
      name: "Ready",
      type: "string",
      jsonPath: '.status.conditions[?(@.type=="TenantReady")].status',
      description: "Whether everything the tenant needs is in place"
    },
    {
      name: "Reason",
      type: "string",
      jsonPath: '.status.conditions[?(@.type=="TenantReady")].reason',
      description: "Why it is ready or not: the reason of its first condition that is not True"
    },
    { name: "Phase", type: "string", jsonPath: ".status.phase", priority: 1 },
    { name: "User", type: "string", jsonPath: ".spec.username", priority: 1 },
    {
      name: "Protected",
      type: "boolean",
      jsonPath: ".spec.deletionProtection",
      priority: 1,
      description: "Whether deleting the Tenant is refused (spec.deletionProtection)"
    },
    {
      name: "CPU",
      type: "string",
      jsonPath: ".status.usage.used.requests\\.cpu",
      priority: 1,
      description: "CPU requests in use (status.usage)"
    },
    {
      name: "Memory",
      type: "string",
      jsonPath: ".status.usage.used.requests\\.memory",
      priority: 1,
      description: "Memory requests in use (status.usage)"
    },
    {
      name: "Pods",
      type: "string",
      jsonPath: ".status.usage.used.pods",
      priority: 1,
      description: "Pods in use (status.usage)"
    },
    age
  ]
}

export const planCrdDefinition: CrdDefinition = {
  kind: PlanType.kind,
  plural: PlanType.plural,
  singular: "plan",
  // `plan` alone is taken by other projects (e.g. Rancher's upgrade plans); `tplan` is ours.
  shortNames: ["tplan"],
  schema: Plan,
  statusSubresource: false,
  printerColumns: [
    { name: "PodSecurity", type: "string", jsonPath: ".spec.podSecurity" },
    { name: "Istio", type: "boolean", jsonPath: ".spec.istioInjection" },
    { name: "CPU", type: "string", jsonPath: ".spec.quota.requests\\.cpu", priority: 1 },
    { name: "Memory", type: "string", jsonPath: ".spec.quota.requests\\.memory", priority: 1 },
    age
  ]
}

export const tenantCrd = (): KubeObject => customResourceDefinition(tenantCrdDefinition)
export const planCrd = (): KubeObject => customResourceDefinition(planCrdDefinition)
