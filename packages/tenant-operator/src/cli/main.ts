/**
 * `tenant-operator`: the operator's command line. `run` is the controller manager (flags named as
 * kubebuilder-made operators name them); `crds` prints the CRDs; `plan` shows what the operator
 * would change for one Tenant on the live cluster, without writing; `render` prints a Tenant's
 * child manifests offline. Global flags: `--log-format` (see `Logging.ts`), and effect/cli's
 * `--log-level`, `--help`, `--version`. Argument handling only: every command calls into a module
 * that does the work.
 */
import { readFile, writeFile } from "node:fs/promises"
import { NodeServices } from "@effect/platform-node"
import { type Action, changeOf, type Difference, keyOfType, refOf } from "@kleff/core"
import { DryRun, Manager } from "@kleff/k8s"
import { Console, Effect, Option, Result } from "effect"
import { Argument, CliError, CliOutput, Command, Flag } from "effect/cli"
import { TenantType } from "../api/Tenant.ts"
import { makeConfig, type TenantOperatorConfig } from "../desired/Config.ts"
import { install as installInCluster } from "../Install.ts"
import { clientLayer, runOperator } from "../Operator.ts"
import { makeTenantReconciler } from "../TenantReconciler.ts"
import { crdDirectory, crdFiles, crdsYaml, toYaml } from "./crds.ts"
import { CommandFailed, logFormat, reportFailure, selectedLogger } from "./Logging.ts"
import { renderTenantFiles } from "./render.ts"

const kubeconfig = Flag.String("kubeconfig").pipe(
  Flag.withDescription(
    "Path to a kubeconfig. Default: $KUBECONFIG, ~/.kube/config, or the in-cluster service account."
  ),
  Flag.optional
)

/** The flags that shape what a Tenant gets; shared by run, plan and render so they agree. */
const tenantConfigFlags = {
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

interface TenantConfigInput {
  readonly namespaceTemplate: string
  readonly userPrefix: string
  readonly enableIstio: boolean
  readonly enableGatekeeper: boolean
}

const configFrom = (input: TenantConfigInput): TenantOperatorConfig =>
  makeConfig({
    namespaceTemplate: input.namespaceTemplate,
    userPrefix: input.userPrefix,
    mesh: { enabled: input.enableIstio },
    gatekeeper: { enabled: input.enableGatekeeper }
  })

const optionalPath = (value: Option.Option<string>) => Option.getOrUndefined(value)

const run = Command.make(
  "run",
  {
    kubeconfig,
    ...tenantConfigFlags,
    metricsBindAddress: Flag.String("metrics-bind-address").pipe(
      Flag.withDescription('Address the /metrics endpoint binds to; "0" disables it.'),
      Flag.withDefault(":8080")
    ),
    healthProbeBindAddress: Flag.String("health-probe-bind-address").pipe(
      Flag.withDescription("Address the /healthz and /readyz endpoints bind to."),
      Flag.withDefault(":8081")
    ),
    leaderElect: Flag.Boolean("leader-elect").pipe(
      Flag.withDescription("Run the controller only while holding the leader Lease (for several replicas)."),
      Flag.withDefault(false)
    ),
    leaderElectionNamespace: Flag.String("leader-election-namespace").pipe(
      Flag.withDescription("Namespace of the leader Lease."),
      Flag.withDefault("kleff-system")
    ),
    leaderElectionId: Flag.String("leader-election-id").pipe(
      Flag.withDescription("Name of the leader Lease."),
      Flag.withDefault("tenant-operator.kleff.io")
    ),
    maxConcurrentReconciles: Flag.Int("max-concurrent-reconciles").pipe(
      Flag.withDescription("Tenants reconciled at once (never the same Tenant twice)."),
      Flag.withDefault(8)
    )
  },
  (flags) =>
    runOperator({
      config: configFrom(flags),
      concurrency: Math.max(1, flags.maxConcurrentReconciles),
      healthProbeBindAddress: flags.healthProbeBindAddress,
      metricsBindAddress: flags.metricsBindAddress,
      leaderElection: flags.leaderElect
        ? { namespace: flags.leaderElectionNamespace, name: flags.leaderElectionId }
        : undefined,
      kubeconfig: optionalPath(flags.kubeconfig)
    }).pipe(reportFailure)
).pipe(Command.withDescription("Run the tenant operator (the controller manager)."))

const crds = Command.make(
  "crds",
  {
    write: Flag.Boolean("write").pipe(
      Flag.withDescription(`Write them to ${crdDirectory} instead of printing.`),
      Flag.withDefault(false)
    )
  },
  ({ write }) =>
    reportFailure(
      write
        ? Effect.forEach(
            crdFiles(),
            (file) =>
              Effect.promise(() => writeFile(`${crdDirectory}${file.name}`, file.content)).pipe(
                Effect.andThen(Console.log(`wrote ${crdDirectory}${file.name}`))
              ),
            { discard: true }
          )
        : Effect.sync(() => void process.stdout.write(crdsYaml()))
    )
).pipe(Command.withDescription("Print the Tenant and Plan CustomResourceDefinitions."))

const describeAction = (action: Action, observedOf: (object: Action) => string | undefined): string => {
  switch (action._tag) {
    case "Apply": {
      const { object } = action
      const where = `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name}`
      if (action.create) return `+ create ${where}\n${indent(toYaml(object))}`
      return `~ update ${where}${observedOf(action) ?? ""}`
    }
    case "Delete":
      return `- delete ${action.ref.kind} ${action.ref.namespace ? `${action.ref.namespace}/` : ""}${action.ref.name}`
    case "AddFinalizer":
      return `~ add finalizer ${action.finalizer}`
    case "RemoveFinalizer":
      return `~ remove finalizer ${action.finalizer}`
    case "PatchStatus":
      return `~ status\n${indent(toYaml(action.status))}`
    case "Event":
      return `! event ${action.type} ${action.reason}: ${action.message}`
    case "Requeue":
      return `… check again in ${Math.round(action.afterMillis / 1000)} s`
  }
}

const indent = (text: string) =>
  text
    .trimEnd()
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n")

/** Why an object is applied: a value to set, a field to remove, or no record of ours on it yet. */
const describeChange = (difference: Difference): string =>
  difference.change === "removal" || (difference.change === "digest" && difference.path.startsWith("spec"))
    ? `: removes ${difference.path} (now ${JSON.stringify(difference.observed)}), which the plan no longer sets`
    : difference.change === "digest"
      ? ": what the plan sets for it has changed"
      : difference.change === "unapplied"
        ? `: takes ownership of its fields (no apply by ${String(difference.desired)} recorded on it)`
        : `: ${difference.path} is ${JSON.stringify(difference.observed)}, wants ${JSON.stringify(difference.desired)}`

const plan = Command.make(
  "plan",
  {
    tenant: Argument.String("tenant").pipe(Argument.withDescription("The Tenant's name.")),
    kubeconfig,
    ...tenantConfigFlags
  },
  (input) =>
    Effect.gen(function* () {
      const reconciler = makeTenantReconciler(configFrom(input))
      const { primary, plan } = yield* DryRun.planOnce(reconciler, keyOfType(TenantType, input.tenant))
      if (primary === undefined || plan === undefined) {
        return yield* Effect.fail(new Error(`no Tenant named ${input.tenant}`))
      }
      if (plan.actions.length === 0) {
        yield* Console.log(`Tenant ${input.tenant} is up to date: nothing to change.`)
        return
      }
      const snapshot = plan.outcome.snapshot
      yield* Console.log(`Tenant ${input.tenant}: the operator would, in order:`)
      for (const action of plan.actions) {
        const line = describeAction(action, (a) => {
          if (a._tag !== "Apply") return undefined
          const current = snapshot.get(refOf(a.object))
          const difference = current === undefined ? undefined : changeOf(a.object, current, reconciler.name)
          return difference === undefined ? undefined : describeChange(difference)
        })
        yield* Console.log(line)
      }
    }).pipe(Effect.provide(clientLayer(optionalPath(input.kubeconfig))), reportFailure)
).pipe(
  Command.withDescription(
    "Show what the operator would change for a Tenant on the live cluster, without writing."
  )
)

const render = Command.make(
  "render",
  {
    tenantFile: Argument.String("tenant.yaml").pipe(
      Argument.withDescription("File with one or more Tenants.")
    ),
    planFiles: Flag.String("plan").pipe(
      Flag.withDescription("File with the Plans the Tenants use (repeatable)."),
      Flag.atLeast(1)
    ),
    ...tenantConfigFlags
  },
  (input) =>
    Effect.gen(function* () {
      const read = (file: string) =>
        Effect.tryPromise({
          try: () => readFile(file, "utf8"),
          catch: (error) =>
            new Error(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`)
        }).pipe(Effect.map((source) => ({ file, source })))
      const tenant = yield* read(input.tenantFile)
      const plans = yield* Effect.forEach(input.planFiles, read)
      const rendered = renderTenantFiles(tenant, plans, configFrom(input))
      if (Result.isFailure(rendered)) return yield* Effect.fail(new Error(rendered.failure.message))
      yield* Effect.sync(() => process.stdout.write(rendered.success))
    }).pipe(reportFailure)
).pipe(Command.withDescription("Print the manifests the operator would create for Tenants, offline."))

const install = Command.make(
  "install",
  {
    kubeconfig,
    samples: Flag.Boolean("samples").pipe(
      Flag.withDescription("Also install the sample Plans (free, basic, pro)."),
      Flag.withDefault(false)
    )
  },
  (input) =>
    installInCluster({ samples: input.samples }).pipe(
      Effect.provide(clientLayer(optionalPath(input.kubeconfig))),
      reportFailure
    )
).pipe(
  Command.withDescription(
    "Install the CRDs and cluster-wide objects by server-side apply (for development clusters; production uses kubectl apply -k deploy)."
  )
)

const tenantOperator = Command.make("tenant-operator").pipe(
  Command.withDescription("The Kleff tenant operator: a namespace, quota, access and isolation per Tenant."),
  Command.withSubcommands([run, install, crds, plan, render]),
  Command.provide(selectedLogger),
  Command.withGlobalFlags([logFormat])
)

/** effect/cli prints usage errors with the help, but not a bad value of a global setting (`--log-format xml`). */
const isUnprintedUsageError = (error: unknown): error is CliError.CliError =>
  CliError.isCliError(error) && error._tag !== "ShowHelp" && error._tag !== "UserError"

const printUsageError = (error: CliError.CliError) =>
  Effect.gen(function* () {
    const formatter = yield* CliOutput.Formatter
    yield* Console.error(formatter.formatErrors([error]))
    return yield* new CommandFailed({ message: error.message })
  })

/**
 * The whole CLI, reading `process.argv`. Usage errors are printed on stderr as effect/cli prints
 * them, a command's failure is logged once (`reportFailure`); either way the process exits 1.
 */
export const main: Effect.Effect<void, unknown> = tenantOperator.pipe(
  Command.run({ version: "0.1.0" }),
  Effect.catchIf(isUnprintedUsageError, printUsageError),
  Effect.provide(NodeServices.layer)
)

if (import.meta.main) Manager.runMain(main)
