/**
 * How the API server merges the lists of built-in kinds under server-side apply
 * (`x-kubernetes-list-type`): `atomic` (the whole list is one field, replaced as a unit; the
 * default, and what every list of a custom resource without a list type is), `set` (each scalar
 * member is a field), or `map` (each element is a field, identified by its key fields).
 *
 * Owns the table for the kinds and fields the framework and its controllers write, as a tree the
 * Simulator walks to record field sets the way the API server would. Reading a live object's
 * field set needs no table: the API server's record names its own segments (`ManagedFields`).
 * Pure data. Must not grow into a copy of the OpenAPI schema: only lists something writes.
 */
import { groupOf, type KubeObject } from "./Object.ts"

export type ListType =
  | { readonly type: "atomic" }
  | { readonly type: "set" }
  | { readonly type: "map"; readonly keys: ReadonlyArray<string> }

/** A node of the list-type tree: the list type here, the fields below, and what each list element holds. */
export interface ListTypeNode {
  readonly list?: ListType | undefined
  readonly fields?: Readonly<Record<string, ListTypeNode>> | undefined
  readonly elements?: ListTypeNode | undefined
}

const keyed = (keys: ReadonlyArray<string>, elements?: ListTypeNode): ListTypeNode => ({
  list: { type: "map", keys },
  elements
})
const set: ListTypeNode = { list: { type: "set" } }

const metadata: ListTypeNode = {
  fields: { ownerReferences: keyed(["uid"]), finalizers: set }
}

const container: ListTypeNode = {
  fields: {
    ports: keyed(["containerPort", "protocol"]),
    env: keyed(["name"]),
    volumeMounts: keyed(["mountPath"])
  }
}

const podSpec: ListTypeNode = {
  fields: {
    containers: keyed(["name"], container),
    initContainers: keyed(["name"], container),
    ephemeralContainers: keyed(["name"], container),
    volumes: keyed(["name"]),
    imagePullSecrets: keyed(["name"])
  }
}

const podTemplateSpec: ListTypeNode = { fields: { metadata, spec: podSpec } }
const workload: ListTypeNode = { fields: { metadata, spec: { fields: { template: podTemplateSpec } } } }

/** The list types of the built-in kinds, by `group/Kind`; every kind has the metadata lists. */
const builtIn: ReadonlyMap<string, ListTypeNode> = new Map([
  ["/Pod", { fields: { metadata, spec: podSpec } }],
  ["/Service", { fields: { metadata, spec: { fields: { ports: keyed(["port", "protocol"]) } } } }],
  ["apps/Deployment", workload],
  ["apps/StatefulSet", workload],
  ["apps/DaemonSet", workload],
  ["apps/ReplicaSet", workload],
  ["batch/Job", workload]
])

/**
 * The API conventions' `status.conditions`, one per `type` (a CRD declares it with
 * `x-kubernetes-list-type: map`): each controller owns the conditions it reports. Without it the
 * list is atomic and every status apply replaces the others' conditions.
 */
const status: ListTypeNode = { fields: { conditions: keyed(["type"]) } }

const anyKind: ListTypeNode = { fields: { metadata, status } }

/** The list-type tree of an object's kind (the metadata lists only, for a kind not in the table). */
export const listTypesOf = (object: KubeObject): ListTypeNode =>
  builtIn.get(`${groupOf(object.apiVersion)}/${object.kind}`) ?? anyKind

/** The subtree for field `name` below `node`. */
export const listTypeOf = (node: ListTypeNode | undefined, name: string): ListTypeNode | undefined =>
  node?.fields?.[name]
