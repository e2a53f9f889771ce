/**
 * An older CRD of Tenant and Plan, for the bad-input fuzz: the same kinds, but `spec` takes
 * anything (what a cluster that installed an early operator may still have), so that bodies the
 * shipped CRDs refuse reach the API server and the operator. Installing it and restoring the
 * shipped CRDs (`tenant-operator install`) each wait until the API server serves the CRDs it was
 * given. Run it only while holding the cluster lock (`useSuite`): other suites rely on the
 * shipped CRDs.
 */
import type { KubeObject, ResourceType } from "@kleff/core"
import type { Errors } from "@kleff/k8s"
import { Effect, Schedule } from "effect"
import { planCrd, tenantCrd } from "../../src/api/crds.ts"
import { eventually, installOperator, type Kubectl, uniqueName } from "./harness.ts"

/** Tenants and Plans as the API server serves them, with no schema: the fuzz writes and reads them raw. */
export const rawTenants: ResourceType = {
  group: "kleff.kleff.io",
  version: "v1",
  kind: "Tenant",
  plural: "tenants",
  namespaced: false
}
export const rawPlans: ResourceType = { ...rawTenants, kind: "Plan", plural: "plans" }

interface CrdVersion {
  readonly schema: { readonly openAPIV3Schema: { readonly properties: Readonly<Record<string, unknown>> } }
}

/**
 * An older CRD of the same kind, as a cluster that installed an early operator may still have:
 * the same names, printer columns and subresources, but the object and its `spec` take anything
 * (`x-kubernetes-preserve-unknown-fields`, no types, no required fields, no CEL rules). `status`
 * keeps its schema, so the operator's own writes still meet the API's rules.
 */
export const permissiveCrd = (crd: KubeObject): KubeObject => {
  const spec = crd.spec as { readonly versions: ReadonlyArray<CrdVersion> }
  return {
    ...crd,
    spec: {
      ...spec,
      versions: spec.versions.map((version) => {
        const { apiVersion, kind, metadata, status } = version.schema.openAPIV3Schema.properties
        return {
          ...version,
          schema: {
            openAPIV3Schema: {
              type: "object",
              "x-kubernetes-preserve-unknown-fields": true,
              properties: {
                apiVersion,
                kind,
                metadata,
                spec: { "x-kubernetes-preserve-unknown-fields": true },
                ...(status === undefined ? {} : { status })
              }
            }
          }
        }
      })
    }
  }
}

/** A Tenant and a Plan the shipped CRDs refuse (a server-side dry run tells which CRDs are in force). */
const refusedByShippedCrds = (name: string): ReadonlyArray<KubeObject> => [
  { apiVersion: "kleff.kleff.io/v1", kind: "Tenant", metadata: { name }, spec: { plan: 7, userId: [] } },
  { apiVersion: "kleff.kleff.io/v1", kind: "Plan", metadata: { name }, spec: { quota: "none" } }
]

/**
 * What a server-side dry run of each body of `refusedByShippedCrds` gets: `taken` under the
 * permissive CRDs, `invalid` under the shipped ones, `unsure` while the API server is still
 * switching (its storage for the kind re-initialising, say).
 */
const bodiesTaken = async (kubectl: Kubectl): Promise<ReadonlyArray<"taken" | "invalid" | "unsure">> =>
  Promise.all(
    refusedByShippedCrds(uniqueName("e2e-fz-probe")).map(async (object) => {
      const run = await kubectl.run(["create", "--dry-run=server", "-f", "-"], JSON.stringify(object))
      return run.code === 0 ? "taken" : /\bis invalid\b/.test(run.stderr) ? "invalid" : "unsure"
    })
  )

/** Whether every answer of `bodiesTaken` is `answer`. */
const allAre = (answer: "taken" | "invalid") => (answers: ReadonlyArray<string>) =>
  answers.every((each) => each === answer)

/**
 * Whether the CRDs in force are the ones that give `answer`, and the API server lists Tenants and
 * Plans again (after a CRD changes, its list cache starts over: "storage is (re)initializing").
 */
export const crdsInForce = async (kubectl: Kubectl, answer: "taken" | "invalid"): Promise<boolean> =>
  allAre(answer)(await bodiesTaken(kubectl)) &&
  (await kubectl.run(["get", "tenants,plans", "-l", "e2e.kleff.io/none", "-o", "name"])).code === 0

/** Retries while the API server answers 503 (a CRD just changed, its storage is re-initialising). */
export const whileUnavailable = <A>(
  effect: Effect.Effect<A, Errors.KubeError>
): Effect.Effect<A, Errors.KubeError> =>
  effect.pipe(
    Effect.retry({
      while: (error) => error._tag === "Unavailable",
      schedule: Schedule.spaced("200 millis"),
      times: 150
    })
  )

/** Installs the permissive CRDs (server-side apply, forced, as `e2e-fuzz`) and waits until they are in force. */
export const installPermissiveCrds = async (kubectl: Kubectl): Promise<void> => {
  const list = {
    apiVersion: "v1",
    kind: "List",
    items: [permissiveCrd(tenantCrd()), permissiveCrd(planCrd())]
  }
  await kubectl.ok(
    ["apply", "--server-side", "--force-conflicts", "--field-manager", "e2e-fuzz", "-f", "-"],
    JSON.stringify(list)
  )
  await eventually("the permissive CRDs in force", () => crdsInForce(kubectl, "taken"), Boolean)
}

/** `tenant-operator install`: the shipped CRDs again (server-side apply, forced); then waits until they are in force. */
export const installShippedCrds = async (kubectl: Kubectl): Promise<void> => {
  await installOperator(kubectl.kubeconfig)
  await eventually("the shipped CRDs in force", () => crdsInForce(kubectl, "invalid"), Boolean)
}
