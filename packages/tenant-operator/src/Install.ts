/**
 * Installs what the operator needs in a cluster, by server-side apply: the CRDs (generated from
 * the schemas, the one source of truth), the cluster-wide objects of `deploy/cluster` (the
 * tenant ClusterRole, the trusted-registries and tenant-services policies, the managed-objects
 * policy and the deletion-protection policy with their bindings), and optionally the sample
 * Plans. For
 * development clusters and `npm start`; a production install is `kubectl apply -k deploy`.
 * It waits for the CRDs to be served before applying Plans. It never deletes anything.
 */
import { readFile } from "node:fs/promises"
import { Kinds, type KubeObject, keyOf, type ResourceType } from "@kleff/core"
import { Client, type Errors } from "@kleff/k8s"
import { Effect, Schedule } from "effect"
import { parseAllDocuments } from "yaml"
import { planCrd, tenantCrd } from "./api/crds.ts"
import { PlanType } from "./api/Plan.ts"

const deployDirectory = new URL("../../../deploy/", import.meta.url)

/** The kinds the install writes, by `group/Kind`. */
const installable = new Map<string, ResourceType>(
  [
    Kinds.CustomResourceDefinition,
    Kinds.ClusterRole,
    Kinds.ValidatingAdmissionPolicy,
    Kinds.ValidatingAdmissionPolicyBinding,
    PlanType
  ].map((type) => [`${type.group}/${type.kind}`, type])
)

export const clusterFiles = [
  "cluster/tenant-owner-clusterrole.yaml",
  "cluster/trusted-registries-policy.yaml",
  "cluster/tenant-services-policy.yaml",
  "cluster/managed-objects-policy.yaml",
  "cluster/tenant-deletion-protection-policy.yaml"
]
export const samplePlanFiles = ["samples/plan-free.yaml", "samples/plan-basic.yaml", "samples/plan-pro.yaml"]

const readObjects = (file: string) =>
  Effect.promise(() => readFile(new URL(file, deployDirectory), "utf8")).pipe(
    Effect.map((source) =>
      parseAllDocuments(source)
        .map((document) => document.toJS() as KubeObject | null)
        .filter((object): object is KubeObject => object !== null)
    )
  )

const apply = Effect.fnUntraced(function* (object: KubeObject) {
  const client = yield* Client.Client
  const group = object.apiVersion.includes("/") ? object.apiVersion.split("/")[0] : ""
  const type = installable.get(`${group}/${object.kind}`)
  if (type === undefined) return yield* Effect.die(new Error(`install: cannot install a ${object.kind}`))
  yield* client.apply(type, object, { fieldManager: "kleff-install" })
  yield* Effect.logInfo(`applied ${keyOf(object)}`)
})

/** Until the API server serves Tenants and Plans (CRDs established and in discovery). */
const crdsServed = Effect.gen(function* () {
  const client = yield* Client.Client
  yield* client.list(PlanType, { limit: 1 })
}).pipe(Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 150 }))

export const install = Effect.fnUntraced(function* (options: {
  readonly samples: boolean
}): Effect.fn.Return<void, Errors.KubeError, Client.Client> {
  for (const crd of [tenantCrd(), planCrd()]) yield* apply(crd)
  for (const file of clusterFiles) yield* Effect.forEach(yield* readObjects(file), apply)
  yield* crdsServed
  if (options.samples) {
    for (const file of samplePlanFiles) yield* Effect.forEach(yield* readObjects(file), apply)
  }
})
