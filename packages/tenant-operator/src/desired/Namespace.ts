/**
 * The tenant's namespace: its name (from the operator's template, sticky once reported in
 * `status.namespace`, always a DNS-1123 label), its labels (tenant identity, plan, Istio
 * injection, Pod Security Admission) and, with the mesh, the tenant's host (an annotation the
 * hosts admission policy reads: a host may be longer than a label value). Pure.
 */
import type { KubeObject } from "@kleff/core"
import { Result } from "effect"
import { isDns1123Label } from "../api/Names.ts"
import type { Plan, PodSecurityLevel } from "../api/Plan.ts"
import type { Tenant } from "../api/Tenant.ts"
import type { TenantOperatorConfig } from "./Config.ts"
import { tenantHost, tenantHostAnnotation } from "./Hosts.ts"
import { ownedByTenant } from "./Ownership.ts"

export const tenantLabel = "kleff.io/tenant"
export const tenantUsernameLabel = "kleff.io/tenant-username"
export const tenantPlanLabel = "kleff.io/tenant-plan"
export const istioInjectionLabel = "istio-injection"
/** Namespaces whose pods may reach every tenant (ingress controllers, monitoring) carry this label set to "true". */
export const platformNamespaceLabel = "kleff.io/platform"

const podSecurityModes = ["enforce", "warn", "audit"] as const

/** The Pod Security Admission labels for `level`: enforced, warned and audited at the latest policy version. */
export const podSecurityLabels = (level: PodSecurityLevel): Readonly<Record<string, string>> =>
  Object.fromEntries(
    podSecurityModes.flatMap((mode) => [
      [`pod-security.kubernetes.io/${mode}`, level],
      [`pod-security.kubernetes.io/${mode}-version`, "latest"]
    ])
  )

/** The namespace template could not produce a valid name. */
export interface InvalidNamespaceName {
  readonly name: string
  readonly message: string
}

/** `template` with `{name}`, `{userId}` and `{username}` replaced by the Tenant's values. */
export const renderNamespaceTemplate = (template: string, tenant: Tenant): string =>
  template.replace(/\{(name|userId|username)\}/gu, (_match, field: string) =>
    field === "name" ? tenant.metadata.name : field === "userId" ? tenant.spec.userId : tenant.spec.username
  )

/**
 * The name of the tenant's namespace. Sticky: a namespace the Tenant already controls wins (the
 * one `status.namespace` names, if it controls several), then `status.namespace` (a namespace
 * that was deleted under the tenant comes back under the same name), and only then the template.
 * A name that is not a DNS-1123 label is refused.
 */
export const tenantNamespaceName = (
  tenant: Tenant,
  config: TenantOperatorConfig,
  ownedNamespaces: ReadonlyArray<string> = []
): Result.Result<string, InvalidNamespaceName> => {
  const reported = tenant.status?.namespace
  const owned =
    reported !== undefined && ownedNamespaces.includes(reported) ? reported : [...ownedNamespaces].sort()[0]
  const sticky = owned ?? reported
  const name = sticky ?? renderNamespaceTemplate(config.namespaceTemplate, tenant)
  if (isDns1123Label(name)) return Result.succeed(name)
  return Result.fail({
    name,
    message:
      sticky === undefined
        ? `The namespace template "${config.namespaceTemplate}" gives "${name}" for this tenant, which is not a valid namespace name (a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit).`
        : `The tenant's namespace "${name}" is not a valid namespace name.`
  })
}

/** The labels every child of the tenant carries, so `kubectl get -l kleff.io/tenant=<name>` finds them all. */
export const tenantChildLabels = (tenant: Tenant): Readonly<Record<string, string>> => ({
  [tenantLabel]: tenant.metadata.name
})

/** The labels of the tenant's namespace for `plan`. */
export const namespaceLabels = (tenant: Tenant, plan: Plan): Readonly<Record<string, string>> => ({
  [tenantLabel]: tenant.metadata.name,
  [tenantUsernameLabel]: tenant.spec.username,
  [tenantPlanLabel]: plan.metadata.name,
  [istioInjectionLabel]: plan.spec.istioInjection ? "enabled" : "disabled",
  ...podSecurityLabels(plan.spec.podSecurity)
})

export const desiredNamespace = (
  tenant: Tenant,
  plan: Plan,
  namespace: string,
  config: TenantOperatorConfig
): KubeObject =>
  ownedByTenant(tenant, {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: namespace,
      labels: namespaceLabels(tenant, plan),
      ...(config.mesh.enabled
        ? { annotations: { [tenantHostAnnotation]: tenantHost(tenant, config.mesh) } }
        : {})
    }
  })
