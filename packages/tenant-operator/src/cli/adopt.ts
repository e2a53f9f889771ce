/**
 * `tenant-operator adopt <tenant>`: gives a Tenant back its namespace and children after they were
 * orphaned (the recovery after the Tenant CRD was deleted and re-created; deploy/README.md). The
 * operator's own dry-run plan says what the Tenant finds foreign at its objects' places; of those,
 * `Adoption.adoptionVerdict` picks what this operator made for a Tenant of that name and nothing
 * controls, and each gets the Tenant's controller reference (a JSON patch conditional on the object
 * being unchanged since it was judged). Namespace first, then what is inside, until nothing more is
 * adoptable. Anything else is left alone and named; the command fails while any remains.
 * The running operator does the rest (labels, quota, policies), as for any Tenant.
 */
import { describeRef, isOfType, type KubeObject, keyOfType, refOf } from "@kleff/core"
import { Client, DryRun } from "@kleff/k8s"
import { Console, Effect } from "effect"
import { Command } from "effect/cli"
import { adoptionPatch, adoptionVerdict, foreignObjects } from "../Adoption.ts"
import { TenantType } from "../api/Tenant.ts"
import { tenantOwnedTypes } from "../desired/Children.ts"
import type { TenantOperatorConfig } from "../desired/Config.ts"
import { clientLayer } from "../Operator.ts"
import { makeTenantReconciler } from "../TenantReconciler.ts"
import { configFrom, kubeconfig, kubeconfigPath, tenantArgument, tenantConfigFlags } from "./Flags.ts"
import { reportFailure } from "./Logging.ts"

/** The field manager of the ownership it gives. */
const adoptFieldManager = "tenant-operator-adopt"

const describe = (object: KubeObject): string => describeRef(refOf(object))

/** Adopts what it may for `tenant`; returns what it adopted and what it left, with why. */
export const adopt = Effect.fnUntraced(function* (tenant: string, config: TenantOperatorConfig) {
  const client = yield* Client.Client
  const reconciler = makeTenantReconciler(config)
  const owned = tenantOwnedTypes(config)
  const adopted: Array<string> = []
  for (let round = 0; round < 3; round++) {
    const { primary, plan } = yield* DryRun.planOnce(reconciler, keyOfType(TenantType, tenant))
    if (primary === undefined || plan === undefined)
      return yield* Effect.fail(new Error(`no Tenant named ${tenant}`))
    if (primary.metadata.deletionTimestamp !== undefined)
      return yield* Effect.fail(new Error(`Tenant ${tenant} is being deleted: nothing is given back to it`))
    const foreign = foreignObjects(plan.decision, plan.outcome.conflicts)
    const verdicts = foreign.map((object) => ({ object, verdict: adoptionVerdict(primary, object) }))
    const adoptable = verdicts.filter(({ verdict }) => verdict.adopt)
    if (adoptable.length === 0) {
      const left = verdicts.flatMap(({ object, verdict }) =>
        verdict.adopt ? [] : [`${describe(object)}: ${verdict.why}`]
      )
      return { adopted, left }
    }
    for (const { object } of adoptable) {
      const type = owned.find((candidate) => isOfType(object, candidate))
      if (type === undefined) continue
      yield* client.patch(
        type,
        object.metadata.name,
        { type: "json", operations: adoptionPatch(primary, object) },
        { namespace: object.metadata.namespace, fieldManager: adoptFieldManager }
      )
      adopted.push(describe(object))
    }
  }
  return { adopted, left: [] as ReadonlyArray<string> }
})

export const adoptCommand = Command.make(
  "adopt",
  {
    tenant: tenantArgument,
    kubeconfig,
    ...tenantConfigFlags
  },
  (input) =>
    Effect.gen(function* () {
      const { adopted, left } = yield* adopt(input.tenant, configFrom(input))
      for (const name of adopted) yield* Console.log(`adopted ${name}`)
      if (left.length > 0) {
        return yield* Effect.fail(
          new Error(
            `Tenant ${input.tenant}: left alone, not this operator's to give back:\n${left.map((line) => `  ${line}`).join("\n")}`
          )
        )
      }
      yield* Console.log(
        adopted.length === 0
          ? `Tenant ${input.tenant} has nothing to adopt.`
          : `Tenant ${input.tenant} owns them again; the operator reconciles it from here.`
      )
    }).pipe(Effect.provide(clientLayer(kubeconfigPath(input.kubeconfig))), reportFailure)
).pipe(
  Command.withDescription(
    "Give a re-created Tenant back the namespace and objects the operator made for it (after the Tenant CRD was re-created). Adopts nothing else."
  )
)
