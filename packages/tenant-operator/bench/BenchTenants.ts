/**
 * The benchmark's Tenants: what each looks like as a user creates it (named `<prefix>-<i>`, its plan
 * by index, labelled with the phase), when one is ready, the Plans they use (listed from the
 * cluster). Measures nothing.
 */
import type { KubeObject } from "@kleff/core"
import { Client, type Errors } from "@kleff/k8s"
import { Effect, Result } from "effect"
import { decodePlan, type Plan, PlanType } from "../src/api/Plan.ts"
import { TenantType } from "../src/api/Tenant.ts"

export const benchLabel = "bench.kleff.io/phase"
const planNames = ["free", "basic", "pro"] as const

export const range = (n: number): ReadonlyArray<number> => Array.from({ length: n }, (_, i) => i)

/** Tenant `<prefix>-<index>` as a user creates it. */
export const tenantObject = (prefix: string, index: number): KubeObject => ({
  apiVersion: TenantType.group === "" ? TenantType.version : `${TenantType.group}/${TenantType.version}`,
  kind: TenantType.kind,
  metadata: { name: `${prefix}-${index}`, labels: { [benchLabel]: prefix } },
  spec: {
    plan: planNames[index % planNames.length],
    userId: `user-${prefix}-${index}`,
    username: `user-${index}`
  }
})

export const isTenantReady = (object: KubeObject): boolean => {
  const conditions = (
    object.status as { conditions?: ReadonlyArray<{ type: string; status: string }> } | undefined
  )?.conditions
  return conditions?.some((c) => c.type === "TenantReady" && c.status === "True") ?? false
}

/** The Plans installed with the samples, as the operator decodes them. */
export const listPlans: Effect.Effect<ReadonlyArray<Plan>, Errors.KubeError, Client.Client> = Effect.gen(
  function* () {
    const client = yield* Client.Client
    const list = yield* client.list(PlanType)
    return list.items.map((item): Plan => Result.getOrThrow(decodePlan(item)))
  }
)

/** Runs an effect against the benchmark's cluster. */
export type Run = <A, E>(effect: Effect.Effect<A, E, Client.Client>) => Promise<A>
