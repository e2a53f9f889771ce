/**
 * The Kubernetes object model the framework reasons about: objects, their types, references,
 * keys and ownership. Plain data and pure functions only; nothing here talks to a cluster.
 */
import type { Schema } from "effect"
import type { ManagedFieldsEntry } from "./ManagedFields.ts"

/** Object metadata, as much of `metav1.ObjectMeta` as a controller reads or writes. */
export interface ObjectMeta {
  readonly name: string
  readonly namespace?: string | undefined
  readonly uid?: string | undefined
  readonly resourceVersion?: string | undefined
  readonly generation?: number | undefined
  readonly creationTimestamp?: string | undefined
  readonly deletionTimestamp?: string | undefined
  readonly labels?: Readonly<Record<string, string>> | undefined
  readonly annotations?: Readonly<Record<string, string>> | undefined
  readonly ownerReferences?: ReadonlyArray<OwnerReference> | undefined
  readonly finalizers?: ReadonlyArray<string> | undefined
  /** Server-side apply's record of who owns which field; caches keep only their controllers' entries. */
  readonly managedFields?: ReadonlyArray<ManagedFieldsEntry> | undefined
}

/** `metav1.OwnerReference`. */
export interface OwnerReference {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly uid: string
  readonly controller?: boolean | undefined
  readonly blockOwnerDeletion?: boolean | undefined
}

/** Any Kubernetes object: the type fields, metadata, and whatever body its kind has. */
export interface KubeObject {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: ObjectMeta
  readonly [field: string]: unknown
}

/**
 * A kind the framework can watch and write: its group/version/kind, REST plural and scope, and
 * the Schema its objects decode by (`Decode`); without one, objects are taken as they come.
 */
export interface ResourceType<T extends KubeObject = KubeObject> {
  /** `""` for the core group. */
  readonly group: string
  readonly version: string
  readonly kind: string
  /** The REST resource name, e.g. `namespaces`. */
  readonly plural: string
  readonly namespaced: boolean
  readonly schema?: Schema.Decoder<T> | undefined
}

/** Points at one object. Version-free in its key: the same object read through two versions is one object. */
export interface ObjectRef {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly namespace?: string | undefined
}

/** A stable string identity for an object: `group/Kind/namespace/name` (namespace empty when cluster-scoped). */
export type ObjectKey = string

/** The label every object written by a Kleff controller carries. */
export const managedByLabel = "app.kubernetes.io/managed-by"

export const apiVersionOf = (type: ResourceType): string =>
  type.group === "" ? type.version : `${type.group}/${type.version}`

/** The group of an `apiVersion`: `""` for `v1`, `apps` for `apps/v1`. */
export const groupOf = (apiVersion: string): string => {
  const slash = apiVersion.indexOf("/")
  return slash === -1 ? "" : apiVersion.slice(0, slash)
}

/** Whether `apiVersion` is in `group` (`v1` is in `""`), without building the group's string. */
export const isInGroup = (apiVersion: string, group: string): boolean =>
  group === ""
    ? apiVersion.indexOf("/") === -1
    : apiVersion.length > group.length &&
      apiVersion.charCodeAt(group.length) === 47 &&
      apiVersion.startsWith(group)

/**
 * A lookup of values keyed `group/Kind` by an object's `apiVersion` and `kind`, without building
 * the key (`group/Kind` strings are built once, here): for lookups on every child of every plan.
 */
export const byGroupKind = <V>(
  entries: Iterable<readonly [groupKind: string, value: V]>
): ((apiVersion: string, kind: string) => V | undefined) => {
  const byKind = new Map<string, Array<{ readonly group: string; readonly value: V }>>()
  for (const [groupKind, value] of entries) {
    const slash = groupKind.indexOf("/")
    const kind = groupKind.slice(slash + 1)
    const groups = byKind.get(kind) ?? []
    groups.push({ group: groupKind.slice(0, slash), value })
    byKind.set(kind, groups)
  }
  return (apiVersion, kind) => {
    for (const entry of byKind.get(kind) ?? []) if (isInGroup(apiVersion, entry.group)) return entry.value
    return undefined
  }
}

/** Whether two `apiVersion`s name the same group (`apps/v1` and `apps/v1beta2`). */
export const sameGroup = (a: string, b: string): boolean => a === b || groupOf(a) === groupOf(b)

export const refOf = (object: KubeObject): ObjectRef => ({
  apiVersion: object.apiVersion,
  kind: object.kind,
  name: object.metadata.name,
  namespace: object.metadata.namespace
})

/** `Kind name`, or `Kind namespace/name`: an object as messages and logs name it. */
export const describeRef = (ref: ObjectRef): string =>
  ref.namespace === undefined || ref.namespace === ""
    ? `${ref.kind} ${ref.name}`
    : `${ref.kind} ${ref.namespace}/${ref.name}`

export const keyOfRef = (ref: ObjectRef): ObjectKey =>
  `${groupOf(ref.apiVersion)}/${ref.kind}/${ref.namespace ?? ""}/${ref.name}`

export const keyOf = (object: KubeObject): ObjectKey =>
  `${groupOf(object.apiVersion)}/${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`

/** The key of any object of `type` at `name` (and `namespace`, for namespaced types). */
export const keyOfType = (type: ResourceType, name: string, namespace?: string): ObjectKey =>
  `${type.group}/${type.kind}/${type.namespaced ? (namespace ?? "") : ""}/${name}`

export const isOfType = (object: KubeObject, type: ResourceType): boolean =>
  object.kind === type.kind && isInGroup(object.apiVersion, type.group)

/** The controller owner reference that makes `owner` the controller of a child. */
export const controllerReference = (owner: KubeObject): OwnerReference => ({
  apiVersion: owner.apiVersion,
  kind: owner.kind,
  name: owner.metadata.name,
  uid: owner.metadata.uid ?? "",
  controller: true,
  blockOwnerDeletion: true
})

/** True when `object` names `owner` as its controller, checked by UID (names can be reused; UIDs are not). */
export const isControlledBy = (object: KubeObject, owner: KubeObject): boolean => {
  const uid = owner.metadata.uid
  return (
    uid !== undefined &&
    uid !== "" &&
    (object.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid && ref.controller === true)
  )
}

/** The UID of the object's controller, if it has one. */
export const controllerUidOf = (object: KubeObject): string | undefined => {
  for (const ref of object.metadata.ownerReferences ?? []) if (ref.controller === true) return ref.uid
  return undefined
}

export const isDeleting = (object: KubeObject): boolean => object.metadata.deletionTimestamp !== undefined

export const hasFinalizer = (object: KubeObject, finalizer: string): boolean =>
  (object.metadata.finalizers ?? []).includes(finalizer)

/** True for a core `Namespace`. */
export const isNamespace = (object: KubeObject): boolean =>
  object.kind === "Namespace" && object.apiVersion === "v1"

/**
 * `object` as a child of `primary`: its controller reference (replacing any reference to the same
 * UID) and the `app.kubernetes.io/managed-by` label set to `managedBy` (the controller's name).
 */
export const ownedBy = <A extends KubeObject>(primary: KubeObject, object: A, managedBy: string): A => {
  const reference = controllerReference(primary)
  const held = object.metadata.ownerReferences
  return {
    ...object,
    metadata: {
      ...object.metadata,
      labels: { ...object.metadata.labels, [managedByLabel]: managedBy },
      ownerReferences:
        held === undefined ? [reference] : [...held.filter((ref) => ref.uid !== reference.uid), reference]
    }
  }
}
