/**
 * The `Tenant` kind (`kleff.kleff.io/v1`, cluster-scoped): one customer's namespace and everything
 * in it. Its schema is the one source of truth for decoding Tenants from the cache and for the
 * CRD's OpenAPI schema and CEL rules (see `crds.ts`).
 */
import type { KubeObject, ResourceType } from "@kleff/core"
import { Predicate, Schema } from "effect"
import { Conditions } from "./Condition.ts"
import { decodeWith } from "./Decode.ts"
import { apiVersion, group, objectMetaFields, version } from "./Group.ts"
import { Dns1123Label, nameIsDns1123LabelRule } from "./Names.ts"
import { PlanName } from "./Plan.ts"

/** The admission policy (and its binding) in `deploy/cluster/` that refuses deleting a Tenant with `spec.deletionProtection: true`. */
export const deletionProtectionPolicyName = "kleff-tenant-deletion-protection"

export const TenantSpec = Schema.Struct({
  plan: PlanName.annotate({
    description: "The name of the Plan whose quota, limits and policies apply to the tenant's namespace."
  }),
  userId: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(255)).annotate({
    description: "The stable identity (OIDC subject) that owns the tenant. Immutable.",
    "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "spec.userId is immutable" }]
  }),
  username: Dns1123Label.annotate({
    description: "The user's name as a DNS-1123 label; the namespace's labels follow it."
  }),
  displayName: Schema.optionalKey(
    Schema.String.check(Schema.isMaxLength(256)).annotate({ description: "Free text for people." })
  ),
  deletionProtection: Schema.optionalKey(
    Schema.Boolean.annotate({
      description:
        `While true, the API server refuses to delete the Tenant (the ValidatingAdmissionPolicy ${deletionProtectionPolicyName}), ` +
        "so a stray delete cannot take its namespace with it. Set it to false to allow the deletion. Absent means false."
    })
  )
})
export type TenantSpec = typeof TenantSpec.Type

export const TenantPhase = Schema.Literals(["Pending", "Active", "Terminating", "Failed"])
export type TenantPhase = typeof TenantPhase.Type

/** Quantities by resource name, as a ResourceQuota's status holds them (`requests.cpu: 250m`). */
const QuantitiesByResource = Schema.Record(Schema.String, Schema.String)

/**
 * How much of its quota the tenant uses: the tenant namespace's ResourceQuota `status`, copied by
 * the usage controller (it alone writes this field). Plain strings: the API server wrote them.
 */
export const TenantUsage = Schema.Struct({
  hard: Schema.optionalKey(
    QuantitiesByResource.annotate({ description: "The quota's limits, by resource (the plan's quota)." })
  ),
  used: Schema.optionalKey(
    QuantitiesByResource.annotate({ description: "What the namespace uses, by resource." })
  ),
  updatedAt: Schema.optionalKey(
    Schema.String.annotate({ format: "date-time", description: "When the usage controller copied them." })
  )
}).annotate({
  description:
    "The tenant namespace's ResourceQuota usage. Updated at most once a period (--usage-period-seconds) " +
    "and only when a resource's use changed by 1 % of its limit or more."
})
export type TenantUsage = typeof TenantUsage.Type

export const TenantStatus = Schema.Struct({
  namespace: Schema.optionalKey(
    Dns1123Label.annotate({
      description: "The namespace provisioned for the tenant. Never changes once set."
    })
  ),
  phase: Schema.optionalKey(TenantPhase),
  conditions: Schema.optionalKey(Conditions),
  usage: Schema.optionalKey(TenantUsage),
  observedGeneration: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
})
export type TenantStatus = typeof TenantStatus.Type

const tenantFields = {
  apiVersion: Schema.Literal(apiVersion),
  kind: Schema.Literal("Tenant"),
  metadata: Schema.Struct({ name: Dns1123Label, ...objectMetaFields }),
  spec: TenantSpec
} as const

export const Tenant = Schema.Struct({
  ...tenantFields,
  status: Schema.optionalKey(TenantStatus)
}).annotate({
  description: "A Kleff tenant: a namespace for one user, with the quota, access and isolation of a Plan.",
  "x-kubernetes-validations": [nameIsDns1123LabelRule("Tenant")]
})
export type Tenant = typeof Tenant.Type

/**
 * A Tenant as the controller reads it from its cache: everything but `status` must decode. A
 * status it cannot read (an older operator's, or edited by hand) is no reason to stop: the
 * controller writes it anew.
 */
export const StoredTenant = Schema.Struct({ ...tenantFields, status: Schema.optionalKey(Schema.Unknown) })
export type StoredTenant = typeof StoredTenant.Type

export const TenantType: ResourceType<StoredTenant> = {
  group,
  version,
  kind: "Tenant",
  plural: "tenants",
  namespaced: false,
  schema: StoredTenant
}

/** The name of the Tenant CustomResourceDefinition (`<plural>.<group>`). */
export const tenantCrdName = `${TenantType.plural}.${TenantType.group}`

/**
 * The namespace the tenant controller reported (`status.namespace`), read from the Tenant as stored,
 * whose status may not decode; `undefined` until one is reported.
 */
export const reportedNamespace = (tenant: KubeObject): string | undefined => {
  const status = tenant.status
  return Predicate.isObject(status) && Predicate.isString(status.namespace) && status.namespace !== ""
    ? status.namespace
    : undefined
}

export const decodeTenant = decodeWith(Tenant)
export const decodeTenantStatus = decodeWith(TenantStatus)
