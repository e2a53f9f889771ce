/**
 * Test fixtures: the committed samples (deploy/samples) read as the cluster would hold them, and
 * snapshots built from plain objects — the `Observed` and `Outcome` values the framework hands a
 * reconciler, not a fake API server.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import {
  type Conflict,
  type Desired,
  isControlledBy,
  type KubeObject,
  keyOf,
  keyOfRef,
  type Observed,
  type Outcome
} from "@kleff/core"
import { parse } from "yaml"
import type { Plan } from "../src/api/Plan.ts"
import type { Tenant } from "../src/api/Tenant.ts"

export const repoPath = (relative: string): string =>
  fileURLToPath(new URL(`../../../${relative}`, import.meta.url))

export const readRepoFile = (relative: string): string => readFileSync(repoPath(relative), "utf8")

export const readYaml = (relative: string): unknown => parse(readRepoFile(relative))

/** The sample Tenant as the API server returns it: with a UID and a generation. */
export const sampleTenant = (overrides: { readonly uid?: string } = {}): Tenant => {
  const tenant = readYaml("deploy/samples/tenant.yaml") as Tenant
  return { ...tenant, metadata: { ...tenant.metadata, uid: overrides.uid ?? "uid-tenant-1", generation: 1 } }
}

export const samplePlan = (name: "free" | "basic" | "pro"): Plan =>
  readYaml(`deploy/samples/plan-${name}.yaml`) as Plan

export const withSpec = (tenant: Tenant, spec: Partial<Tenant["spec"]>): Tenant => ({
  ...tenant,
  spec: { ...tenant.spec, ...spec }
})

export const withStatus = (tenant: Tenant, status: Tenant["status"]): Tenant =>
  status === undefined ? tenant : { ...tenant, status }

/** The snapshot a controller's cache would give for `primary` when the cluster holds `objects`. */
export const snapshot = <P extends KubeObject>(
  primary: P,
  objects: ReadonlyArray<KubeObject>
): Observed<P> => {
  const byKey = new Map(objects.map((object) => [keyOf(object), object]))
  return {
    primary,
    owned: objects.filter((object) => isControlledBy(object, primary)),
    get: (ref) => byKey.get(keyOfRef(ref))
  }
}

/** An `Outcome` as the planner reports it, for `status()` tests that do not run the planner. */
export const outcomeOf = <P extends KubeObject>(
  observed: Observed<P>,
  desired: Desired | undefined,
  extra: { readonly conflicts?: ReadonlyArray<Conflict>; readonly remaining?: ReadonlyArray<KubeObject> } = {}
): Outcome<P> => ({
  observed,
  desired,
  conflicts: extra.conflicts ?? [],
  blocked: [],
  deleting: observed.primary.metadata.deletionTimestamp !== undefined,
  remaining: extra.remaining ?? []
})

/** A namespace nobody in Kleff owns. */
export const foreignNamespace = (name: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, uid: "uid-foreign-ns", labels: { team: "someone-else" } }
})
