/**
 * `tenant-operator plan <tenant>`: what the operator would change for one Tenant on the live
 * cluster, without writing — each controller's own plan (the tenant controller's, then with
 * `--enable-istio` the mesh controller's) from a dry-run snapshot, printed one action
 * a line (`+` create, `~` update, `-` delete, `!` event, `…` requeue), an update with the first
 * field that differs. Reads the cluster; never writes to it.
 */
import { type Action, changeOf, type Difference, keyOfType, type Reconciler, refOf } from "@kleff/core"
import { DryRun } from "@kleff/k8s"
import { Console, Effect } from "effect"
import { Command } from "effect/cli"
import { type StoredTenant, TenantType } from "../api/Tenant.ts"
import { makeMeshReconciler } from "../MeshReconciler.ts"
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
    case "ApplyStatus":
      return `~ status\n${indent(toYaml(action.status))}`
    case "Event":
      return `! event ${action.type} ${action.reason}: ${action.message}`
    case "Requeue":
      return `… check again in ${Math.round(action.afterMillis / 1000)} s`
  }
}

/** Prints what `reconciler` would do for Tenant `name`; how many actions that is. */
const printPlan = <D>(reconciler: Reconciler<StoredTenant, D>, name: string) =>
  Effect.gen(function* () {
    const { primary, plan } = yield* DryRun.planOnce(reconciler, keyOfType(TenantType, name))
    if (primary === undefined || plan === undefined)
      return yield* Effect.fail(new Error(`no Tenant named ${name}`))
    if (plan.actions.length === 0) return 0
    const snapshot = plan.outcome.snapshot
    yield* Console.log(`Tenant ${name}: the ${reconciler.name} would, in order:`)
    for (const action of plan.actions) {
      const line = describeAction(action, (a) => {
        if (a._tag !== "Apply") return undefined
        const current = snapshot.get(refOf(a.object))
        const difference = current === undefined ? undefined : changeOf(a.object, current, reconciler.name)
        return difference === undefined ? undefined : describeChange(difference)
      })
      yield* Console.log(line)
    }
    return plan.actions.length
  })

export const planCommand = Command.make(
  "plan",
  {
    tenant: tenantArgument,
    kubeconfig,
    ...tenantConfigFlags
  },
  (input) =>
    Effect.gen(function* () {
      const config = configFrom(input)
      const changes =
        (yield* printPlan(makeTenantReconciler(config), input.tenant)) +
        (config.mesh.enabled ? yield* printPlan(makeMeshReconciler(config.mesh), input.tenant) : 0)
      if (changes === 0) yield* Console.log(`Tenant ${input.tenant} is up to date: nothing to change.`)
    }).pipe(Effect.provide(clientLayer(kubeconfigPath(input.kubeconfig))), reportFailure)
).pipe(
  Command.withDescription(
    "Show what the operator would change for a Tenant on the live cluster, without writing."
  )
)
