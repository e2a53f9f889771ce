/**
 * How the tenant operator is configured: the namespace name template, the user-name prefix RBAC
 * sees, and which optional integrations (Istio, OPA Gatekeeper) it manages. Plain data; the CLI
 * fills it from flags.
 */

export interface MeshConfig {
  /** Run the mesh controller: each mesh tenant's Gateway, mTLS, authorization and Sidecar. */
  readonly enabled: boolean
  /** The namespace of the platform's ingress gateway; the AuthorizationPolicy admits its identity. */
  readonly ingressNamespace: string
  /** The ingress gateway's ServiceAccount in `ingressNamespace` (its mesh identity). */
  readonly ingressServiceAccount: string
  /** The labels that select the ingress gateway's pods (a tenant Gateway's `selector`). */
  readonly ingressSelector: Readonly<Record<string, string>>
  /** The namespace of istiod; sidecars need egress to it through the default-deny policy. */
  readonly controlPlaneNamespace: string
  /** The mesh's trust domain, the first part of a SPIFFE identity. */
  readonly trustDomain: string
  /** The platform's apps domain: a tenant serves `{username}.{domain}` by default. */
  readonly appsDomain: string
  /** A tenant's host: `{username}` and `{domain}` are replaced; the tenant also serves its subdomains. */
  readonly hostTemplate: string
  /**
   * The TLS Secret of a tenant's hosts (`credentialName`), `{username}` replaced. The ingress
   * gateway reads it from its own namespace (`ingressNamespace`), where the platform's certificate
   * tooling must put it.
   */
  readonly credentialTemplate: string
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
  mesh: {
    enabled: false,
    ingressNamespace: "istio-ingress",
    ingressServiceAccount: "istio-ingressgateway",
    ingressSelector: { istio: "ingressgateway" },
    controlPlaneNamespace: "istio-system",
    trustDomain: "cluster.local",
    appsDomain: "apps.kleff.io",
    hostTemplate: "{username}.{domain}",
    credentialTemplate: "tenant-{username}-tls"
  },
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
