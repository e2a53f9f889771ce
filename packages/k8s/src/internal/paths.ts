/**
 * REST paths of the Kubernetes API for core's `ResourceType`: the collection, one object, a
 * subresource, and the names kubectl and the errors use for a resource. Pure string building.
 *
 * It must not know about HTTP (methods, queries, bodies) or about any particular resource: every
 * path follows from group, version, plural and scope alone.
 */
import type { ResourceType } from "@kleff/core"

/** `plural` for the core group, `plural.group` otherwise: how kubectl names a resource. */
export const resourceName = (type: ResourceType): string =>
  type.group === "" ? type.plural : `${type.plural}.${type.group}`

/** `v1` for the core group, `group/version` otherwise: an object's `apiVersion`. */
export const apiVersion = (type: ResourceType): string =>
  type.group === "" ? type.version : `${type.group}/${type.version}`

const groupVersionPath = (type: ResourceType): string =>
  type.group === "" ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`

/** The collection path: all namespaces when `namespace` is undefined (or the type is cluster-scoped). */
export const collectionPath = (type: ResourceType, namespace?: string | undefined): string =>
  type.namespaced && namespace !== undefined && namespace !== ""
    ? `${groupVersionPath(type)}/namespaces/${encodeURIComponent(namespace)}/${type.plural}`
    : `${groupVersionPath(type)}/${type.plural}`

/** The path of one object, or of its subresource (`status`). */
export const objectPath = (
  type: ResourceType,
  name: string,
  namespace?: string | undefined,
  subresource?: string | undefined
): string =>
  `${collectionPath(type, namespace)}/${encodeURIComponent(name)}${subresource === undefined ? "" : `/${subresource}`}`
