/**
 * Executes a core `Plan` against the API server, action by action, in order, stopping at the
 * first failure (the plan is recomputed from a fresh snapshot on retry, so nothing half-done is
 * ever "continued"). The only module that turns decisions into writes; it decides nothing.
 *
 * - `Apply` of an object absent from the snapshot is a create-only server-side apply: it carries
 *   a `resourceVersion` precondition that no stored object can meet, so if a foreign object
 *   appeared at that name meanwhile the API server refuses it (409 Conflict) instead of the apply
 *   quietly taking it over. Not a `POST`: a create's fields would belong to the field manager's
 *   `Update` entry, which later applies can never release, so a field the controller stops
 *   wanting (a quota line its plan dropped) would stay forever.
 *   Updates of owned objects are server-side applies under the controller's field manager, with
 *   force, carrying the UID the plan saw (the API server refuses an apply whose UID differs from
 *   the stored object's).
 *   A create refused because the name is taken (a cache watches only its controller's own
 *   children, by label, so it cannot see a foreign object there) reads that object once: if it is
 *   the primary's own (controlled by its UID: say, someone removed its managed-by label), it is
 *   applied over like any owned child, which puts the label back; otherwise the create is refused.
 * - A write the API server refuses for good (`Invalid`, `Forbidden`, a 400, a name held by a
 *   foreign object) fails as `Refused`, naming the object and carrying the server's message, for
 *   the reconcile to report on the primary (`Reconcile.Port.refusal`) instead of retrying hot.
 * - Deletes carry a UID precondition; a child already gone counts as deleted.
 * - Every object the API server returns is written through to the cache, and every child it
 *   deleted leaves the cache (unless the answer shows it still terminating), so the next snapshot
 *   sees this reconcile's own writes even before their watch events arrive (no re-create, no
 *   second status patch, no child counted present after its delete).
 * - Every write names the controller's own field manager (`context.controller`), so two
 *   controllers in one process own their fields apart and never strip each other's.
 * - Events are best effort: a failed Event is logged, never fails the reconcile.
 */
import {
  type Action,
  controllerUidOf,
  describeRef,
  groupOf,
  Kinds,
  type KubeObject,
  type ObjectRef,
  type Refusal,
  type ResourceType,
  refOf
} from "@kleff/core"
import { Effect, Schema } from "effect"
import { Client } from "./Client.ts"
import type { KubeError } from "./Errors.ts"
import type { Deletion } from "./Informers.ts"

/** A write the API server refused for good; `error` is its answer. */
export class Refused extends Schema.TaggedError<Refused>()("Refused", {
  ref: Schema.Struct({
    apiVersion: Schema.String,
    kind: Schema.String,
    name: Schema.String,
    namespace: Schema.optional(Schema.String)
  }),
  reason: Schema.String,
  message: Schema.String
}) {
  get refusal(): Refusal {
    return { ref: this.ref, reason: this.reason, message: this.message }
  }
}

/** What `execute` fails with: the API server's error, or its refusal of a write. */
export type WriteError = KubeError | Refused

/** Whether the API server refused a write for good: retrying the same write cannot succeed. */
export const isRefusal = (error: KubeError): boolean =>
  error._tag === "Invalid" || error._tag === "Forbidden" || (error._tag === "ApiError" && error.code === 400)

/** `error` as a refusal of the write to `ref` when it is one; otherwise unchanged. */
const refusing =
  (ref: ObjectRef) =>
  (error: WriteError): Effect.Effect<never, WriteError> =>
    error._tag !== "Refused" && isRefusal(error)
      ? Effect.fail(
          new Refused({ ref: refOnly(ref), reason: error.reason || error._tag, message: error.message })
        )
      : Effect.fail(error)

const refOnly = (ref: ObjectRef): Refused["ref"] =>
  ref.namespace === undefined
    ? { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name }
    : { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, namespace: ref.namespace }

/** Finds the `ResourceType` of an object by its group and kind. */
export interface TypeRegistry {
  readonly resolve: (apiVersion: string, kind: string) => ResourceType | undefined
}

export const typeRegistry = (types: Iterable<ResourceType>): TypeRegistry => {
  const byGroupKind = new Map<string, ResourceType>()
  for (const type of types) byGroupKind.set(`${type.group}/${type.kind}`, type)
  return { resolve: (apiVersion, kind) => byGroupKind.get(`${groupOf(apiVersion)}/${kind}`) }
}

/** `events.k8s.io/v1` Event. */
export const EventType: ResourceType = Kinds.Event

/** Where the interpreter reports what the API server returned, to keep the cache current. */
export type WriteThrough = (object: KubeObject) => Effect.Effect<void>

/** Where the interpreter reports a delete the API server answered (`Informers.recordDelete`). */
export type DeleteThrough = (deletion: Deletion) => Effect.Effect<void>

export interface InterpreterContext {
  /** The controller's name: the field manager of every write. */
  readonly controller: string
  /** The instance writing events (`reportingInstance`): pod or host name. */
  readonly instance: string
  readonly types: TypeRegistry
  /** The primary as observed; replaced by the API server's answer after each primary write. */
  readonly primary: KubeObject
  readonly writeThrough: WriteThrough
  readonly deleteThrough: DeleteThrough
  /** The current time, RFC 3339 with microseconds, for Event `eventTime`. */
  readonly now: string
}

export class UnknownType extends Error {
  override readonly name = "UnknownType"
}

const resolveType = (context: InterpreterContext, ref: { apiVersion: string; kind: string }) => {
  const type = context.types.resolve(ref.apiVersion, ref.kind)
  return type === undefined
    ? Effect.die(
        new UnknownType(
          `${context.controller}: no resource type registered for ${ref.apiVersion} ${ref.kind}; ` +
            "add it to the reconciler's owned types"
        )
      )
    : Effect.succeed(type)
}

const ignoreNotFound = <A>(effect: Effect.Effect<A, KubeError, Client>) =>
  effect.pipe(
    Effect.asVoid,
    Effect.catchTag("NotFound", () => Effect.void)
  )

/** Cluster-scoped objects' events go to `default`, as kubectl looks for them there. */
const eventNamespace = (ref: ObjectRef): string => ref.namespace ?? "default"

const eventName = (ref: ObjectRef, now: string): string =>
  `${ref.name}.${Date.parse(now).toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`.slice(
    0,
    253
  )

/**
 * The precondition of a create-only apply. An apply that creates its object ignores
 * `resourceVersion`; an apply onto an existing object must match it, and none can: 1 is etcd's
 * revision before its first write. (A UID precondition cannot do this: the API server refuses a
 * UID on an apply that creates.)
 */
const createOnlyResourceVersion = "1"

/** Executes `actions` in order; the first failure stops the rest and is returned. */
export const execute = Effect.fnUntraced(function* (
  actions: ReadonlyArray<Action>,
  context: InterpreterContext
): Effect.fn.Return<void, WriteError, Client> {
  const client = yield* Client
  let primary = context.primary
  const primaryType = yield* resolveType(context, primary)
  const remember = (object: KubeObject) => context.writeThrough(object).pipe(Effect.as(object))
  const asManager = { fieldManager: context.controller }

  for (const action of actions) {
    switch (action._tag) {
      case "Apply": {
        const type = yield* resolveType(context, action.object)
        const ref = refOf(action.object)
        // The UID the plan compared against: if another object has taken the name since, the API
        // server refuses the apply (uid is immutable) instead of it landing on that object.
        const update = (uid: string | undefined) =>
          client.apply(
            type,
            uid === undefined
              ? action.object
              : { ...action.object, metadata: { ...action.object.metadata, uid } },
            asManager
          )
        const write: Effect.Effect<KubeObject, WriteError> = action.create
          ? client
              .apply(
                type,
                {
                  ...action.object,
                  metadata: { ...action.object.metadata, resourceVersion: createOnlyResourceVersion }
                },
                asManager
              )
              .pipe(
                Effect.catchTag("Conflict", (conflict): Effect.Effect<KubeObject, WriteError> => {
                  const owner = primary.metadata.uid
                  return client.get(type, ref.name, ref.namespace).pipe(
                    Effect.catchTag("NotFound", () => Effect.fail(conflict)),
                    Effect.flatMap(
                      (existing): Effect.Effect<KubeObject, WriteError> =>
                        owner !== undefined && controllerUidOf(existing) === owner
                          ? update(existing.metadata.uid)
                          : Effect.fail(
                              new Refused({
                                ref: refOnly(ref),
                                reason: "AlreadyExists",
                                message: `${describeRef(ref)} already exists and does not belong to ${primary.kind} ${primary.metadata.name}`
                              })
                            )
                    )
                  )
                })
              )
          : update(action.uid)
        yield* write.pipe(Effect.catch(refusing(ref)), Effect.flatMap(remember))
        break
      }
      case "Delete": {
        const type = yield* resolveType(context, action.ref)
        const answer = yield* client
          .delete(type, action.ref.name, { namespace: action.ref.namespace, uid: action.uid })
          .pipe(
            Effect.catchTag("NotFound", () => Effect.undefined),
            Effect.catch(refusing(action.ref))
          )
        yield* context.deleteThrough({ ref: action.ref, uid: action.uid, answer })
        break
      }
      case "AddFinalizer":
        primary = yield* client
          .addFinalizer(primaryType, primary, action.finalizer, asManager)
          .pipe(Effect.catch(refusing(action.ref)), Effect.flatMap(remember))
        break
      case "RemoveFinalizer":
        yield* ignoreNotFound(
          client
            .removeFinalizer(primaryType, primary, action.finalizer, asManager)
            .pipe(Effect.flatMap(remember))
        )
        break
      case "ApplyStatus":
        primary = yield* client
          .apply(
            primaryType,
            {
              apiVersion: action.ref.apiVersion,
              kind: action.ref.kind,
              metadata: { name: action.ref.name, namespace: action.ref.namespace },
              status: action.status
            },
            { ...asManager, subresource: "status" }
          )
          .pipe(Effect.catch(refusing(action.ref)), Effect.flatMap(remember))
        break
      case "Event":
        yield* client
          .create(
            EventType,
            {
              apiVersion: "events.k8s.io/v1",
              kind: "Event",
              metadata: {
                name: eventName(action.regarding, context.now),
                namespace: eventNamespace(action.regarding)
              },
              eventTime: context.now,
              reportingController: `kleff.io/${context.controller}`,
              reportingInstance: context.instance,
              action: action.reason,
              reason: action.reason,
              note: action.message.slice(0, 1024),
              type: action.type,
              regarding: { ...action.regarding, uid: action.uid }
            },
            asManager
          )
          .pipe(
            Effect.asVoid,
            Effect.catch((error) =>
              Effect.logWarning("Could not record an event", error).pipe(
                Effect.annotateLogs({ reason: action.reason })
              )
            )
          )
        break
      case "Requeue":
        break
    }
  }
})
