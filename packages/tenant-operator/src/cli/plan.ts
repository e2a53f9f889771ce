/**
 * `tenant-operator plan <tenant>`: what the operator would change for one Tenant on the live
 * cluster, without writing — the controller's own plan from a dry-run snapshot, printed one action
 * a line (`+` create, `~` update, `-` delete, `!` event, `…` requeue), an update with the first
 * field that differs. Reads the cluster; never writes to it.
 */
import { type Action, changeOf, type Difference, keyOfType, refOf } from "@kleff/core"
import { DryRun } from "@kleff/k8s"
import { Console, Effect } from "effect"
import { Command } from "effect/cli"
import { TenantType } from "../api/Tenant.ts"
import { clientLayer } from "../Operator.ts"
import { makeTenantReconciler } from "../TenantReconciler.ts"
import { toYaml } from "./crds.ts"
import { configFrom, kubeconfig, kubeconfigPath, tenantArgument, tenantConfigFlags } from "./Flags.ts"
import { reportFailure } from "./Logging.ts"

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

export const planCommand = Command.make(
  "plan",
  {
    tenant: tenantArgument,
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
    }).pipe(Effect.provide(clientLayer(kubeconfigPath(input.kubeconfig))), reportFailure)
).pipe(
  Command.withDescription(
    "Show what the operator would change for a Tenant on the live cluster, without writing."
  )
)
