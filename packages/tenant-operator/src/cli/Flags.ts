/**
 * The flags more than one command takes, defined once so every command names and documents them
 * alike: `--kubeconfig`, the `<tenant>` argument, and the tenant flags that shape what a Tenant gets (`run`, `plan` and
 * `render` must agree on them, or a plan or a render would not show what the operator does).
 * Definitions only: no command lives here.
 */
import { Option } from "effect"
import { Argument, Flag } from "effect/cli"
import { makeConfig, type TenantOperatorConfig } from "../desired/Config.ts"

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
    Flag.withDescription("Manage Istio mTLS and authorization policies in tenant namespaces."),
    Flag.withDefault(false)
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
  readonly enableGatekeeper: boolean
}

/** The operator's configuration from the tenant flags. */
export const configFrom = (input: TenantConfigInput): TenantOperatorConfig =>
  makeConfig({
    namespaceTemplate: input.namespaceTemplate,
    userPrefix: input.userPrefix,
    mesh: { enabled: input.enableIstio },
    gatekeeper: { enabled: input.enableGatekeeper }
  })
