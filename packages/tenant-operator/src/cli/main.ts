/**
 * `tenant-operator`: the operator's one command line, an `effect/cli` program. `run` is the
 * controller manager (flags named as kubebuilder-made operators name them); `install` applies the
 * CRDs and cluster objects; `crds`, `plan`, `render`, `status` and `adopt` live in their own modules. Global flags:
 * `--log-format` (see `Logging.ts`), and effect/cli's `--log-level`, `--help`, `--version`.
 * Argument handling only: every command calls into a module that does the work.
 */
import { NodeServices } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { CliError, CliOutput, Command, Flag } from "effect/cli"
import { install as installInCluster } from "../Install.ts"
import { clientLayer, runOperator } from "../Operator.ts"
import { defaultUsagePeriodSeconds } from "../UsageReconciler.ts"
import { adoptCommand } from "./adopt.ts"
import { crdsCommand } from "./crds.ts"
import { configFrom, kubeconfig, kubeconfigPath, tenantConfigFlags } from "./Flags.ts"
import { CommandFailed, logFormat, reportFailure, selectedLogger } from "./Logging.ts"
import { planCommand } from "./plan.ts"
import { renderCommand } from "./render.ts"
import { statusCommand } from "./status.ts"

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
    ),
    enableUsage: Flag.Boolean("enable-usage").pipe(
      Flag.withDescription(
        "Run the usage controller: each Tenant's status.usage (hard, used, updatedAt) from its namespace's ResourceQuota. --enable-usage=false turns it off; the per-tenant metrics stay."
      ),
      Flag.withDefault(true)
    ),
    usagePeriodSeconds: Flag.Int("usage-period-seconds").pipe(
      Flag.withDescription(
        "The usage controller writes a Tenant's status.usage at most this often, and only for a change of 1 % of a limit or more."
      ),
      Flag.withDefault(defaultUsagePeriodSeconds)
    ),
    refusedRetrySeconds: Flag.Int("refused-retry-seconds").pipe(
      Flag.withDescription(
        "A Tenant whose write the API server refused (reported as WriteRefused) is tried again after at least this long, and longer with each refusal; a change to it or its Plan retries at once."
      ),
      Flag.withDefault(60)
    )
  },
  (flags) =>
    runOperator({
      config: configFrom(flags),
      usage: { enabled: flags.enableUsage, periodMillis: Math.max(1, flags.usagePeriodSeconds) * 1000 },
      concurrency: Math.max(1, flags.maxConcurrentReconciles),
      refusedRetryMillis: Math.max(1, flags.refusedRetrySeconds) * 1000,
      healthProbeBindAddress: flags.healthProbeBindAddress,
      metricsBindAddress: flags.metricsBindAddress,
      leaderElection: flags.leaderElect
        ? { namespace: flags.leaderElectionNamespace, name: flags.leaderElectionId }
        : undefined,
      kubeconfig: kubeconfigPath(flags.kubeconfig)
    }).pipe(reportFailure)
).pipe(Command.withDescription("Run the tenant operator (the controller manager)."))

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
      Effect.provide(clientLayer(kubeconfigPath(input.kubeconfig))),
      reportFailure
    )
).pipe(
  Command.withDescription(
    "Install the CRDs and cluster-wide objects by server-side apply (for development clusters; production uses kubectl apply -k deploy)."
  )
)

const tenantOperator = Command.make("tenant-operator").pipe(
  Command.withDescription("The Kleff tenant operator: a namespace, quota, access and isolation per Tenant."),
  Command.withSubcommands([
    run,
    install,
    crdsCommand,
    planCommand,
    renderCommand,
    statusCommand,
    adoptCommand
  ]),
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
