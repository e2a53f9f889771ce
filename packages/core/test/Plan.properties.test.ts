/**
 * Property tests of the planner against the Simulator, over arbitrary cluster states of the test
 * tenant controller: children absent, matching, drifted, restated (same quantities written
 * differently), decorated by other managers, foreign, or terminating; extra owned children no
 * longer desired; unrelated objects; a live or deleting primary with any finalizers and status.
 */
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Schema } from "effect"
import {
  Action,
  Canonical,
  controllerReference,
  controllerUidOf,
  isOfType,
  isWrite,
  jsonEqual,
  type KubeObject,
  keyOf,
  keyOfRef,
  type Observed,
  type Plan,
  plan,
  refOf,
  Simulator
} from "../src/index.ts"
import {
  desiredChildren,
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

/** The object with fields other managers added, which the controller must leave alone. */
const decorate = (object: KubeObject): KubeObject => {
  const metadata = {
    ...object.metadata,
    labels: { ...object.metadata.labels, "other.io/label": "x" },
    annotations: { "other.io/note": "y" }
  }
  switch (object.kind) {
    case "ResourceQuota":
      return {
        ...object,
        metadata,
        spec: {
          ...(object.spec as object),
          hard: { ...(object.spec as { hard: object }).hard, services: "5" },
          scopes: []
        }
      }
    case "ConfigMap":
      return { ...object, metadata, data: { ...(object.data as object), extra: "z" } }
    default:
      return { ...object, metadata }
  }
}

const withUid = (object: KubeObject, uid: string): KubeObject => ({
  ...object,
  metadata: { ...object.metadata, uid }
})

const childObject = (desired: KubeObject, state: ChildState): KubeObject | undefined => {
  const uid = `uid-${keyOf(desired)}`
  switch (state) {
    case "absent":
      return undefined
    case "matching":
      return withUid(desired, uid)
    case "drifted":
      return withUid(drift(desired), uid)
    case "restated":
      return withUid(restate(desired), uid)
    case "decorated":
      return withUid(decorate(desired), uid)
    case "foreign": {
      const { ownerReferences: _ownerReferences, ...metadata } = desired.metadata
      return {
        ...desired,
        metadata: { ...metadata, uid: `uid-foreign-${keyOf(desired)}`, labels: { owner: "someone-else" } }
      }
    }
    case "terminating":
      return {
        ...desired,
        metadata: {
          ...desired.metadata,
          uid,
          deletionTimestamp: "2024-06-01T11:00:00Z",
          finalizers: desired.kind === "Namespace" ? [] : ["other.io/hold"]
        }
      }
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
  for (const desired of desiredChildren(primary)) {
    let state: ChildState
    if (desired.kind === "Namespace") state = s.namespace
    else if (desired.kind === "ResourceQuota") state = s.quota
    else if (desired.kind === "LimitRange") state = s.limitRange
    else if (desired.kind === "ClusterRole") state = s.clusterRoleState
    else state = s.configMapStates[["a", "b", "c"].indexOf(desired.metadata.name)] ?? "absent"
    if (desired.metadata.namespace !== undefined && !namespaceExists) state = "absent"
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
  return {
    cluster: Simulator.insertAll(Simulator.emptyCluster, objects, "2024-06-01T10:00:00Z"),
    primary,
    permutation: permutation.map((entry) => entry.index)
  }
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
  permutation: ReadonlyArray<number>
): Observed<Tenant> | undefined => {
  const observed = Simulator.observe(cluster, refOf(primary), reconciler)
  if (observed === undefined) return undefined
  const uid = observed.primary.metadata.uid
  const loose = Simulator.objects(cluster).filter(
    (object) =>
      controllerUidOf(object) !== uid &&
      (object.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid) &&
      reconciler.owned.some((type) => isOfType(object, type))
  )
  return { ...observed, owned: permute([...observed.owned, ...loose], permutation) }
}

interface Round {
  readonly cluster: Simulator.Cluster
  readonly observed: Observed<Tenant>
  readonly plan: Plan<Tenant>
  readonly failure: Simulator.Execution["failure"]
}

interface Run {
  readonly rounds: ReadonlyArray<Round>
  readonly cluster: Simulator.Cluster
  readonly converged: boolean
}

/** settle → observe → plan → execute, until a plan writes nothing or the primary is gone. */
const reconcile = (world: World, at = now): Run => {
  const rounds: Array<Round> = []
  let cluster = world.cluster
  for (let round = 0; round <= maxRounds; round++) {
    cluster = Simulator.settle(cluster, at)
    const observed = observeLoosely(cluster, world.primary, world.permutation)
    if (observed === undefined) return { rounds, cluster, converged: true }
    const next = plan(reconciler, observed, at)
    const execution =
      next.actions.some(isWrite) && round < maxRounds
        ? Simulator.applyActions(cluster, next.actions, at)
        : undefined
    rounds.push({ cluster, observed, plan: next, failure: execution?.failure })
    if (!next.actions.some(isWrite)) return { rounds, cluster, converged: true }
    if (execution === undefined) break
    cluster = execution.cluster
  }
  return { rounds, cluster, converged: false }
}

/** An object as far as its content goes: quantities by value, without the write counters. */
const comparable = (object: KubeObject): KubeObject => {
  const { resourceVersion: _resourceVersion, generation: _generation, ...metadata } = object.metadata
  return Canonical.normalizeQuantities({ ...object, metadata })
}

const writesOf = (p: Plan): ReadonlyArray<Action> => p.actions.filter(isWrite)

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
          Simulator.applyActions(run.cluster, [Action.Apply({ object: desired, create: false })], later)
            .cluster,
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
        const primary = round.observed.primary
        // Never into a namespace it desires but does not control.
        const desiredNamespaces = new Set(
          (round.plan.outcome.desired?.objects ?? [])
            .filter((object) => object.kind === "Namespace")
            .map((object) => object.metadata.name)
        )
        for (const action of round.plan.actions) {
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
        for (const action of round.plan.actions) {
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
            case "PatchStatus":
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
        const controlled = round.observed.owned.filter((object) => controllerUidOf(object) === primaryUid)
        assert.deepStrictEqual(controlled.map(keyOf), [])
        const inCluster = Simulator.objects(round.cluster).filter(
          (object) =>
            controllerUidOf(object) === primaryUid && reconciler.owned.some((type) => isOfType(object, type))
        )
        assert.deepStrictEqual(inCluster.map(keyOf), [])
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
          ...round.observed,
          owned: [...round.observed.owned].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1))
        }
        const reference = plan(reconciler, sorted, now)
        assert.deepStrictEqual(round.plan.actions, reference.actions)
        const reordered = plan(other, { ...round.observed, owned: [...round.observed.owned].reverse() }, now)
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
})
