/**
 * The benchmark's Tenants: what each looks like as a user creates it (named `<prefix>-<i>`, its plan
 * by index, labelled with the phase), when one is ready, the Plans they use (listed from the
 * cluster), and removing a floor's Tenants without an operator (namespaces deleted, finalizer
 * removed, Tenants deleted, then waiting until the namespace controller is done), so the next
 * phase starts on a quiet, empty cluster. Measures nothing.
 */
import type { KubeObject } from "@kleff/core"
import { Client, type Errors } from "@kleff/k8s"
import { Effect, Result } from "effect"
import { decodePlan, type Plan, PlanType } from "../src/api/Plan.ts"
import { TenantType } from "../src/api/Tenant.ts"
import { NamespaceType } from "../src/desired/ResourceTypes.ts"
import { namespaceFinalizer } from "../src/TenantReconciler.ts"
import { sleep } from "./OperatorProcess.ts"
import { concurrency, progress } from "./Settings.ts"

export const benchLabel = "bench.kleff.io/phase"
const planNames = ["free", "basic", "pro"] as const

export const range = (n: number): ReadonlyArray<number> => Array.from({ length: n }, (_, i) => i)

/** The names of `count` Tenants with `prefix`. */
export const tenantNames = (prefix: string, count: number): ReadonlyArray<string> =>
  range(count).map((i) => `${prefix}-${i}`)

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
export const listPlans = Effect.gen(function* () {
  const client = yield* Client.Client
  const list = yield* client.list(PlanType)
  return list.items.map((item): Plan => Result.getOrThrow(decodePlan(item)))
})

const ignoreNotFound = <A, R>(effect: Effect.Effect<A, Errors.KubeError, R>) =>
  effect.pipe(
    Effect.asVoid,
    Effect.catchTag("NotFound", () => Effect.void)
  )

/** Deletes the Tenants' namespaces and the Tenants (finalizer removed first: no operator runs). */
const deleteTenants = Effect.fnUntraced(function* (names: ReadonlyArray<string>) {
  const client = yield* Client.Client
  yield* Effect.forEach(
    names,
    (name) =>
      Effect.gen(function* () {
        yield* ignoreNotFound(client.delete(NamespaceType, `tenant-${name}`))
        const tenant = yield* client.get(TenantType, name)
        yield* client.removeFinalizer(TenantType, tenant, namespaceFinalizer)
        yield* ignoreNotFound(client.delete(TenantType, name))
      }).pipe(Effect.catchTag("NotFound", () => Effect.void)),
    { concurrency, discard: true }
  )
})

/** How many namespaces of Tenants with these prefixes still exist (terminating or not). */
const namespacesLeft = (prefixes: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const client = yield* Client.Client
    const namespaces = yield* client.list(NamespaceType)
    return namespaces.items.filter((ns) =>
      prefixes.some((prefix) => ns.metadata.name.startsWith(`tenant-${prefix}-`))
    ).length
  })

/** Runs an effect against the benchmark's cluster. */
export type Run = <A, E>(effect: Effect.Effect<A, E, Client.Client>) => Promise<A>

/**
 * Removes every Tenant named `<prefix>-<i>` (i < count) and waits until their namespaces are gone.
 * Resolves to the milliseconds it took.
 */
export const removeTenants = async (
  run: Run,
  batches: ReadonlyArray<{ readonly prefix: string; readonly count: number }>
): Promise<number> => {
  const start = performance.now()
  await run(deleteTenants(batches.flatMap(({ prefix, count }) => tenantNames(prefix, count))))
  const prefixes = batches.map(({ prefix }) => prefix)
  for (let polls = 0; ; polls++) {
    const left = await run(namespacesLeft(prefixes))
    if (left === 0) break
    if (polls % 6 === 0) progress(`cleanup: ${left} namespaces of ${prefixes.join(", ")} still terminating`)
    await sleep(5000)
  }
  const millis = performance.now() - start
  progress(`cleanup of ${prefixes.join(", ")}: ${(millis / 1000).toFixed(1)} s`)
  return millis
}
