/**
 * Test fixtures: the committed samples (deploy/samples) read as the cluster would hold them, and
 * snapshots built from plain objects — the `Snapshot`s the framework plans from, not a fake API
 * server.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import {
  isControlledBy,
  type KubeObject,
  keyOf,
  keyOfRef,
  type Plan as Planned,
  plan,
  type Snapshot
} from "@kleff/core"
import { parse } from "yaml"
import type { Plan } from "../src/api/Plan.ts"
import type { Tenant } from "../src/api/Tenant.ts"
import type { TenantDecision } from "../src/TenantDecision.ts"
import type { TenantReconciler } from "../src/TenantReconciler.ts"

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
export const snapshot = (primary: KubeObject, objects: ReadonlyArray<KubeObject>): Snapshot => {
  const byKey = new Map(objects.map((object) => [keyOf(object), object]))
  return {
    primary,
    owned: objects.filter((object) => isControlledBy(object, primary)),
    get: (ref) => byKey.get(keyOfRef(ref))
  }
}

/** The planner's first plan for `primary` when the cluster holds `objects`: decision, desired objects, report. */
export const planFor = (
  reconciler: TenantReconciler,
  primary: KubeObject,
  objects: ReadonlyArray<KubeObject>,
  at = "2025-01-01T00:00:00Z"
): Planned<TenantDecision> => plan(reconciler, snapshot(primary, objects), at)

/** A namespace nobody in Kleff owns. */
export const foreignNamespace = (name: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, uid: "uid-foreign-ns", labels: { team: "someone-else" } }
})

/** A pod spec the Pod Security level `restricted` admits: one container, `web`, running `image`. */
export const restrictedPodSpec = (image: string) => ({
  securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
  containers: [
    {
      name: "web",
      image,
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } }
    }
  ]
})
