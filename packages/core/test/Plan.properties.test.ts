/**
 * Property tests of the planner against the Simulator, run through the same reconcile protocol as
 * the Controller, over arbitrary cluster states of the test tenant controller: children absent,
 * matching, drifted (edited by someone else), restated (same quantities written differently),
 * decorated by another field manager, carrying a field the controller once applied and no longer
 * desires (alone, or shared with another manager), applied by no known manager, foreign, or
 * terminating; extra owned children no longer desired; unrelated objects; a live or deleting
 * primary with any finalizers and status.
 */
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Schema } from "effect"
import {
  Action,
  Canonical,
  changeOf,
  conditionsOf,
  controllerReference,
  controllerUidOf,
  isOfType,
  isWrite,
  jsonEqual,
  type KubeObject,
  keyOf,
  keyOfRef,
  ManagedFields,
  managedByLabel,
  type Plan,
  plan,
  type Reconciler,
  refOf,
  Simulator,
  type Snapshot,
  withDesiredDigest
} from "../src/index.ts"
import {
  desiredChildren,
  managedBy,
  namespaceName,
  type Tenant,
  tenant,
  tenantFinalizer,
  tenantReconciler
} from "./fixtures/Tenant.ts"

const now = "2024-06-01T12:00:00Z"
const later = "2024-06-02T08:30:00Z"
const maxRounds = 5
const runs = { arbitrary: { runs: 200 } }

// ---------------------------------------------------------------------------------------------
// Scenarios

const childStates = [
  "absent",
  "matching",
  "drifted",
  "restated",
  "decorated",
  "dropped",
  "shared",
  "unmanaged",
  "foreign",
  "terminating"
] as const
type ChildState = (typeof childStates)[number]

const literal = <const L extends ReadonlyArray<string>>(values: L) =>
  Arbitrary.schema(Schema.Literals(values))
const boolean = Arbitrary.schema(Schema.Boolean)
const smallInt = (maximum: number) =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum })))
const childState = literal(childStates)

const scenario = Arbitrary.all({
  cpu: literal(["1", "1000m", "500m", "0.5", "2", "1.5", "1.500"]),
  memory: literal(["1Gi", "1024Mi", "512Mi", "0.5Gi", "1073741824", "2G", "2000M"]),
  configMaps: Arbitrary.array(literal(["a", "b", "c"]), { maxLength: 3 }),
  clusterRole: boolean,
  retainConfigMaps: boolean,
  primary: literal(["live", "live-finalized", "deleting", "deleting-finalized", "deleting-both"]),
  generation: smallInt(3),
  status: literal(["none", "stale", "garbage"]),
  namespace: childState,
  quota: childState,
  limitRange: childState,
  configMapStates: Arbitrary.array(childState, { minLength: 3, maxLength: 3 }),
  clusterRoleState: childState,
  extras: Arbitrary.array(literal(["old-configmap", "old-held", "old-namespace", "old-clusterrole"]), {
    maxLength: 4
  }),
  unrelated: Arbitrary.array(literal(["other-namespace", "other-tenant", "loose-reference"]), {
    maxLength: 3
  }),
  /** Sort keys for a permutation of `owned` and of what `desired()` returns. */
  order: Arbitrary.array(smallInt(999), { minLength: 32, maxLength: 32 })
})

type Scenario = typeof scenario extends Arbitrary.Arbitrary<infer A> ? A : never

const primaryUid = "uid-tenant-acme"
const otherUid = "uid-tenant-zeta"

const restatedQuantity: Readonly<Record<string, string>> = {
  "1": "1000m",
  "1000m": "1",
  "500m": "0.5",
  "0.5": "500m",
  "2": "2000m",
  "1.5": "1500m",
  "1.500": "1500m",
  "100m": "0.1",
  "10": "10000m",
  "1Gi": "1024Mi",
  "1024Mi": "1Gi",
  "512Mi": "0.5Gi",
  "0.5Gi": "512Mi",
  "1073741824": "1Gi",
  "2G": "2000M",
  "2000M": "2G"
}

const restateMap = (map: unknown): unknown =>
  typeof map === "object" && map !== null
    ? Object.fromEntries(
        Object.entries(map).map(([k, v]) => [k, typeof v === "string" ? (restatedQuantity[v] ?? v) : v])
      )
    : map

/** The same object with its quantities written another way. */
const restate = (object: KubeObject): KubeObject => {
  const spec = object.spec as Record<string, unknown> | undefined
  if (object.kind === "ResourceQuota" && spec !== undefined)
    return { ...object, spec: { ...spec, hard: restateMap(spec.hard) } }
  if (object.kind === "LimitRange" && spec !== undefined && Array.isArray(spec.limits)) {
    const limits = spec.limits.map((item: Record<string, unknown>) => ({
      ...item,
      default: restateMap(item.default),
      defaultRequest: restateMap(item.defaultRequest)
    }))
    return { ...object, spec: { ...spec, limits } }
  }
  return object
}

/** The object with a managed field edited by someone else. */
const drift = (object: KubeObject): KubeObject => {
  switch (object.kind) {
    case "Namespace":
      return {
        ...object,
        metadata: {
          ...object.metadata,
          labels: { ...object.metadata.labels, "test.kleff.io/tenant": "mallory" }
        }
      }
    case "ResourceQuota":
      return { ...object, spec: { hard: { ...(object.spec as { hard: object }).hard, "requests.cpu": "7" } } }
    case "LimitRange":
      return { ...object, spec: { limits: [{ type: "Container", default: { cpu: "3" } }] } }
    case "ConfigMap":
      return { ...object, data: { tenant: "mallory" } }
    default:
      return { ...object, rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }] }
  }
}

/** Fields another field manager applies to a child: the controller must leave them alone. */
const decoration = (object: KubeObject): KubeObject => {
  const metadata = {
    name: object.metadata.name,
    namespace: object.metadata.namespace,
    labels: { "other.io/label": "x" },
    annotations: { "other.io/note": "y" }
  }
  const base = { apiVersion: object.apiVersion, kind: object.kind, metadata }
  switch (object.kind) {
    case "ResourceQuota":
      return { ...base, spec: { hard: { services: "5" } } }
    case "ConfigMap":
      return { ...base, data: { extra: "z" } }
    default:
      return base
  }
}

/** A field the controller applied once and no longer desires (a label, a quota line, a data key). */
const withDroppedField = (object: KubeObject): KubeObject => {
  const metadata = {
    ...object.metadata,
    labels: { ...object.metadata.labels, "test.kleff.io/dropped": "yes" }
  }
  switch (object.kind) {
    case "ResourceQuota":
      return {
        ...object,
        metadata,
        spec: { hard: { ...(object.spec as { hard: object }).hard, secrets: "3" } }
      }
    case "ConfigMap":
      return { ...object, metadata, data: { ...(object.data as object), dropped: "1" } }
    case "LimitRange": {
      // Only inside an atomic list: just the digest of what was applied can tell it from a default.
      const limits = (object.spec as { limits: ReadonlyArray<object> }).limits
      return { ...object, spec: { limits: limits.map((limit) => ({ ...limit, max: { cpu: "4" } })) } }
    }
    default:
      return { ...object, metadata }
  }
}

/** The same dropped field, as another manager applies it too: it is theirs as well, so it stays. */
const sharedDecoration = (object: KubeObject): KubeObject => {
  const dropped = withDroppedField(object)
  const base = {
    apiVersion: object.apiVersion,
    kind: object.kind,
    metadata: {
      name: object.metadata.name,
      namespace: object.metadata.namespace,
      labels: { "test.kleff.io/dropped": "yes" }
    }
  }
  switch (object.kind) {
    case "ResourceQuota":
      return { ...base, spec: { hard: { secrets: "3" } } }
    case "ConfigMap":
      return { ...base, data: { dropped: (dropped.data as { dropped: string }).dropped } }
    default:
      return base
  }
}

const otherManager = "other-manager"
const editor = "kubectl-edit"

/** `object` as the controller's apply of `applied` would have left it: its Apply entry records `applied`'s fields. */
/**
 * `object` as the controller's apply of `applied` (what it desired then) would have left it: the
 * digest of `applied` in its annotations, and its Apply entry recording `applied`'s fields.
 */
const appliedByController = (object: KubeObject, applied: KubeObject): KubeObject => {
  const stamped = withDesiredDigest(applied, managedBy)
  return {
    ...object,
    metadata: {
      ...object.metadata,
      annotations: { ...object.metadata.annotations, ...stamped.metadata.annotations },
      managedFields: [
        {
          manager: managedBy,
          operation: "Apply",
          fieldsType: "FieldsV1",
          fieldsV1: ManagedFields.fieldsOf(stamped)
        }
      ]
    }
  }
}

const withUid = (object: KubeObject, uid: string): KubeObject => ({
  ...object,
  metadata: { ...object.metadata, uid }
})

/** The child as inserted; writes by other managers (`later`) happen once every object is in place. */
const childObject = (desired: KubeObject, state: ChildState): KubeObject | undefined => {
  const uid = `uid-${keyOf(desired)}`
  switch (state) {
    case "absent":
      return undefined
    case "matching":
    case "drifted":
    case "decorated":
      return appliedByController(withUid(desired, uid), desired)
    case "restated":
      return appliedByController(withUid(restate(desired), uid), desired)
    case "dropped":
    case "shared":
      return appliedByController(withUid(withDroppedField(desired), uid), withDroppedField(desired))
    case "unmanaged":
      return withUid(desired, uid)
    case "foreign": {
      const { ownerReferences: _ownerReferences, ...metadata } = desired.metadata
      return {
        ...desired,
        metadata: { ...metadata, uid: `uid-foreign-${keyOf(desired)}`, labels: { owner: "someone-else" } }
      }
    }
    case "terminating":
      return appliedByController(
        {
          ...desired,
          metadata: {
            ...desired.metadata,
            uid,
            deletionTimestamp: "2024-06-01T11:00:00Z",
            finalizers: desired.kind === "Namespace" ? [] : ["other.io/hold"]
          }
        },
        desired
      )
  }
}

/** What other managers do to a child once it is in place. */
const otherWrites = (
  cluster: Simulator.Cluster,
  desired: KubeObject,
  state: ChildState
): Simulator.Cluster => {
  const stored = Simulator.get(cluster, refOf(desired))
  if (stored === undefined) return cluster
  const applied = (result: ReturnType<typeof Simulator.applyAs>) => {
    if (result._tag === "Failure") throw new Error(result.failure.message)
    return result.success
  }
  switch (state) {
    case "drifted":
      return Simulator.updateAs(
        cluster,
        { ...drift(stored), metadata: drift(stored).metadata },
        editor,
        "2024-06-01T10:30:00Z"
      )
    case "decorated":
      return applied(Simulator.applyAs(cluster, decoration(desired), otherManager, "2024-06-01T10:30:00Z"))
    case "shared":
      return applied(
        Simulator.applyAs(cluster, sharedDecoration(desired), otherManager, "2024-06-01T10:30:00Z")
      )
    default:
      return cluster
  }
}

const configMap = (
  name: string,
  namespace: string,
  metadata: Partial<KubeObject["metadata"]> = {}
): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace, ...metadata },
  data: { k: name }
})

const namespaceObject = (name: string, metadata: Partial<KubeObject["metadata"]> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, ...metadata }
})

interface World {
  readonly cluster: Simulator.Cluster
  readonly primary: Tenant
  readonly permutation: ReadonlyArray<number>
  /** The state each desired child was put in, by key. */
  readonly states: ReadonlyMap<string, ChildState>
}

const buildWorld = (s: Scenario): World => {
  const deleting = s.primary.startsWith("deleting")
  const finalizers = [
    ...(s.primary === "live-finalized" || s.primary === "deleting-finalized" || s.primary === "deleting-both"
      ? [tenantFinalizer]
      : []),
    ...(s.primary === "deleting" || s.primary === "deleting-both" ? ["other.io/keep"] : [])
  ]
  const base = tenant(
    "acme",
    {
      cpu: s.cpu,
      memory: s.memory,
      configMaps: [...new Set(s.configMaps)],
      clusterRole: s.clusterRole,
      retainConfigMaps: s.retainConfigMaps
    },
    {
      uid: primaryUid,
      generation: s.generation + 1,
      ...(finalizers.length > 0 ? { finalizers } : {}),
      ...(deleting ? { deletionTimestamp: "2024-06-01T11:30:00Z" } : {})
    }
  )
  const primary: Tenant =
    s.status === "none"
      ? base
      : s.status === "stale"
        ? {
            ...base,
            status: {
              phase: "Pending",
              conditions: [
                {
                  type: "Ready",
                  status: "False",
                  reason: "Pending",
                  message: "",
                  lastTransitionTime: "2020-01-01T00:00:00Z",
                  observedGeneration: 0
                }
              ]
            }
          }
        : { ...base, status: { conditions: "nope", junk: 1 } }

  const ns = namespaceName(primary)
  const objects: Array<KubeObject> = [primary]
  const namespaceExists = s.namespace !== "absent"
  const states = new Map<string, ChildState>()
  for (const desired of desiredChildren(primary)) {
    let state: ChildState
    if (desired.kind === "Namespace") state = s.namespace
    else if (desired.kind === "ResourceQuota") state = s.quota
    else if (desired.kind === "LimitRange") state = s.limitRange
    else if (desired.kind === "ClusterRole") state = s.clusterRoleState
    else state = s.configMapStates[["a", "b", "c"].indexOf(desired.metadata.name)] ?? "absent"
    if (desired.metadata.namespace !== undefined && !namespaceExists) state = "absent"
    states.set(keyOf(desired), state)
    const object = childObject(desired, state)
    if (object !== undefined) objects.push(object)
  }
  const controller = { ownerReferences: [controllerReference(primary)] }
  for (const extra of new Set(s.extras)) {
    if (extra === "old-configmap" && namespaceExists)
      objects.push(configMap("old", ns, { ...controller, uid: "uid-old-cm" }))
    if (extra === "old-held" && namespaceExists) {
      // Owned, no longer desired, already terminating, held by someone else's finalizer.
      objects.push(
        configMap("old-held", ns, {
          ...controller,
          uid: "uid-old-held",
          deletionTimestamp: "2024-06-01T11:00:00Z",
          finalizers: ["other.io/hold"]
        })
      )
    }
    if (extra === "old-namespace") {
      objects.push(namespaceObject(`${ns}-old`, { ...controller, uid: "uid-old-ns" }))
      objects.push(configMap("leftover", `${ns}-old`, { ...controller, uid: "uid-leftover" }))
      objects.push(configMap("visitor", `${ns}-old`, { uid: "uid-visitor" }))
    }
    if (extra === "old-clusterrole") {
      objects.push({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: `${ns}-old-view`, uid: "uid-old-role", ...controller },
        rules: []
      })
    }
  }
  const unrelated = new Set(s.unrelated)
  if (unrelated.size > 0) objects.push(namespaceObject("other", { uid: "uid-other-ns" }))
  if (unrelated.has("other-namespace")) objects.push(configMap("x", "other", { uid: "uid-x" }))
  if (unrelated.has("other-tenant")) {
    const zeta = tenant("zeta", {}, { uid: otherUid })
    objects.push(zeta)
    objects.push(configMap("y", "other", { uid: "uid-y", ownerReferences: [controllerReference(zeta)] }))
    objects.push(
      namespaceObject("t-zeta", { uid: "uid-t-zeta", ownerReferences: [controllerReference(zeta)] })
    )
  }
  if (unrelated.has("loose-reference")) {
    // Names the tenant as an owner but not as its controller: never the tenant's to delete.
    objects.push(
      configMap("z", "other", {
        uid: "uid-z",
        ownerReferences: [{ ...controllerReference(primary), controller: false }]
      })
    )
  }
  const permutation = s.order
    .map((key, index) => ({ key, index }))
    .sort((a, b) => a.key - b.key || a.index - b.index)
  let cluster = Simulator.insertAll(Simulator.emptyCluster, objects, "2024-06-01T10:00:00Z")
  for (const desired of desiredChildren(primary))
    cluster = otherWrites(cluster, desired, states.get(keyOf(desired)) ?? "absent")
  return { cluster, primary, permutation: permutation.map((entry) => entry.index), states }
}

// ---------------------------------------------------------------------------------------------
// Observing as a loose cache would, and reconciling

const reconciler = tenantReconciler()

const permute = <A>(items: ReadonlyArray<A>, permutation: ReadonlyArray<number>): ReadonlyArray<A> =>
  items
    .map((item, index) => ({ item, key: permutation[index % permutation.length] ?? 0, index }))
    .sort((a, b) => a.key - b.key || b.index - a.index)
    .map((entry) => entry.item)

/**
 * The snapshot, with `owned` as a loose owner index would give it: every object naming the primary
 * as an owner at all (controller or not), in the scenario's order. The planner must only act on
 * the ones it controls.
 */
const observeLoosely = (
  cluster: Simulator.Cluster,
  primary: Tenant,
  permutation: ReadonlyArray<number>,
  r: Pick<Reconciler, "primary" | "owned"> = reconciler
): Snapshot | undefined => {
  const observed = Simulator.observe(cluster, refOf(primary), r)
  if (observed === undefined) return undefined
  const uid = observed.primary.metadata.uid
  const loose = Simulator.objects(cluster).filter(
    (object) =>
      controllerUidOf(object) !== uid &&
      (object.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid) &&
      r.owned.some((type) => isOfType(object, type))
  )
  return { ...observed, owned: permute([...observed.owned, ...loose], permutation) }
}

interface Run {
  readonly rounds: ReadonlyArray<Simulator.Round>
  readonly cluster: Simulator.Cluster
  readonly converged: boolean
}

/** Reconciles through the protocol until a reconcile writes nothing or the primary is gone. */
const reconcile = (world: World, at = now, r: Reconciler<Tenant, Tenant> = reconciler): Run => {
  const result = Simulator.converge(world.cluster, refOf(world.primary), r, {
    now: at,
    maxRounds,
    snapshotOf: (cluster) => observeLoosely(cluster, world.primary, world.permutation)
  })
  return { rounds: result.rounds, cluster: result.cluster, converged: result.converged }
}

/** The objects of the reconciler's owned kinds in `cluster` that the primary controls. */
const controlledIn = (cluster: Simulator.Cluster): ReadonlyArray<KubeObject> =>
  Simulator.objects(cluster).filter(
    (object) =>
      controllerUidOf(object) === primaryUid && reconciler.owned.some((type) => isOfType(object, type))
  )

/** An object as far as its content goes: quantities by value, without the write counters. */
const comparable = (object: KubeObject): KubeObject => {
  const {
    resourceVersion: _resourceVersion,
    generation: _generation,
    managedFields: _managedFields,
    ...metadata
  } = object.metadata
  return Canonical.normalizeQuantities({ ...object, metadata })
}

const writesOf = (p: Plan): ReadonlyArray<Action> => p.actions.filter(isWrite)

/** Every action a round executed or tried: the first plan's and the re-plan's status. */
const actionsOf = (round: Simulator.Round): ReadonlyArray<Action> => [...round.plan.actions, ...round.status]

const describeActions = (p: Plan): string =>
  p.actions
    .map((a) =>
      a._tag === "Apply" || a._tag === "Delete"
        ? `${a._tag} ${a._tag === "Apply" ? keyOf(a.object) : keyOfRef(a.ref)}`
        : a._tag
    )
    .join(", ")

// ---------------------------------------------------------------------------------------------
// Properties

describe("plan properties over arbitrary cluster states", () => {
  it.prop(
    "(a) convergence: plan + simulate reaches a plan without writes, with no failed action",
    [scenario],
    ([s]) => {
      const run = reconcile(buildWorld(s))
      assert.isTrue(
        run.converged,
        `no fixpoint within ${maxRounds} rounds: ${run.rounds.map((r) => describeActions(r.plan)).join(" | ")}`
      )
      for (const round of run.rounds) assert.isUndefined(round.failure, round.failure?.error.message)
      assert.isAtMost(run.rounds.filter((round) => writesOf(round.plan).length > 0).length, 3)
    },
    runs
  )

  it.prop(
    "(b) converged ⇒ zero writes, later too; and its desired children are really in place (re-applying them is a no-op)",
    [scenario],
    ([s]) => {
      const world = buildWorld(s)
      const run = reconcile(world)
      const observed = observeLoosely(run.cluster, world.primary, world.permutation)
      if (observed === undefined) return
      // A resync a day later: no status patch, no event, nothing.
      const resync = plan(reconciler, observed, later)
      assert.deepStrictEqual(writesOf(resync), [])
      if (resync.outcome.deleting) return
      // Independent of the diff: the API server would find nothing to change in any written child.
      const skipped = new Set([
        ...resync.outcome.conflicts.map((conflict) => keyOf(conflict.desired)),
        ...resync.outcome.blocked.map(keyOf)
      ])
      for (const desired of resync.outcome.desired?.objects ?? []) {
        const current = Simulator.get(run.cluster, refOf(desired))
        if (
          skipped.has(keyOf(desired)) ||
          current === undefined ||
          current.metadata.deletionTimestamp !== undefined
        )
          continue
        if (current.metadata.namespace !== undefined) {
          const home = Simulator.get(run.cluster, {
            apiVersion: "v1",
            kind: "Namespace",
            name: current.metadata.namespace
          })
          if (home?.metadata.deletionTimestamp !== undefined) continue
        }
        const again = Simulator.get(
          Simulator.applyActions(
            run.cluster,
            [Action.Apply({ object: withDesiredDigest(desired, managedBy), create: false })],
            later,
            managedBy
          ).cluster,
          refOf(desired)
        )
        assert.isTrue(
          again !== undefined && jsonEqual(comparable(again), comparable(current)),
          `${keyOf(desired)} still differs from desired`
        )
      }
      // Nothing it owns lingers that it no longer wants, unless retained or on its way out.
      const wanted = new Set((resync.outcome.desired?.objects ?? []).map(keyOf))
      for (const object of Simulator.objects(run.cluster)) {
        if (controllerUidOf(object) !== primaryUid || wanted.has(keyOf(object))) continue
        if (
          object.metadata.deletionTimestamp !== undefined ||
          (s.retainConfigMaps && object.kind === "ConfigMap")
        )
          continue
        const home =
          object.metadata.namespace === undefined
            ? undefined
            : Simulator.get(run.cluster, {
                apiVersion: "v1",
                kind: "Namespace",
                name: object.metadata.namespace
              })
        if (home?.metadata.deletionTimestamp !== undefined) continue
        assert.fail(`${keyOf(object)} is owned, not desired, and still there`)
      }
    },
    runs
  )

  it.prop(
    "(c) safety: nothing but what the primary controls is deleted, applied over or written into, and foreign objects are untouched",
    [scenario],
    ([s]) => {
      const world = buildWorld(s)
      const run = reconcile(world)
      for (const round of run.rounds) {
        const primary = round.snapshot.primary
        // Never into a namespace it desires but does not control.
        const desiredNamespaces = new Set(
          (round.plan.outcome.desired?.objects ?? [])
            .filter((object) => object.kind === "Namespace")
            .map((object) => object.metadata.name)
        )
        for (const action of actionsOf(round)) {
          if (action._tag !== "Apply" || action.object.metadata.namespace === undefined) continue
          const namespace = action.object.metadata.namespace
          const home = Simulator.get(round.cluster, { apiVersion: "v1", kind: "Namespace", name: namespace })
          if (desiredNamespaces.has(namespace) && home !== undefined) {
            assert.strictEqual(
              controllerUidOf(home),
              primaryUid,
              `writes ${keyOf(action.object)} into a foreign namespace`
            )
          }
        }
        // A namespace deleted by this plan takes its contents: no delete of its own for them.
        const deletedNamespaces = new Set(
          round.plan.actions.flatMap((action) =>
            action._tag === "Delete" && action.ref.kind === "Namespace" ? [action.ref.name] : []
          )
        )
        for (const action of actionsOf(round)) {
          if (action._tag === "Delete" && action.ref.namespace !== undefined) {
            assert.isFalse(
              deletedNamespaces.has(action.ref.namespace),
              `deletes ${keyOfRef(action.ref)} and its namespace`
            )
          }
          switch (action._tag) {
            case "Apply": {
              const current = Simulator.get(round.cluster, refOf(action.object))
              if (action.create) assert.isUndefined(current, `creates over ${keyOf(action.object)}`)
              else {
                assert.strictEqual(
                  controllerUidOf(current ?? action.object),
                  primaryUid,
                  `applies over ${keyOf(action.object)}`
                )
                assert.strictEqual(action.uid, current?.metadata.uid)
              }
              break
            }
            case "Delete": {
              const current = Simulator.get(round.cluster, action.ref)
              assert.strictEqual(current?.metadata.uid, action.uid)
              assert.strictEqual(
                current === undefined ? undefined : controllerUidOf(current),
                primaryUid,
                `deletes ${keyOfRef(action.ref)}`
              )
              break
            }
            case "AddFinalizer":
            case "RemoveFinalizer":
            case "ApplyStatus":
              assert.strictEqual(keyOfRef(action.ref), keyOf(primary))
              assert.strictEqual(action.uid, primaryUid)
              break
            case "Event":
              assert.strictEqual(keyOfRef(action.regarding), keyOf(primary))
              break
            case "Requeue":
              break
          }
        }
      }
      // End to end: whatever the tenant does not control is exactly as it was, except what
      // Kubernetes itself removes with the tenant's namespaces or owner references.
      const ownNamespaces = new Set(
        [...Simulator.objects(world.cluster), ...Simulator.objects(run.cluster)]
          .filter((object) => object.kind === "Namespace" && controllerUidOf(object) === primaryUid)
          .map((object) => object.metadata.name)
      )
      for (const before of Simulator.objects(world.cluster)) {
        if (keyOf(before) === keyOf(world.primary) || controllerUidOf(before) === primaryUid) continue
        if ((before.metadata.ownerReferences ?? []).some((ref) => ref.uid === primaryUid)) continue
        if (before.metadata.namespace !== undefined && ownNamespaces.has(before.metadata.namespace)) continue
        const after = Simulator.get(run.cluster, refOf(before))
        assert.strictEqual(after, before, `${keyOf(before)} was changed`)
      }
    },
    runs
  )

  it.prop(
    "(d) finalizer order: AddFinalizer first; RemoveFinalizer only when nothing the primary controls exists, and last",
    [scenario],
    ([s]) => {
      const world = buildWorld(s)
      const run = reconcile(world)
      for (const round of run.rounds) {
        const writes = writesOf(round.plan)
        const addition = writes.findIndex((action) => action._tag === "AddFinalizer")
        if (addition !== -1) assert.strictEqual(addition, 0, "AddFinalizer comes before any other write")
        const removal = writes.findIndex((action) => action._tag === "RemoveFinalizer")
        if (removal === -1) continue
        assert.strictEqual(removal, writes.length - 1)
        const controlled = round.snapshot.owned.filter((object) => controllerUidOf(object) === primaryUid)
        assert.deepStrictEqual(controlled.map(keyOf), [])
        assert.deepStrictEqual(controlledIn(round.cluster).map(keyOf), [])
      }
      // Liveness: a deleting tenant holding our finalizer lets go unless a child is held by someone else.
      const primary = Simulator.get(run.cluster, refOf(world.primary))
      if (
        primary?.metadata.deletionTimestamp !== undefined &&
        (primary.metadata.finalizers ?? []).includes(tenantFinalizer)
      ) {
        const held = Simulator.objects(run.cluster).filter((object) => controllerUidOf(object) === primaryUid)
        assert.isNotEmpty(held)
      }
    },
    runs
  )

  it.prop(
    "(e) determinism: the plan does not depend on the order of owned objects or of desired()",
    [scenario],
    ([s]) => {
      const world = buildWorld(s)
      const run = reconcile(world)
      const other = tenantReconciler([...world.permutation].reverse())
      for (const round of run.rounds) {
        const sorted = {
          ...round.snapshot,
          owned: [...round.snapshot.owned].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1))
        }
        const reference = plan(reconciler, sorted, now)
        assert.deepStrictEqual(round.plan.actions, reference.actions)
        const reordered = plan(other, { ...round.snapshot, owned: [...round.snapshot.owned].reverse() }, now)
        assert.deepStrictEqual(reordered.actions, reference.actions)
        assert.deepStrictEqual(
          reordered.outcome.conflicts.map((c) => keyOf(c.existing)),
          reference.outcome.conflicts.map((c) => keyOf(c.existing))
        )
        assert.deepStrictEqual(reordered.outcome.blocked.map(keyOf), reference.outcome.blocked.map(keyOf))
      }
    },
    runs
  )

  it.prop(
    "(f) field ownership: a field the controller applied and no longer desires is gone after convergence, unless another manager owns it too",
    [scenario],
    ([s]) => {
      const world = buildWorld(s)
      const run = reconcile(world)
      const observed = observeLoosely(run.cluster, world.primary, world.permutation)
      if (observed === undefined) return
      const final = plan(reconciler, observed, now).outcome
      const notWritable = new Set([
        ...final.conflicts.map((c) => keyOf(c.desired)),
        ...final.blocked.map(keyOf)
      ])
      for (const desired of desiredChildren(world.primary)) {
        const state = world.states.get(keyOf(desired))
        if (state !== "dropped" && state !== "shared") continue
        if (notWritable.has(keyOf(desired))) continue
        if (desired.metadata.namespace !== undefined) {
          const home = Simulator.get(run.cluster, {
            apiVersion: "v1",
            kind: "Namespace",
            name: desired.metadata.namespace
          })
          if (
            home === undefined ||
            controllerUidOf(home) !== primaryUid ||
            home.metadata.deletionTimestamp !== undefined
          )
            continue
        }
        const stored = Simulator.get(run.cluster, refOf(desired))
        // Only the object that was there from the start (not one created afresh since).
        if (stored === undefined || stored.metadata.uid !== `uid-${keyOf(desired)}`) continue
        const label = stored.metadata.labels?.["test.kleff.io/dropped"]
        if (stored.metadata.deletionTimestamp !== undefined) continue
        if (world.primary.metadata.deletionTimestamp !== undefined) continue
        if (state === "dropped") {
          assert.isUndefined(label, `${keyOf(desired)} keeps a label the controller dropped`)
          if (desired.kind === "LimitRange") {
            const limits = (stored.spec as { limits: ReadonlyArray<Record<string, unknown>> }).limits
            assert.isUndefined(limits[0]?.max, "a key dropped inside an atomic list stays")
          }
          const owned = ManagedFields.appliedFieldsOf(stored, managedBy)
          assert.isDefined(owned)
          assert.isUndefined(
            ManagedFields.firstUnwanted(owned ?? {}, withDesiredDigest(desired, managedBy))?.path,
            `${keyOf(desired)}: still owned`
          )
        } else {
          assert.strictEqual(label, "yes", `${keyOf(desired)} lost a label another manager owns`)
        }
      }
    },
    runs
  )

  it.prop(
    "(g) a field another manager set survives every apply of ours, and is never a reason to write",
    [scenario],
    ([s]) => {
      const world = buildWorld(s)
      const run = reconcile(world)
      const decorated = desiredChildren(world.primary).filter(
        (desired) => world.states.get(keyOf(desired)) === "decorated"
      )
      for (const cluster of [...run.rounds.map((round) => round.cluster), run.cluster]) {
        for (const desired of decorated) {
          const stored = Simulator.get(cluster, refOf(desired))
          // The object decorated at the start, not one created afresh since.
          if (stored === undefined || stored.metadata.uid !== `uid-${keyOf(desired)}`) continue
          assert.strictEqual(
            stored.metadata.labels?.["other.io/label"],
            "x",
            `${keyOf(desired)} lost a label`
          )
          assert.strictEqual(stored.metadata.annotations?.["other.io/note"], "y")
          if (desired.kind === "ResourceQuota")
            assert.strictEqual((stored.spec as { hard: Record<string, string> }).hard.services, "5")
          if (desired.kind === "ConfigMap")
            assert.strictEqual((stored.data as Record<string, string>).extra, "z")
        }
      }
      // A decorated child that is otherwise in place is not written at all.
      const first = run.rounds[0]
      if (first === undefined) return
      for (const action of actionsOf(first)) {
        if (action._tag !== "Apply") continue
        // An update of a decorated child (a create is of one the namespace controller took since).
        if (action.create || world.states.get(keyOf(action.object)) !== "decorated") continue
        const current = Simulator.get(first.cluster, refOf(action.object))
        const why = current === undefined ? undefined : changeOf(action.object, current, managedBy)
        assert.fail(`applies ${keyOf(action.object)} only because of others' fields: ${JSON.stringify(why)}`)
      }
    },
    runs
  )

  it.prop(
    "(h) two reconcilers with their own field managers on the same objects converge without fighting",
    [scenario],
    ([s]) => {
      const world = buildWorld(s)
      // A second controller of the same primary that decorates the tenant's namespace and its
      // quota with fields of its own, once they exist, and leaves everything else alone.
      const decorator: Reconciler<Tenant, Tenant> = {
        name: "test-decorator",
        // One operator's second controller: same managed-by value, its own field manager.
        managedBy,
        primary: reconciler.primary,
        owned: reconciler.owned,
        decide: (observed) => observed.primary,
        desired: (tenant, observed) => {
          const objects: Array<KubeObject> = []
          for (const desired of desiredChildren(tenant)) {
            if (desired.kind !== "Namespace" && desired.kind !== "ResourceQuota") continue
            const current = observed.get(refOf(desired))
            if (current === undefined || controllerUidOf(current) !== primaryUid) continue
            objects.push({
              apiVersion: desired.apiVersion,
              kind: desired.kind,
              metadata: {
                name: desired.metadata.name,
                namespace: desired.metadata.namespace,
                labels: { "decorator.kleff.io/on": "yes", [managedByLabel]: managedBy },
                ownerReferences: [controllerReference(tenant)]
              },
              ...(desired.kind === "ResourceQuota" ? { spec: { hard: { "count/jobs.batch": "4" } } } : {})
            })
          }
          return { objects, retain: reconciler.owned }
        },
        // A condition of its own on the shared primary: the status of each is its own to write.
        status: () => ({
          fields: {},
          conditions: [{ type: "Decorated", status: "True", reason: "Decorated", message: "decorated" }]
        })
      }
      const snapshotOf = (r: Reconciler<Tenant, Tenant>) => (cluster: Simulator.Cluster) =>
        observeLoosely(cluster, world.primary, world.permutation, r)
      let cluster = world.cluster
      let quiet = 0
      let turns = 0
      for (; turns < 16 && quiet < 2; turns++) {
        const r = turns % 2 === 0 ? reconciler : decorator
        cluster = Simulator.settle(cluster, now)
        const step = Simulator.reconcileOnce(cluster, refOf(world.primary), r, {
          now,
          snapshotOf: snapshotOf(r)
        })
        assert.isUndefined(step.failure, step.failure?.error.message)
        const wrote = [...(step.reconciled?.plan?.actions ?? []), ...(step.reconciled?.status ?? [])].some(
          isWrite
        )
        quiet = wrote ? 0 : quiet + 1
        cluster = step.cluster
      }
      assert.isAtLeast(quiet, 2, `still writing after ${turns} turns`)
      // Each one's fields are in place, side by side.
      const primary = Simulator.get(cluster, refOf(world.primary))
      if (primary === undefined || primary.metadata.deletionTimestamp !== undefined) return
      // … and each one's conditions, on the primary they share.
      const types = conditionsOf(primary.status).map((condition) => condition.type)
      assert.includeMembers(types, ["Ready", "Decorated"])
      const namespace = Simulator.get(cluster, {
        apiVersion: "v1",
        kind: "Namespace",
        name: namespaceName(world.primary)
      })
      if (
        namespace === undefined ||
        controllerUidOf(namespace) !== primaryUid ||
        namespace.metadata.deletionTimestamp !== undefined
      )
        return
      assert.strictEqual(namespace.metadata.labels?.["decorator.kleff.io/on"], "yes")
      assert.strictEqual(namespace.metadata.labels?.["test.kleff.io/tenant"], world.primary.metadata.name)
    },
    runs
  )

  it.prop(
    "(i) a held deletion deletes nothing: every child stays as it was, and the finalizer goes only once nothing is controlled",
    [scenario],
    ([s]) => {
      const world = buildWorld(s)
      const holding: Reconciler<Tenant, Tenant> = {
        ...reconciler,
        holdDeletion: () => ({ reason: "Held", message: "held for the test" })
      }
      const run = reconcile(world, now, holding)
      for (const round of run.rounds) {
        if (round.snapshot.primary.metadata.deletionTimestamp === undefined) continue
        assert.deepStrictEqual(
          actionsOf(round).filter((action) => action._tag === "Delete"),
          [],
          describeActions(round.plan)
        )
        if (!actionsOf(round).some((action) => action._tag === "RemoveFinalizer")) continue
        assert.deepStrictEqual(controlledIn(round.cluster).map(keyOf), [])
      }
      // A primary deleted under our finalizer from the start leaves every live child it controls
      // untouched (the Simulator's namespace controller still finishes what was already going).
      const primary = Simulator.get(world.cluster, refOf(world.primary))
      if (
        primary?.metadata.deletionTimestamp === undefined ||
        !(primary.metadata.finalizers ?? []).includes(tenantFinalizer)
      )
        return
      const terminating = (object: KubeObject | undefined) => object?.metadata.deletionTimestamp !== undefined
      for (const before of Simulator.objects(world.cluster)) {
        if (controllerUidOf(before) !== primaryUid || terminating(before)) continue
        const namespace = before.metadata.namespace
        const home =
          namespace === undefined
            ? undefined
            : Simulator.get(world.cluster, { apiVersion: "v1", kind: "Namespace", name: namespace })
        if (terminating(home)) continue
        assert.strictEqual(Simulator.get(run.cluster, refOf(before)), before, `${keyOf(before)} was changed`)
      }
    },
    runs
  )
})
