/**
 * The `Plan` kind (`kleff.kleff.io/v1`, cluster-scoped): what a tenant on that plan gets — quota,
 * container limits, Pod Security level, mesh injection, trusted registries and which Services may
 * reach outside the cluster. Its schema is the one source of truth for decoding Plans and for the
 * CRD (see `crds.ts`). A Plan is also the parameter object of the `kleff-trusted-registries` and
 * `kleff-tenant-services` admission policies (deploy/cluster), whose CEL reads its fields.
 */
import type { ResourceType } from "@kleff/core"
import { Schema } from "effect"
import { decodeWith } from "./Decode.ts"
import { apiVersion, group, objectMetaFields, version } from "./Group.ts"
import {
  Dns1123Subdomain,
  dns1123LabelMaxLength,
  nameFitsLabelValueRule,
  qualifiedResourceNamePattern
} from "./Names.ts"
import { Quantity } from "./Quantity.ts"

/** A Plan's name as a Tenant refers to it: a DNS-1123 subdomain short enough to be a label value. */
export const PlanName = Dns1123Subdomain.check(Schema.isMaxLength(dns1123LabelMaxLength))

/** A ResourceQuota key: `pods`, `requests.cpu`, `count/deployments.apps`, `requests.nvidia.com/gpu`. */
export const QuotaResourceName = Schema.String.check(
  Schema.isPattern(qualifiedResourceNamePattern, {
    expected: "a resource name such as requests.cpu, pods or count/deployments.apps"
  })
)

export const ContainerResources = Schema.Struct({
  cpu: Schema.optionalKey(Quantity),
  memory: Schema.optionalKey(Quantity),
  "ephemeral-storage": Schema.optionalKey(Quantity)
})
export type ContainerResources = typeof ContainerResources.Type

export const PlanLimitRange = Schema.Struct({
  defaultRequest: Schema.optionalKey(
    ContainerResources.annotate({ description: "Requests given to containers that set none." })
  ),
  default: Schema.optionalKey(
    ContainerResources.annotate({ description: "Limits given to containers that set none." })
  ),
  max: Schema.optionalKey(
    ContainerResources.annotate({ description: "The most any one container may ask for." })
  )
})
export type PlanLimitRange = typeof PlanLimitRange.Type

export const PodSecurityLevel = Schema.Literals(["restricted", "baseline"])
export type PodSecurityLevel = typeof PodSecurityLevel.Type

/** What a tenant's Services may open beyond the cluster network; absent fields are false. */
export const PlanServices = Schema.Struct({
  nodePorts: Schema.optionalKey(
    Schema.Boolean.annotate({
      description:
        "Whether Services may open node ports (type NodePort, or a LoadBalancer that allocates them)."
    })
  ),
  loadBalancers: Schema.optionalKey(
    Schema.Boolean.annotate({ description: "Whether Services may be of type LoadBalancer." })
  ),
  externalIPs: Schema.optionalKey(
    Schema.Boolean.annotate({ description: "Whether Services may set spec.externalIPs." })
  )
})
export type PlanServices = typeof PlanServices.Type

export const PlanSpec = Schema.Struct({
  // Keys are checked with isPropertyNames, not a key schema: a record with a key schema drops
  // keys that do not match, and a typo must fail loudly rather than vanish from the quota.
  quota: Schema.Record(Schema.String, Quantity)
    .check(Schema.isPropertyNames(QuotaResourceName), Schema.isMaxProperties(64))
    .annotate({ description: "Becomes the tenant namespace's ResourceQuota spec.hard." }),
  limitRange: Schema.optionalKey(
    PlanLimitRange.annotate({ description: "Container defaults and bounds (the namespace's LimitRange)." })
  ),
  podSecurity: PodSecurityLevel.annotate({
    description: "The Pod Security Admission level enforced in the namespace."
  }),
  istioInjection: Schema.Boolean.annotate({
    description: "Whether Istio injects its sidecar into the tenant's pods."
  }),
  allowedRegistries: Schema.Array(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(253)))
    .check(Schema.isMaxLength(64))
    .annotate({
      description:
        "Registries (or repositories) the tenant's containers may use, e.g. registry.kleff.io/ or docker.io/library/: every image, normalised (nginx is docker.io/library/nginx), must start with one of them at a path boundary."
    }),
  services: Schema.optionalKey(
    PlanServices.annotate({
      description:
        "Which Services may reach beyond the cluster network: NodePort, LoadBalancer, external IPs. All refused when absent."
    })
  )
})
export type PlanSpec = typeof PlanSpec.Type

export const Plan = Schema.Struct({
  apiVersion: Schema.Literal(apiVersion),
  kind: Schema.Literal("Plan"),
  metadata: Schema.Struct({ name: PlanName, ...objectMetaFields }),
  spec: PlanSpec
}).annotate({
  description: "A Kleff plan: the quota, limits and policies every Tenant on it gets.",
  "x-kubernetes-validations": [nameFitsLabelValueRule("Plan")]
})
export type Plan = typeof Plan.Type

export const PlanType: ResourceType<Plan> = {
  group,
  version,
  kind: "Plan",
  plural: "plans",
  namespaced: false,
  schema: Plan
}

export const decodePlan = decodeWith(Plan)
