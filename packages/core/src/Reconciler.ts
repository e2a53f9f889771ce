/**
 * The definition a controller supplies: which kind it reconciles, which kinds it owns, and three
 * pure functions: `decide` (the one decision of a reconcile), `desired` (what should exist, from
 * that decision) and `status` (what to report, from the same decision). Everything else —
 * decoding, diffing, field ownership, ordering, ownership safety, finalizers, condition
 * bookkeeping, and all I/O — is the framework's. A new controller is one `Reconciler` value plus
 * its `desired()` functions.
 */
import type { ConditionInput } from "./Conditions.ts"
import type { Decoded, InvalidObject } from "./Decode.ts"
import type { KubeObject, ObjectKey, ObjectRef, ResourceType } from "./Object.ts"

/** A consistent, read-only view of the cluster as a cache holds it for one primary, as stored (not decoded). */
export interface Snapshot {
  readonly primary: KubeObject
  /** Every cached object whose controller owner reference is the primary's UID, of any owned type. */
  readonly owned: ReadonlyArray<KubeObject>
  /**
   * Any cached object by reference, owned or not. `key`, when given, is `keyOfRef(ref)`: a caller
   * that has built it already (the planner, for every desired child) saves building it again.
   */
  readonly get: (ref: ObjectRef, key?: ObjectKey) => KubeObject | undefined
}

/** What a reconciler sees: the snapshot with its primary decoded, and typed reads of other objects. */
export interface Observed<P extends KubeObject = KubeObject> {
  /** The primary, decoded by its type's schema. */
  readonly primary: P
  /** The primary as stored (metadata the schema leaves out, such as owner references, is here). */
  readonly object: KubeObject
  /** Every cached object whose controller owner reference is the primary's UID, of any owned type. */
  readonly owned: ReadonlyArray<KubeObject>
  /**
   * Any cached object by reference, owned or not: the current state at a desired child's name
   * (to tell a foreign object from ours) and objects the primary refers to (a Tenant's Plan).
   */
  readonly get: (ref: ObjectRef) => KubeObject | undefined
  /** The cached object of `type` at `name`, decoded by its schema (memoised per version); `undefined` when absent. */
  readonly read: <T extends KubeObject>(
    type: ResourceType<T>,
    name: string,
    namespace?: string
  ) => Decoded<T> | undefined
  /**
   * The time of this reconcile, RFC 3339: the one the planner stamps on condition transitions.
   * For decisions that depend on time (how long ago a status field was written); a reconciler
   * that reads it still has no clock of its own, so the same snapshot and time give the same plan.
   */
  readonly now: string
}

/** What should exist for a primary. */
export interface Desired {
  /**
   * The children that should exist, in canonical form (quantities as the API server stores
   * them), each carrying the fields this controller manages and nothing else. Build them with
   * `ownedBy` so they carry the controller reference and managed-by label.
   */
  readonly objects: ReadonlyArray<KubeObject>
  /**
   * Owned objects of these types are left alone even when not desired: their desired state is
   * unknown for now (say, a referenced Plan is missing), and removing them would be a silent
   * change the user did not ask for. By default every owned object that is not desired is deleted.
   */
  readonly retain?: ReadonlyArray<ResourceType> | undefined
  /** Reconcile the primary again after this long even if nothing changes (periodic work); never if undefined. */
  readonly recheckAfterMillis?: number | undefined
}

/** A desired object that cannot be written because a foreign object (not controlled by the primary) holds its name. */
export interface Conflict {
  readonly desired: KubeObject
  readonly existing: KubeObject
}

/** What planning found, for `status()` to turn into conditions. */
export interface Outcome {
  /** The snapshot planned from, as stored. */
  readonly snapshot: Snapshot
  /** `undefined` while the primary is being deleted. */
  readonly desired: Desired | undefined
  /** Desired objects blocked by a foreign object; never written, never adopted. */
  readonly conflicts: ReadonlyArray<Conflict>
  /** Desired objects skipped because they live in a namespace that is itself in conflict. */
  readonly blocked: ReadonlyArray<KubeObject>
  /**
   * The keys of the desired children this plan applies: absent, or lacking what is desired
   * (`Diff.needsApply`). A status reads it instead of comparing each child again. Empty while
   * deleting.
   */
  readonly toApply: ReadonlySet<ObjectKey>
  /** True while the primary carries a deletionTimestamp. */
  readonly deleting: boolean
  /** Owned objects still present while deleting (the finalizer stays until this is empty). */
  readonly remaining: ReadonlyArray<KubeObject>
  /** While deleting: why the reconciler keeps every child for now (its `holdDeletion`); undefined otherwise. */
  readonly held?: DeletionHold | undefined
  /** A write of this reconcile the API server refused for good (see `Refusal`); undefined otherwise. */
  readonly refused?: Refusal | undefined
}

/**
 * A write the API server refused in a way retrying cannot fix by itself (the object is invalid,
 * the controller is forbidden to write it, an admission policy denied it, a foreign object holds
 * its name): reported on the primary's status, and tried again only slowly. Which errors are
 * refusals is the runtime's call (`Reconcile.Port.refusal`).
 */
export interface Refusal {
  /** The object whose write was refused (the primary itself for a finalizer write). */
  readonly ref: ObjectRef
  /** Why, in CamelCase, as the API server classified it: `Invalid`, `Forbidden`, `AlreadyExists`… */
  readonly reason: string
  /** The API server's own message. */
  readonly message: string
}

/** Why a deleting primary's children are kept for now: reported in its status, planned as a Warning event. */
export interface DeletionHold {
  /** A condition reason, in CamelCase. */
  readonly reason: string
  /** For a person: why nothing is deleted, and what to do about it. */
  readonly message: string
}

/** The status a controller reports: its own fields plus conditions (merged by the framework). */
export interface StatusReport {
  /** Top-level `.status` fields other than `conditions` and `observedGeneration`. */
  readonly fields: Readonly<Record<string, unknown>>
  /** The conditions as they are now; `lastTransitionTime` and `observedGeneration` are filled in by the framework. */
  readonly conditions: ReadonlyArray<ConditionInput>
}

/**
 * Another kind the primary depends on (a Tenant's Plan). The runtime indexes primaries by the
 * objects they refer to (`refersTo`), so a change to a referenced object requeues exactly the
 * primaries under its key, found by lookup, never by scanning every primary.
 */
export interface Reference {
  readonly type: ResourceType
  /**
   * The one object of `type` the primary reads, when it reads only one (say, its own
   * CustomResourceDefinition): the kind is then watched and listed by that name alone
   * (`metadata.name` field selector), so nothing else of the kind is cached and RBAC can grant
   * that one object. Ignored when the reconciler also owns the kind or refers to another of its objects.
   */
  readonly name?: string | undefined
  /**
   * Pure: the keys (`keyOfType(type, name, namespace)`) of the objects of `type` this primary
   * reads, from the primary as stored (it may not decode). Computed when a primary enters or
   * changes in the cache, never per referenced change.
   */
  readonly refersTo: (primary: KubeObject) => Iterable<ObjectKey>
  /** Pure: whether this version of a referenced object concerns its primaries at all. Default: every change does. */
  readonly matters?: ((object: KubeObject) => boolean) | undefined
}

/**
 * A controller. `D` is what `decide` concludes about a primary: computed once per reconcile, then
 * handed to both `desired` and `status`, so the two can never disagree and need no side channel.
 */
export interface Reconciler<P extends KubeObject = KubeObject, D = unknown> {
  /** The controller's name: the field manager of every write it makes, its event source and its metric label. */
  readonly name: string
  readonly primary: ResourceType<P>
  /**
   * The kinds of children it creates; their changes requeue the owning primary. Also the order
   * it writes them in: within Namespaces, other cluster-scoped kinds and namespaced kinds, a
   * kind listed earlier is created (and updated) before one listed later, and deleted after it.
   * List what guards a namespace before what grants in it (say, a NetworkPolicy before the
   * RoleBinding that lets someone in), and a ResourceQuota after the kinds it counts: every
   * counted create after it waits on the API server's quota admission to update its usage.
   */
  readonly owned: ReadonlyArray<ResourceType>
  /**
   * The owned kinds whose `status` it reads (in `decide`, `desired`, `status` or `holdDeletion`).
   * A change to an object of another owned kind that leaves all but its status as it was (another
   * controller reporting on it: the quota controller on a ResourceQuota) cannot change the plan
   * (the planner never compares status), so it requeues nothing. Undefined: every owned kind, so
   * any change requeues. A reconciler that starts reading a kind's status must list the kind.
   */
  readonly readsStatusOf?: ReadonlyArray<ResourceType> | undefined
  /**
   * The `app.kubernetes.io/managed-by` value every desired child carries (`ownedBy` stamps it):
   * the runtime watches owned kinds through it, so it caches its own children and nothing else
   * of their kinds. An object the primary controls that carries another value is another
   * controller's child, never this one's to delete or wait for: two controllers of one primary
   * with their own values never remove each other's. Default: `name`. Controllers sharing a
   * value share those caches and children.
   */
  readonly managedBy?: string | undefined
  /** Kinds it reads through `observed.get` whose changes must requeue primaries (none if undefined). */
  readonly references?: ReadonlyArray<Reference> | undefined
  /** The finalizer it holds on every live primary until its owned objects are gone; none if undefined. */
  readonly finalizer?: string | undefined
  /**
   * Pure: whether to keep a deleting primary's children for now instead of deleting them (say,
   * its CustomResourceDefinition is being deleted, which deletes every primary whatever their
   * users meant). While it holds, nothing is deleted and the finalizer stays unless no owned child
   * remains; the hold is reported (`Outcome.held`, one Warning event) and looked at again with
   * backoff, or at once when a referenced object changes. Reads the snapshot as stored, so it
   * holds for a primary that does not decode too. Never holds if undefined.
   */
  readonly holdDeletion?: ((snapshot: Snapshot) => DeletionHold | undefined) | undefined
  /** Pure: the one decision about a live, decoded primary, from which `desired` and `status` both derive. */
  readonly decide: (observed: Observed<P>) => D
  /** Pure: what should exist for this primary. */
  readonly desired: (decision: D, observed: Observed<P>) => Desired
  /**
   * Pure: what to report, given the decision and what planning found (`decision` is undefined
   * while the primary is being deleted: nothing is decided then). Without it the framework never
   * writes the primary's status (for primaries whose status belongs to someone else).
   */
  readonly status?: ((decision: D | undefined, outcome: Outcome) => StatusReport) | undefined
  /**
   * Pure: what to report about a primary that does not decode by its type's schema (nothing is
   * created or removed for it meanwhile). Default: a `Ready` condition, False, reason `InvalidSpec`.
   */
  readonly invalid?: ((problem: InvalidObject, object: KubeObject) => StatusReport) | undefined
  /**
   * While a primary waits (for its children to go, or for a conflict to clear), check again this
   * often; when it waits on something that began a while ago (a child terminating, a held
   * deletion), as long again as that has taken, up to `maxWaitMillis`. Default 5 s.
   */
  readonly waitMillis?: number | undefined
}
