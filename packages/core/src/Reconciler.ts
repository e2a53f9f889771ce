/**
 * The definition a controller supplies: which kind it reconciles, which kinds it owns, and two
 * pure functions, `desired` (what should exist) and `status` (what to report). Everything else —
 * diffing, ordering, ownership safety, finalizers, condition bookkeeping, and all I/O — is the
 * framework's. A new controller is one `Reconciler` value plus its `desired()` functions.
 */
import type { ConditionInput } from "./Conditions.ts"
import type { KubeObject, ObjectRef, ResourceType } from "./Object.ts"

/** A consistent, read-only view of the cluster as the controller's cache holds it for one primary. */
export interface Observed<P extends KubeObject = KubeObject> {
  readonly primary: P
  /** Every cached object whose controller owner reference is the primary's UID, of any owned type. */
  readonly owned: ReadonlyArray<KubeObject>
  /**
   * Any cached object by reference, owned or not: the current state at a desired child's name
   * (to tell a foreign object from ours) and objects the primary refers to (a Tenant's Plan).
   */
  readonly get: (ref: ObjectRef) => KubeObject | undefined
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
}

/** A desired object that cannot be written because a foreign object (not controlled by the primary) holds its name. */
export interface Conflict {
  readonly desired: KubeObject
  readonly existing: KubeObject
}

/** What planning found, for `status()` to turn into conditions. */
export interface Outcome<P extends KubeObject = KubeObject> {
  readonly observed: Observed<P>
  /** `undefined` while the primary is being deleted. */
  readonly desired: Desired | undefined
  /** Desired objects blocked by a foreign object; never written, never adopted. */
  readonly conflicts: ReadonlyArray<Conflict>
  /** Desired objects skipped because they live in a namespace that is itself in conflict. */
  readonly blocked: ReadonlyArray<KubeObject>
  /** True while the primary carries a deletionTimestamp. */
  readonly deleting: boolean
  /** Owned objects still present while deleting (the finalizer stays until this is empty). */
  readonly remaining: ReadonlyArray<KubeObject>
}

/** The status a controller reports: its own fields plus conditions (merged by the framework). */
export interface StatusReport {
  /** Top-level `.status` fields other than `conditions` and `observedGeneration`. */
  readonly fields: Readonly<Record<string, unknown>>
  /** The conditions as they are now; `lastTransitionTime` and `observedGeneration` are filled in by the framework. */
  readonly conditions: ReadonlyArray<ConditionInput>
}

/**
 * Another kind the primary depends on (a Tenant's Plan): changes to such an object requeue the
 * primaries `toPrimaries` names. Pure; `primaries` is the cached list of primaries.
 */
export interface Reference<P extends KubeObject = KubeObject> {
  readonly type: ResourceType
  readonly toPrimaries: (object: KubeObject, primaries: ReadonlyArray<P>) => Iterable<string>
}

export interface Reconciler<P extends KubeObject = KubeObject> {
  /** The controller's name: its field manager, its event source and its metric label. */
  readonly name: string
  readonly primary: ResourceType<P>
  /** The kinds of children it creates; their changes requeue the owning primary. */
  readonly owned: ReadonlyArray<ResourceType>
  /** Kinds it reads through `observed.get` whose changes must requeue primaries (none if undefined). */
  readonly references?: ReadonlyArray<Reference<P>> | undefined
  /** The finalizer it holds on every live primary until its owned objects are gone; none if undefined. */
  readonly finalizer?: string | undefined
  /** Pure: what should exist for this primary. */
  readonly desired: (primary: P, observed: Observed<P>) => Desired
  /**
   * Pure: what to report, given what planning found. Without it the framework never writes the
   * primary's status (for primaries whose status belongs to someone else, such as a Namespace).
   */
  readonly status?: ((primary: P, outcome: Outcome<P>) => StatusReport) | undefined
  /** While a primary waits (for its children to go, or for a conflict to clear), check again this often. Default 5 s. */
  readonly waitMillis?: number | undefined
}
