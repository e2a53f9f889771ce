/**
 * The Lease as leader election reads and writes it (part of `LeaderElection`): the fields of its
 * spec the election uses (`LeaseRecord`), and the three calls it makes (`LeaseClient`: get,
 * create, and an update conditional on the resourceVersion, whose stale case is a
 * `LeaseConflict`). `LeaseClient.layer` implements them on the shared `Client`; tests can
 * implement them otherwise.
 *
 * Must not judge expiry or decide who leads: that is the election's state machine.
 */
import { Kinds, type KubeObject, type ResourceType } from "@kleff/core"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { Client } from "./Client.ts"
import type { KubeError } from "./Errors.ts"
import { KubeConfig, type KubeConfigError } from "./KubeConfig.ts"

/** The fields of `LeaseSpec` the election uses. Times are RFC 3339 with microseconds. */
export interface LeaseRecord {
  /** Empty when nobody holds the Lease. */
  readonly holderIdentity: string
  readonly leaseDurationSeconds: number
  readonly acquireTime: string | undefined
  readonly renewTime: string | undefined
  readonly leaseTransitions: number
}

/** A Lease as read from (or written to) the API server. */
export interface ObservedLease {
  readonly record: LeaseRecord
  readonly resourceVersion: string
}

export interface LeaseRef {
  readonly namespace: string
  readonly name: string
}

/** The Lease changed since it was read (409), or was created by someone else meanwhile. */
export class LeaseConflict extends Schema.TaggedError<LeaseConflict>()("LeaseConflict", {
  namespace: Schema.String,
  name: Schema.String,
  message: Schema.String
}) {}

/** Any other failure to read or write the Lease (network, 5xx, RBAC…). */
export class LeaseApiError extends Schema.TaggedError<LeaseApiError>()("LeaseApiError", {
  namespace: Schema.String,
  name: Schema.String,
  /** HTTP status, 0 when no response was received. */
  status: Schema.Number,
  message: Schema.String
}) {}

/** The three calls leader election makes. `updateLease` must fail with `LeaseConflict` if `resourceVersion` is stale. */
export class LeaseClient extends Context.Service<
  LeaseClient,
  {
    readonly getLease: (ref: LeaseRef) => Effect.Effect<Option.Option<ObservedLease>, LeaseApiError>
    readonly createLease: (
      ref: LeaseRef,
      record: LeaseRecord
    ) => Effect.Effect<ObservedLease, LeaseConflict | LeaseApiError>
    readonly updateLease: (
      ref: LeaseRef,
      record: LeaseRecord,
      resourceVersion: string
    ) => Effect.Effect<ObservedLease, LeaseConflict | LeaseApiError>
  }
>()("@kleff/k8s/LeaderElection/LeaseClient") {
  /** `LeaseClient` on the shared `Client` (its connection, timeouts and request metrics). */
  static readonly layer: Layer.Layer<LeaseClient, never, Client> = Layer.effect(
    LeaseClient,
    Effect.map(Client, (client) => leaseClientOn(client))
  )

  /** From a kubeconfig file (its current context). */
  static readonly layerFromKubeconfigFile = (file: string): Layer.Layer<LeaseClient, KubeConfigError> =>
    LeaseClient.layer.pipe(Layer.provide(Client.layer), Layer.provide(KubeConfig.layerFromFile(file)))
}

export const LeaseType: ResourceType = Kinds.Lease

const fromLease = (lease: KubeObject): ObservedLease => {
  const spec = (lease.spec ?? {}) as {
    holderIdentity?: string
    leaseDurationSeconds?: number
    acquireTime?: string
    renewTime?: string
    leaseTransitions?: number
  }
  return {
    resourceVersion: lease.metadata.resourceVersion ?? "",
    record: {
      holderIdentity: spec.holderIdentity ?? "",
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: spec.acquireTime,
      renewTime: spec.renewTime,
      leaseTransitions: spec.leaseTransitions ?? 0
    }
  }
}

/** The spec as a merge patch: absent fields are `null`, so a release clears the holder. */
const leaseSpec = (record: LeaseRecord) => ({
  holderIdentity: record.holderIdentity === "" ? null : record.holderIdentity,
  leaseDurationSeconds: record.leaseDurationSeconds,
  acquireTime: record.acquireTime ?? null,
  renewTime: record.renewTime ?? null,
  leaseTransitions: record.leaseTransitions
})

const leaseClientOn = (client: Client["Service"]): LeaseClient["Service"] => {
  const apiError = (ref: LeaseRef, error: KubeError) =>
    new LeaseApiError({ ...ref, status: error.code, message: error.message })
  const writeError = (ref: LeaseRef) => (error: KubeError) =>
    error._tag === "Conflict" ? new LeaseConflict({ ...ref, message: error.message }) : apiError(ref, error)
  return LeaseClient.of({
    getLease: (ref) =>
      client.get(LeaseType, ref.name, ref.namespace).pipe(
        Effect.map((lease) => Option.some(fromLease(lease))),
        Effect.catchTag("NotFound", () => Effect.succeedNone),
        Effect.mapError((error) => apiError(ref, error))
      ),
    createLease: (ref, record) =>
      client
        .create(LeaseType, {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: ref.name, namespace: ref.namespace },
          spec: leaseSpec(record)
        })
        .pipe(Effect.map(fromLease), Effect.mapError(writeError(ref))),
    // A resourceVersion in the patch makes it conditional: a stale one is a 409.
    updateLease: (ref, record, resourceVersion) =>
      client
        .patch(
          LeaseType,
          ref.name,
          { type: "merge", body: { metadata: { resourceVersion }, spec: leaseSpec(record) } },
          { namespace: ref.namespace }
        )
        .pipe(Effect.map(fromLease), Effect.mapError(writeError(ref)))
  })
}
