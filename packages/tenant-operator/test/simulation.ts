/**
 * Runs the tenant reconciler against core's in-memory Simulator: a cluster as data, the real
 * planner, the API server's namespace controller and garbage collector. Helpers for the
 * reconciler's example and property tests.
 */

import { assert } from "@effect/vitest"
import { Action, type Condition, type KubeObject, type ObjectRef, Simulator } from "@kleff/core"
import { Result } from "effect"
import { tenantCrd } from "../src/api/crds.ts"
import type { Tenant } from "../src/api/Tenant.ts"
import type { TenantOperatorConfig } from "../src/desired/Config.ts"
import type { TenantDecision } from "../src/TenantDecision.ts"
import { makeTenantReconciler, tenantControllerName } from "../src/TenantReconciler.ts"

export const now = "2025-01-01T00:00:00Z"

export const tenantRefOf = (name: string): ObjectRef => ({
  apiVersion: "kleff.kleff.io/v1",
  kind: "Tenant",
  name
})

/** A cluster with the Tenant CRD installed (as any cluster holding Tenants has it) and `objects`. */
export const clusterWith = (objects: ReadonlyArray<KubeObject>): Simulator.Cluster =>
  Simulator.insertAll(Simulator.emptyCluster, [tenantCrd(), ...objects], now)

/** Reconciles the Tenant until nothing is left to write; fails the test if that takes more than `maxRounds`. */
export const reconcile = (
  cluster: Simulator.Cluster,
  config: TenantOperatorConfig,
  name = "example-tenant",
  maxRounds = 8
): Simulator.Convergence<TenantDecision> => {
  const run = Simulator.converge(cluster, tenantRefOf(name), makeTenantReconciler(config), { now, maxRounds })
  assert.isTrue(run.converged, `did not converge within ${maxRounds} rounds`)
  for (const round of run.rounds) {
    assert.isUndefined(round.failure, `a planned action failed: ${JSON.stringify(round.failure?.error)}`)
  }
  return run
}

export const tenantIn = (cluster: Simulator.Cluster, name = "example-tenant"): Tenant | undefined =>
  Simulator.get(cluster, tenantRefOf(name)) as Tenant | undefined

/** A change to the Tenant as a user's `kubectl apply` makes it: same UID, next generation. */
export const editTenant = (
  cluster: Simulator.Cluster,
  edit: (tenant: Tenant) => Tenant,
  name = "example-tenant"
): Simulator.Cluster => {
  const current = tenantIn(cluster, name)
  if (current === undefined) return assert.fail("no tenant")
  const edited = edit(current)
  return Simulator.insert(
    cluster,
    { ...edited, metadata: { ...edited.metadata, generation: (current.metadata.generation ?? 1) + 1 } },
    now
  )
}

export const deleteTenant = (cluster: Simulator.Cluster, name = "example-tenant"): Simulator.Cluster => {
  const current = tenantIn(cluster, name)
  if (current === undefined) return assert.fail("no tenant")
  const result = Simulator.applyAction(
    cluster,
    Action.Delete({ ref: tenantRefOf(name), uid: current.metadata.uid ?? "" }),
    now,
    tenantControllerName
  )
  if (Result.isFailure(result)) return assert.fail(result.failure.message)
  return result.success
}

export const conditionsIn = (cluster: Simulator.Cluster, name = "example-tenant"): ReadonlyArray<Condition> =>
  (tenantIn(cluster, name)?.status?.conditions ?? []) as ReadonlyArray<Condition>

export const conditionIn = (cluster: Simulator.Cluster, type: string, name = "example-tenant"): Condition => {
  const found = conditionsIn(cluster, name).find((condition) => condition.type === type)
  return found ?? assert.fail(`no ${type} condition`)
}

export const objectIn = (cluster: Simulator.Cluster, ref: ObjectRef): KubeObject | undefined =>
  Simulator.get(cluster, ref)

/** Every write the run made, in order (each reconcile's first plan, then its status re-plan). */
export const writesOf = (run: Simulator.Convergence<TenantDecision>): ReadonlyArray<Action> =>
  run.rounds.flatMap((round) =>
    [...round.plan.actions, ...round.status].filter((action) => action._tag !== "Requeue")
  )
