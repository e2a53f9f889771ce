/**
 * What a plan asks the runtime to do, as data. The interpreter in `@kleff/k8s` executes these
 * in order against the API server; the `Simulator` executes them against an in-memory cluster.
 * Nothing here performs the action.
 */
import { Data } from "effect"
import type { KubeObject, ObjectRef } from "./Object.ts"

export type Action = Data.TaggedEnum<{
  /**
   * Server-side apply `object` (its managed fields only) under the controller's field manager,
   * with force. `create` says whether the object is absent from the snapshot (for events and metrics).
   */
  Apply: {
    readonly object: KubeObject
    readonly create: boolean
    /**
     * For an update (`create: false`): the UID of the object the plan saw and compared against,
     * so the runtime can refuse to apply over a different object that took its name since.
     */
    readonly uid?: string | undefined
  }
  /** Delete the object, only if it still has `uid` (a UID precondition). */
  Delete: { readonly ref: ObjectRef; readonly uid: string }
  /** Add `finalizer` to the primary. */
  AddFinalizer: { readonly ref: ObjectRef; readonly uid: string; readonly finalizer: string }
  /** Remove `finalizer` from the primary. */
  RemoveFinalizer: { readonly ref: ObjectRef; readonly uid: string; readonly finalizer: string }
  /**
   * Server-side apply `status` to the primary's status subresource under the controller's field
   * manager: the fields and conditions it reports, and nothing another controller reports (see
   * `Status`). `uid` names the primary the plan saw; a status apply cannot be conditional on it
   * (the API server ignores metadata in a status write), so a Tenant re-created under the same
   * name in between gets this status until its own reconcile, which follows its creation.
   */
  ApplyStatus: {
    readonly ref: ObjectRef
    readonly uid: string
    readonly status: Readonly<Record<string, unknown>>
  }
  /** Record a Kubernetes Event on `regarding`. */
  Event: {
    readonly regarding: ObjectRef
    readonly uid: string
    readonly type: "Normal" | "Warning"
    readonly reason: string
    readonly message: string
  }
  /** Reconcile this primary again after `afterMillis`, even if nothing changes. */
  Requeue: { readonly afterMillis: number }
}>

export const Action = Data.taggedEnum<Action>()

/** Actions that change the cluster (everything but `Requeue`). A converged primary plans none. */
export const isWrite = (action: Action): boolean => action._tag !== "Requeue"
