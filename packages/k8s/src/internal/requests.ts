/**
 * What each of the client's verbs sends: method, path, query, body and content type, built from
 * core's `ResourceType` and the caller's options, and the request context its errors will name.
 * The JSON patches with preconditions (status replacement, finalizers) are composed here, and a
 * list's answer is read into a page.
 *
 * Pure: it must not send anything or read answers (that is the transport), and it must not
 * decide policy (defaults that are policy, like the field manager, come from the client).
 */
import type { KubeObject, ResourceType } from "@kleff/core"
import { Effect, Predicate } from "effect"
import type {
  ApplyOptions,
  DeleteOptions,
  JsonPatchOperation,
  ListOptions,
  ListPage,
  Patch,
  PatchOptions,
  RawRequest,
  WatchOptions,
  WriteOptions
} from "../Client.ts"
import * as Errors from "../Errors.ts"
import { apiVersion, collectionPath, objectPath, resourceName } from "./paths.ts"
import type { Exchange } from "./transport.ts"

/** What a call is about, for its errors; the namespace only for namespaced types. */
export const contextOf = (
  verb: string,
  type: ResourceType,
  name: string,
  namespace: string | undefined
): Errors.RequestContext => ({
  verb,
  resource: resourceName(type),
  name,
  namespace: type.namespaced ? namespace : undefined
})

/**
 * What a call on one object is about, and the namespace to address: required for namespaced
 * types (a typed `ApiError` without one), dropped for cluster-scoped ones.
 */
const locate = (verb: string, type: ResourceType, name: string, namespace: string | undefined) => {
  const context = contextOf(verb, type, name, namespace)
  return type.namespaced && (namespace === undefined || namespace === "")
    ? Effect.fail(
        Errors.apiError(
          { ...context, namespace: undefined },
          "NamespaceRequired",
          `${verb} ${context.resource} ${name}: the resource is namespaced, no namespace given`
        )
      )
    : Effect.succeed({ context, ns: type.namespaced ? namespace : undefined })
}

const dryRun = (on: boolean | undefined) => (on === true ? "All" : undefined)

export const get = (type: ResourceType, name: string, namespace: string | undefined) =>
  Effect.map(
    locate("get", type, name, namespace),
    ({ context, ns }): Exchange => ({ method: "GET", path: objectPath(type, name, ns), context })
  )

export const listPage = (type: ResourceType, options: ListOptions): Exchange => ({
  method: "GET",
  path: collectionPath(type, options.namespace),
  query: {
    labelSelector: options.labelSelector,
    fieldSelector: options.fieldSelector,
    limit: options.limit === undefined ? undefined : String(options.limit),
    continue: options.continue,
    resourceVersion: options.resourceVersion,
    resourceVersionMatch: options.resourceVersionMatch
  },
  context: contextOf("list", type, "", options.namespace)
})

/** A list's answer, as far as the client reads it. */
export interface ListBody {
  readonly items?: ReadonlyArray<KubeObject> | null
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string }
}

/** A page of a list; its items (which a list sends without apiVersion and kind) made self-describing. */
export const pageOf = (type: ResourceType, list: ListBody): ListPage<KubeObject> => {
  const items = list.items ?? []
  const version = apiVersion(type)
  for (const item of items) {
    const mutable = item as { apiVersion?: string; kind?: string }
    if (mutable.apiVersion === undefined) mutable.apiVersion = version
    if (mutable.kind === undefined) mutable.kind = type.kind
  }
  const next = list.metadata?.continue
  return {
    items,
    resourceVersion: list.metadata?.resourceVersion ?? "",
    continue: next === undefined || next === "" ? undefined : next
  }
}

export const watch = (type: ResourceType, options: WatchOptions): Exchange => ({
  method: "GET",
  path: collectionPath(type, options.namespace),
  query: {
    watch: "1",
    allowWatchBookmarks: options.allowWatchBookmarks === false ? undefined : "true",
    labelSelector: options.labelSelector,
    fieldSelector: options.fieldSelector,
    resourceVersion: options.resourceVersion,
    timeoutSeconds: options.timeoutSeconds === undefined ? undefined : String(options.timeoutSeconds)
  },
  context: contextOf("watch", type, "", options.namespace)
})

export const create = (type: ResourceType, object: KubeObject, fieldManager: string, options: WriteOptions) =>
  Effect.map(
    locate("create", type, object.metadata.name, object.metadata.namespace),
    ({ context, ns }): Exchange => ({
      method: "POST",
      path: collectionPath(type, ns),
      query: { fieldManager: options.fieldManager ?? fieldManager, dryRun: dryRun(options.dryRun) },
      body: JSON.stringify(object),
      context
    })
  )

/** Server-side apply; JSON is YAML, so the apply content type takes the object unchanged. */
export const apply = (type: ResourceType, object: KubeObject, fieldManager: string, options: ApplyOptions) =>
  Effect.map(
    locate("apply", type, object.metadata.name, object.metadata.namespace),
    ({ context, ns }): Exchange => ({
      method: "PATCH",
      path: objectPath(type, object.metadata.name, ns, options.subresource),
      query: {
        fieldManager: options.fieldManager ?? fieldManager,
        force: options.force === false ? undefined : "true",
        dryRun: dryRun(options.dryRun)
      },
      body: JSON.stringify(object),
      contentType: "application/apply-patch+yaml",
      context
    })
  )

const patchContentTypes = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json"
} as const

/** A patch; `verb` names the call in errors (`patch`, `patchStatus`, `addFinalizer`, …). */
export const patch = (
  verb: string,
  type: ResourceType,
  name: string,
  patch: Patch,
  fieldManager: string,
  options: PatchOptions
) =>
  Effect.map(
    locate(verb, type, name, options.namespace),
    ({ context, ns }): Exchange => ({
      method: "PATCH",
      path: objectPath(type, name, ns, options.subresource),
      query: { fieldManager: options.fieldManager ?? fieldManager, dryRun: dryRun(options.dryRun) },
      body: JSON.stringify(patch.type === "json" ? patch.operations : patch.body),
      contentType: patchContentTypes[patch.type],
      context,
      jsonPatch: patch.type === "json"
    })
  )

const uidTest = (uid: string | undefined): ReadonlyArray<JsonPatchOperation> =>
  uid === undefined || uid === "" ? [] : [{ op: "test", path: "/metadata/uid", value: uid }]

/**
 * Adds `finalizer`, testing the UID and the finalizer list as observed, so a concurrent change
 * conflicts instead of being overwritten. `undefined` when it is already present.
 */
export const addFinalizerPatch = (observed: KubeObject, finalizer: string): Patch | undefined => {
  const current = observed.metadata.finalizers ?? []
  if (current.includes(finalizer)) return undefined
  return {
    type: "json",
    operations:
      current.length === 0
        ? [
            ...uidTest(observed.metadata.uid),
            // A null test passes only while the list is absent: someone else adding one conflicts.
            { op: "test", path: "/metadata/finalizers", value: null },
            { op: "add", path: "/metadata/finalizers", value: [finalizer] }
          ]
        : [
            ...uidTest(observed.metadata.uid),
            { op: "test", path: "/metadata/finalizers", value: current },
            { op: "add", path: "/metadata/finalizers/-", value: finalizer }
          ]
  }
}

/** Removes `finalizer` (`test` the UID and the entry at its index, then `remove`). `undefined` when absent. */
export const removeFinalizerPatch = (observed: KubeObject, finalizer: string): Patch | undefined => {
  const index = (observed.metadata.finalizers ?? []).indexOf(finalizer)
  if (index === -1) return undefined
  const path = `/metadata/finalizers/${index}`
  return {
    type: "json",
    operations: [
      ...uidTest(observed.metadata.uid),
      { op: "test", path, value: finalizer },
      { op: "remove", path }
    ]
  }
}

export const del = (type: ResourceType, name: string, options: DeleteOptions) =>
  Effect.map(locate("delete", type, name, options.namespace), ({ context, ns }): Exchange => {
    const preconditions =
      options.uid === undefined && options.resourceVersion === undefined
        ? undefined
        : {
            ...(options.uid === undefined ? {} : { uid: options.uid }),
            ...(options.resourceVersion === undefined ? {} : { resourceVersion: options.resourceVersion })
          }
    const body = {
      apiVersion: "v1",
      kind: "DeleteOptions",
      propagationPolicy: options.propagationPolicy ?? "Background",
      ...(preconditions === undefined ? {} : { preconditions }),
      ...(options.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: options.gracePeriodSeconds }),
      ...(options.dryRun === true ? { dryRun: ["All"] } : {})
    }
    return { method: "DELETE", path: objectPath(type, name, ns), body: JSON.stringify(body), context }
  })

export const raw = (request: RawRequest): Exchange => ({
  method: request.method,
  path: request.path,
  query: request.query,
  body:
    request.body === undefined
      ? undefined
      : Predicate.isString(request.body)
        ? request.body
        : JSON.stringify(request.body),
  contentType: request.contentType,
  accept: request.accept ?? "application/json, */*",
  context: { verb: "request", resource: request.path, name: "" }
})
