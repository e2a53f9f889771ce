/**
 * The flags more than one command takes, defined once so every command names and documents them
 * alike: `--kubeconfig`, the `<tenant>` argument, and the tenant flags that shape what a Tenant gets (`run`, `plan` and
 * `render` must agree on them, or a plan or a render would not show what the operator does).
 * Definitions only: no command lives here.
 */
import { Option } from "effect"
import { Argument, Flag } from "effect/cli"
import { defaultConfig, makeConfig, type TenantOperatorConfig } from "../desired/Config.ts"

export const kubeconfig = Flag.String("kubeconfig").pipe(
  Flag.withDescription(
    "Path to a kubeconfig. Default: $KUBECONFIG, ~/.kube/config, or the in-cluster service account."
  ),
  Flag.optional
)

/** The one Tenant a command acts on (`plan`, `adopt`). */
export const tenantArgument = Argument.String("tenant").pipe(Argument.withDescription("The Tenant's name."))

/** The `--kubeconfig` value as the Operator's options take it. */
export const kubeconfigPath = (value: Option.Option<string>): string | undefined =>
  Option.getOrUndefined(value)

/** Labels as `key=value[,key=value]`. */
const renderSelector = (labels: Readonly<Record<string, string>>): string =>
  Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",")

/** `key=value[,key=value]` as labels; an entry without `=` is a key with an empty value. */
export const parseSelector = (text: string): Readonly<Record<string, string>> =>
  Object.fromEntries(
    text
      .split(",")
      .map((entry) => entry.trim())
      .filter((entry) => entry !== "")
      .map((entry) => {
        const at = entry.indexOf("=")
        return at < 0 ? [entry, ""] : [entry.slice(0, at).trim(), entry.slice(at + 1).trim()]
      })
  )

/** The flags that shape what a Tenant gets; shared by run, plan and render so they agree. */
export const tenantConfigFlags = {
  namespaceTemplate: Flag.String("namespace-template").pipe(
    Flag.withDescription("Name of a tenant's namespace: {name}, {userId} and {username} are replaced."),
    Flag.withDefault("tenant-{name}")
  ),
  userPrefix: Flag.String("user-prefix").pipe(
    Flag.withDescription("Prefix of RBAC user names (the API server's --oidc-username-prefix)."),
    Flag.withDefault("")
  ),
  enableIstio: Flag.Boolean("enable-istio").pipe(
    Flag.withDescription(
      "Run the mesh controller: each mesh tenant's Istio Gateway, strict mTLS, authorization policy, Sidecar and istiod NetworkPolicy."
    ),
    Flag.withDefault(false)
  ),
  meshAppsDomain: Flag.String("mesh-apps-domain").pipe(
    Flag.withDescription(
      "The platform's apps domain: a tenant serves {username}.<domain> and its subdomains."
    ),
    Flag.withDefault(defaultConfig.mesh.appsDomain)
  ),
  meshHostTemplate: Flag.String("mesh-host-template").pipe(
    Flag.withDescription(
      "A tenant's host: {username} and {domain} are replaced. It serves the host's subdomains too."
    ),
    Flag.withDefault(defaultConfig.mesh.hostTemplate)
  ),
  meshCredentialTemplate: Flag.String("mesh-credential-template").pipe(
    Flag.withDescription(
      "The TLS Secret of a tenant's hosts ({username} replaced), in the ingress gateway's namespace."
    ),
    Flag.withDefault(defaultConfig.mesh.credentialTemplate)
  ),
  meshIngressNamespace: Flag.String("mesh-ingress-namespace").pipe(
    Flag.withDescription("The namespace of the platform's Istio ingress gateway."),
    Flag.withDefault(defaultConfig.mesh.ingressNamespace)
  ),
  meshIngressServiceAccount: Flag.String("mesh-ingress-service-account").pipe(
    Flag.withDescription(
      "The ingress gateway's ServiceAccount (its mesh identity, admitted by each tenant)."
    ),
    Flag.withDefault(defaultConfig.mesh.ingressServiceAccount)
  ),
  meshIngressSelector: Flag.String("mesh-ingress-selector").pipe(
    Flag.withDescription(
      "The ingress gateway pods' labels, as key=value[,key=value]: each tenant Gateway's selector."
    ),
    Flag.withDefault(renderSelector(defaultConfig.mesh.ingressSelector))
  ),
  meshControlPlaneNamespace: Flag.String("mesh-control-plane-namespace").pipe(
    Flag.withDescription("The namespace of istiod."),
    Flag.withDefault(defaultConfig.mesh.controlPlaneNamespace)
  ),
  meshTrustDomain: Flag.String("mesh-trust-domain").pipe(
    Flag.withDescription("The mesh's trust domain (the first part of a workload's SPIFFE identity)."),
    Flag.withDefault(defaultConfig.mesh.trustDomain)
  ),
  enableGatekeeper: Flag.Boolean("enable-gatekeeper").pipe(
    Flag.withDescription("Manage an OPA Gatekeeper K8sAllowedRepos constraint per tenant."),
    Flag.withDefault(false)
  )
}

export interface TenantConfigInput {
  readonly namespaceTemplate: string
  readonly userPrefix: string
  readonly enableIstio: boolean
  readonly meshAppsDomain: string
  readonly meshHostTemplate: string
  readonly meshCredentialTemplate: string
  readonly meshIngressNamespace: string
  readonly meshIngressServiceAccount: string
  readonly meshIngressSelector: string
  readonly meshControlPlaneNamespace: string
  readonly meshTrustDomain: string
  readonly enableGatekeeper: boolean
}

/** The operator's configuration from the tenant flags. */
export const configFrom = (input: TenantConfigInput): TenantOperatorConfig =>
  makeConfig({
    namespaceTemplate: input.namespaceTemplate,
    userPrefix: input.userPrefix,
    mesh: {
      enabled: input.enableIstio,
      appsDomain: input.meshAppsDomain,
      hostTemplate: input.meshHostTemplate,
      credentialTemplate: input.meshCredentialTemplate,
      ingressNamespace: input.meshIngressNamespace,
      ingressServiceAccount: input.meshIngressServiceAccount,
      ingressSelector: parseSelector(input.meshIngressSelector),
      controlPlaneNamespace: input.meshControlPlaneNamespace,
      trustDomain: input.meshTrustDomain
    },
    gatekeeper: { enabled: input.enableGatekeeper }
  })
