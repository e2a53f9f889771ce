/**
 * How the tenant operator is configured: the namespace name template, the user-name prefix RBAC
 * sees, and which optional integrations (Istio, OPA Gatekeeper) it manages. Plain data; the CLI
 * fills it from flags.
 */

export interface MeshConfig {
  /** Manage Istio objects (PeerAuthentication, AuthorizationPolicy) in every tenant namespace. */
  readonly enabled: boolean
  /** The namespace of the platform's ingress gateway; the AuthorizationPolicy admits traffic from it. */
  readonly ingressNamespace: string
  /** The namespace of istiod; sidecars need egress to it through the default-deny policy. */
  readonly controlPlaneNamespace: string
}

export interface GatekeeperConfig {
  /** Manage a `K8sAllowedRepos` constraint per tenant (needs the ConstraintTemplate in deploy/cluster/gatekeeper). */
  readonly enabled: boolean
}

export interface TenantOperatorConfig {
  /**
   * The tenant namespace's name: `{name}` (the Tenant's name), `{userId}` and `{username}` are
   * replaced; the result must be a DNS-1123 label. Used only until `status.namespace` is set.
   */
  readonly namespaceTemplate: string
  /** Prepended to `spec.userId` in the RoleBinding subject: the API server's `--oidc-username-prefix`. */
  readonly userPrefix: string
  readonly mesh: MeshConfig
  readonly gatekeeper: GatekeeperConfig
}

export const defaultConfig: TenantOperatorConfig = {
  namespaceTemplate: "tenant-{name}",
  userPrefix: "",
  mesh: { enabled: false, ingressNamespace: "istio-ingress", controlPlaneNamespace: "istio-system" },
  gatekeeper: { enabled: false }
}

/** The defaults, with `overrides` applied (one level deep for `mesh` and `gatekeeper`). */
export const makeConfig = (
  overrides: {
    readonly namespaceTemplate?: string
    readonly userPrefix?: string
    readonly mesh?: Partial<MeshConfig>
    readonly gatekeeper?: Partial<GatekeeperConfig>
  } = {}
): TenantOperatorConfig => ({
  namespaceTemplate: overrides.namespaceTemplate ?? defaultConfig.namespaceTemplate,
  userPrefix: overrides.userPrefix ?? defaultConfig.userPrefix,
  mesh: { ...defaultConfig.mesh, ...overrides.mesh },
  gatekeeper: { ...defaultConfig.gatekeeper, ...overrides.gatekeeper }
})
