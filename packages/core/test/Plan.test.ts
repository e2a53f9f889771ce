import { assert, describe, it } from "@effect/vitest"
import {
  Action,
  controllerReference,
  isWrite,
  type KubeObject,
  keyOf,
  maxWaitMillis,
  plan,
  type Reconciler,
  refOf,
  Simulator,
  summarizeWrites,
  waitAfter
} from "../src/index.ts"
import {
  ClusterRoleType,
  ConfigMapType,
  desiredConfigMap,
  desiredNamespace,
  desiredQuota,
  LimitRangeType,
  managedBy,
  NamespaceType,
  namespaceName,
  ResourceQuotaType,
  type Tenant,
  TenantType,
  tenant,
  tenantFinalizer,
  tenantReconciler
} from "./fixtures/Tenant.ts"

const now = "2024-06-01T12:00:00Z"
const later = "2024-06-01T12:05:00Z"
const reconciler = tenantReconciler()

/** A short, readable form of an action for assertions. */
const show = (action: Action): string => {
  switch (action._tag) {
    case "Apply":
      return `Apply${action.create ? "+" : "~"} ${keyOf(action.object)}`
    case "Delete":
      return `Delete ${action.ref.kind} ${action.ref.namespace ?? ""}/${action.ref.name}`
    case "AddFinalizer":
    case "RemoveFinalizer":
      return `${action._tag} ${action.finalizer}`
    case "ApplyStatus":
      return "ApplyStatus"
    case "Event":
      return `Event ${action.type} ${action.reason}`
    case "Requeue":
      return `Requeue ${action.afterMillis}`
  }
}

const withPrimary = (primary: Tenant, objects: ReadonlyArray<KubeObject> = []): Simulator.Cluster =>
  Simulator.insertAll(Simulator.emptyCluster, [primary, ...objects])

const planFor = (cluster: Simulator.Cluster, primary: Tenant, r = reconciler, at = now) => {
  const observed = Simulator.observe(cluster, refOf(primary), r)
  if (observed === undefined) throw new Error("primary is gone")
  return plan(r, observed, at)
}

/** The stored primary with a new spec, as a user's edit would leave it. */
const edited = (
  cluster: Simulator.Cluster,
  primary: Tenant,
  spec: Partial<Tenant["spec"]>
): Simulator.Cluster => {
  const stored = Simulator.get(cluster, refOf(primary)) as Tenant | undefined
  if (stored === undefined) throw new Error("primary is gone")
  return Simulator.insert(cluster, { ...stored, spec: { ...stored.spec, ...spec } })
}

const ready = (cluster: Simulator.Cluster, primary: Tenant): Simulator.Cluster => {
  const result = Simulator.converge(cluster, refOf(primary), reconciler, { now })
  assert.isTrue(result.converged)
  return result.cluster
}

describe("plan: creating a tenant", () => {
  const acme = tenant("acme", { configMaps: ["b", "a"], clusterRole: true })

  it("adds the finalizer first, then Namespace, cluster-scoped, namespaced objects (kinds as `owned` lists them), then status and one event", () => {
    const p = planFor(withPrimary(acme), acme)
    assert.deepStrictEqual(p.actions.map(show), [
      `AddFinalizer ${tenantFinalizer}`,
      "Apply+ /Namespace//t-acme",
      "Apply+ rbac.authorization.k8s.io/ClusterRole//t-acme-view",
      "Apply+ /ResourceQuota/t-acme/quota",
      "Apply+ /LimitRange/t-acme/limits",
      "Apply+ /ConfigMap/t-acme/a",
      "Apply+ /ConfigMap/t-acme/b",
      "ApplyStatus",
      "Event Normal Created"
    ])
    assert.deepStrictEqual(
      [...p.outcome.toApply].sort(),
      p.actions.flatMap((action) => (action._tag === "Apply" ? [keyOf(action.object)] : [])).sort()
    )
    const event = p.actions.find((action) => action._tag === "Event")
    assert.include(
      event?._tag === "Event" ? event.message : "",
      "created Namespace t-acme, ClusterRole t-acme-view"
    )
  })

  it("reports status as if the writes succeed, with conditions stamped now and the generation", () => {
    const p = planFor(withPrimary({ ...acme, metadata: { ...acme.metadata, generation: 3 } }), acme)
    const patch = p.actions.find((action) => action._tag === "ApplyStatus")
    assert.deepStrictEqual(patch?._tag === "ApplyStatus" ? patch.status : undefined, {
      phase: "Active",
      namespace: "t-acme",
      conditions: [
        {
          type: "NamespaceReady",
          status: "True",
          reason: "Provisioned",
          message: "",
          lastTransitionTime: now,
          observedGeneration: 3
        },
        {
          type: "Ready",
          status: "True",
          reason: "Reconciled",
          message: "",
          lastTransitionTime: now,
          observedGeneration: 3
        }
      ],
      observedGeneration: 3
    })
  })

  it("converges in one round and then plans nothing at all, not even a status patch", () => {
    const result = Simulator.converge(withPrimary(acme), refOf(acme), reconciler, { now })
    assert.isTrue(result.converged)
    assert.strictEqual(result.rounds.length, 1)
    assert.deepStrictEqual(planFor(result.cluster, acme, reconciler, later).actions, [])
  })

  it("repairs drift and only the drifted child, leaving server defaults and other managers' fields alone", () => {
    let cluster = ready(withPrimary(acme), acme)
    const configMap = Simulator.get(cluster, refOf(desiredConfigMap(acme, "a")))
    assert.isDefined(configMap)
    if (configMap === undefined) return
    cluster = Simulator.insert(cluster, {
      ...configMap,
      metadata: {
        ...configMap.metadata,
        labels: { ...configMap.metadata.labels, "someone.else/label": "x" }
      },
      data: { tenant: "mallory", name: "a", extra: "added by another manager" }
    })
    const p = planFor(cluster, acme, reconciler, later)
    assert.deepStrictEqual(p.actions.map(show), ["Apply~ /ConfigMap/t-acme/a", "Event Normal Updated"])
    const apply = p.actions[0]
    assert.strictEqual(apply?._tag === "Apply" ? apply.uid : undefined, configMap.metadata.uid)
    // The status reads what the plan found (`toApply`), and a converged plan finds nothing.
    assert.deepStrictEqual([...p.outcome.toApply], ["/ConfigMap/t-acme/a"])
    assert.strictEqual(
      planFor(ready(withPrimary(acme), acme), acme, reconciler, later).outcome.toApply.size,
      0
    )
  })

  it("treats a non-canonical desired quantity as equal to the stored canonical one", () => {
    const milli = tenant("acme", { cpu: "1000m", memory: "1024Mi" })
    const cluster = ready(withPrimary(milli), milli)
    const quota = Simulator.get(cluster, refOf(desiredQuota(milli)))
    assert.deepStrictEqual(quota?.spec, {
      hard: { "requests.cpu": "1", "requests.memory": "1Gi", pods: "10" }
    })
    assert.deepStrictEqual(planFor(cluster, milli, reconciler, later).actions, [])
  })

  it("deletes owned children no longer desired, but not retained kinds, and not the contents of a deleted namespace", () => {
    const cluster = ready(withPrimary(acme), acme)
    const pruned = planFor(edited(cluster, acme, { configMaps: ["a"], clusterRole: false }), acme)
    assert.deepStrictEqual(pruned.actions.map(show), [
      "Delete ConfigMap t-acme/b",
      "Delete ClusterRole /t-acme-view",
      "Event Normal Deleted"
    ])
    const retaining = edited(cluster, acme, { configMaps: ["a"], clusterRole: false, retainConfigMaps: true })
    assert.deepStrictEqual(planFor(retaining, acme).actions.map(show), [
      "Delete ClusterRole /t-acme-view",
      "Event Normal Deleted"
    ])
    // Renaming the tenant's namespace: the old namespace goes, and takes its contents with it.
    const movedTenant: Tenant = { ...acme, metadata: { ...acme.metadata, name: "acme2" } }
    const moved = Simulator.insert(cluster, movedTenant)
    const renamed = planFor(moved, movedTenant)
    assert.includeMembers(renamed.actions.map(show), ["Delete Namespace /t-acme"])
    assert.notInclude(renamed.actions.map(show).join(","), "Delete ConfigMap")
  })
})

describe("plan: conflicts", () => {
  const acme = tenant("acme", { configMaps: ["a"] })
  const foreignNamespace: KubeObject = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: namespaceName(acme), uid: "uid-someone-elses" }
  }

  it("writes namespaced kinds in the order its `owned` lists them, by key within a kind", () => {
    const configMapsFirst = {
      ...reconciler,
      owned: [ConfigMapType, LimitRangeType, ResourceQuotaType, NamespaceType, ClusterRoleType]
    }
    const two = tenant("acme", { configMaps: ["b", "a"], clusterRole: true })
    const p = planFor(withPrimary(two), two, configMapsFirst)
    assert.deepStrictEqual(p.actions.filter((action) => action._tag === "Apply").map(show), [
      "Apply+ /Namespace//t-acme",
      "Apply+ rbac.authorization.k8s.io/ClusterRole//t-acme-view",
      "Apply+ /ConfigMap/t-acme/a",
      "Apply+ /ConfigMap/t-acme/b",
      "Apply+ /LimitRange/t-acme/limits",
      "Apply+ /ResourceQuota/t-acme/quota"
    ])
  })

  it("never writes into or adopts a foreign namespace: its contents are blocked, status says so, and it requeues", () => {
    const cluster = withPrimary(acme, [foreignNamespace])
    const p = planFor(cluster, acme)
    assert.deepStrictEqual(p.actions.map(show), [
      `AddFinalizer ${tenantFinalizer}`,
      "ApplyStatus",
      "Event Warning Conflict",
      "Requeue 2000"
    ])
    assert.deepStrictEqual(
      p.outcome.conflicts.map((conflict) => keyOf(conflict.existing)),
      ["/Namespace//t-acme"]
    )
    assert.deepStrictEqual(p.outcome.blocked.map(keyOf), [
      "/ResourceQuota/t-acme/quota",
      "/LimitRange/t-acme/limits",
      "/ConfigMap/t-acme/a"
    ])
  })

  it("warns once: after the status records the conflict, a resync only requeues", () => {
    const result = Simulator.converge(withPrimary(acme, [foreignNamespace]), refOf(acme), reconciler, { now })
    assert.isTrue(result.converged)
    assert.deepStrictEqual(result.final?.actions.map(show), ["Requeue 2000"])
    const stored = Simulator.get(result.cluster, refOf(foreignNamespace))
    assert.strictEqual(
      stored?.metadata.resourceVersion,
      Simulator.get(withPrimary(acme, [foreignNamespace]), refOf(foreignNamespace))?.metadata.resourceVersion
    )
    assert.strictEqual(result.cluster.events.filter((event) => event.type === "Warning").length, 1)
  })

  it("proceeds once the foreign namespace is gone", () => {
    const blocked = Simulator.converge(withPrimary(acme, [foreignNamespace]), refOf(acme), reconciler, {
      now
    }).cluster
    const cleared = Simulator.settle(
      Simulator.applyActions(
        blocked,
        [Action.Delete({ ref: refOf(foreignNamespace), uid: "uid-someone-elses" })],
        now,
        managedBy
      ).cluster,
      now
    )
    const p = planFor(cleared, acme, reconciler, later)
    assert.include(p.actions.map(show), "Apply+ /Namespace//t-acme")
    assert.include(p.actions.map(show), "Apply+ /ConfigMap/t-acme/a")
  })

  it("reports a foreign object at a child's name as a conflict and leaves it untouched, whoever controls it", () => {
    const theirs: KubeObject = {
      ...desiredConfigMap(acme, "a"),
      metadata: {
        name: "a",
        namespace: "t-acme",
        uid: "uid-theirs",
        ownerReferences: [{ ...controllerReference(tenant("other")), uid: "uid-other" }]
      }
    }
    const cluster = ready(withPrimary(acme), acme)
    const replaced = Simulator.insert(
      Simulator.applyActions(
        cluster,
        [
          Action.Delete({
            ref: refOf(theirs),
            uid: Simulator.get(cluster, refOf(theirs))?.metadata.uid ?? ""
          })
        ],
        now,
        managedBy
      ).cluster,
      theirs
    )
    const p = planFor(replaced, acme, reconciler, later)
    assert.isFalse(p.actions.some((action) => action._tag === "Apply" || action._tag === "Delete"))
    assert.deepStrictEqual(
      p.outcome.conflicts.map((conflict) => conflict.existing.metadata.uid),
      ["uid-theirs"]
    )
  })
})

describe("plan: deleting a tenant", () => {
  const acme = tenant("acme", { configMaps: ["a", "b"], clusterRole: true })
  const deleting = (cluster: Simulator.Cluster): Simulator.Cluster => {
    const primary = Simulator.get(cluster, refOf(acme))
    if (primary === undefined) throw new Error("no primary")
    return Simulator.insert(cluster, {
      ...primary,
      metadata: { ...primary.metadata, deletionTimestamp: later }
    })
  }

  it("deletes the namespace (not its contents) and cluster-scoped children, keeps the finalizer and requeues", () => {
    const cluster = deleting(ready(withPrimary(acme), acme))
    const p = planFor(cluster, acme, reconciler, later)
    assert.deepStrictEqual(p.actions.map(show), [
      "Delete ClusterRole /t-acme-view",
      "Delete Namespace /t-acme",
      "ApplyStatus",
      "Event Normal Deleted",
      "Requeue 2000"
    ])
    assert.isTrue(p.outcome.deleting)
    assert.strictEqual(p.outcome.remaining.length, 6)
  })

  it("waits while the namespace terminates, then removes the finalizer last, and the tenant goes", () => {
    const cluster = deleting(ready(withPrimary(acme), acme))
    const first = Simulator.applyActions(
      cluster,
      planFor(cluster, acme, reconciler, later).actions,
      later,
      managedBy
    ).cluster
    // The namespace is terminating and still holds its contents: nothing more to delete, wait.
    const waiting = planFor(first, acme, reconciler, later)
    assert.deepStrictEqual(waiting.actions.map(show), ["Requeue 2000"])
    const settled = Simulator.settle(first, later)
    const last = planFor(settled, acme, reconciler, later)
    assert.deepStrictEqual(last.actions.map(show), [`RemoveFinalizer ${tenantFinalizer}`])
    const gone = Simulator.applyActions(settled, last.actions, later, managedBy).cluster
    assert.isUndefined(Simulator.get(gone, refOf(acme)))
  })

  it("patches status before releasing when another finalizer keeps the tenant", () => {
    const kept = ready(
      withPrimary({ ...acme, metadata: { ...acme.metadata, finalizers: ["other.io/keep"] } }),
      acme
    )
    const cluster = Simulator.settle(
      Simulator.applyActions(
        deleting(kept),
        planFor(deleting(kept), acme, reconciler, later).actions,
        later,
        managedBy
      ).cluster,
      later
    )
    assert.deepStrictEqual(planFor(cluster, acme, reconciler, later).actions.map(show), [
      "ApplyStatus",
      `RemoveFinalizer ${tenantFinalizer}`
    ])
  })

  it("does nothing for a deleting tenant that never got the finalizer", () => {
    const cluster = withPrimary(
      {
        ...acme,
        metadata: { ...acme.metadata, deletionTimestamp: later, finalizers: ["other.io/keep"] }
      },
      [desiredNamespace(acme)]
    )
    assert.deepStrictEqual(planFor(cluster, acme).actions, [])
  })

  it("never removes the finalizer while an owned child remains, even one that is already terminating", () => {
    const stuck: KubeObject = {
      ...desiredConfigMap(acme, "a"),
      metadata: { ...desiredConfigMap(acme, "a").metadata, finalizers: ["other.io/hold"] }
    }
    let cluster = deleting(ready(withPrimary(acme), acme))
    cluster = Simulator.insert(cluster, {
      ...stuck,
      metadata: { ...stuck.metadata, uid: Simulator.get(cluster, refOf(stuck))?.metadata.uid }
    })
    const result = Simulator.converge(cluster, refOf(acme), reconciler, { now: later })
    assert.isTrue(result.converged)
    assert.deepStrictEqual(result.final?.actions.map(show), ["Requeue 2000"])
    assert.isDefined(Simulator.get(result.cluster, refOf(acme)))
  })
})

describe("plan: waiting backs off with how long it has taken", () => {
  it("waits waitMillis for something that has just begun or whose start is unknown", () => {
    assert.strictEqual(waitAfter(2000, [undefined], now), 2000)
    assert.strictEqual(waitAfter(2000, [now], now), 2000)
    assert.strictEqual(waitAfter(2000, ["not a time"], now), 2000)
    assert.strictEqual(waitAfter(2000, ["2024-06-01T11:00:00Z", undefined], now), 2000)
  })

  it("waits as long again as it has taken, from the most recent start, up to maxWaitMillis", () => {
    assert.strictEqual(waitAfter(2000, ["2024-06-01T11:59:30Z"], now), 30_000)
    assert.strictEqual(waitAfter(2000, ["2024-06-01T11:00:00Z", "2024-06-01T11:59:50Z"], now), 10_000)
    assert.strictEqual(waitAfter(2000, ["2024-06-01T11:00:00Z"], now), maxWaitMillis)
    assert.strictEqual(waitAfter(2000, ["2024-06-01T12:00:01Z"], now), 2000, "a start in the future")
  })

  it("looks again at a tenant whose last child has been terminating for a minute after a minute, not every 2 s", () => {
    const acme = tenant("acme", { configMaps: ["a"] })
    const stuck = (cluster: Simulator.Cluster): Simulator.Cluster => {
      const child = Simulator.get(cluster, refOf(desiredConfigMap(acme, "a")))
      if (child === undefined) throw new Error("no child")
      return Simulator.insert(cluster, {
        ...child,
        metadata: {
          ...child.metadata,
          deletionTimestamp: "2024-06-01T11:59:00Z",
          finalizers: ["other.io/hold"]
        }
      })
    }
    const live = stuck(ready(withPrimary(acme), acme))
    assert.deepStrictEqual(planFor(live, acme).actions.map(show).slice(-1), ["Requeue 60000"])
    const primary = Simulator.get(live, refOf(acme))
    if (primary === undefined) throw new Error("no primary")
    const deleting = Simulator.insert(live, {
      ...primary,
      metadata: { ...primary.metadata, deletionTimestamp: now }
    })
    const namespace = Simulator.get(deleting, refOf(desiredNamespace(acme)))
    if (namespace === undefined) throw new Error("no namespace")
    // The namespace just began to go: its contents count from then.
    const going = Simulator.insert(deleting, {
      ...namespace,
      metadata: { ...namespace.metadata, deletionTimestamp: "2024-06-01T11:59:58Z" }
    })
    assert.deepStrictEqual(planFor(going, acme).actions.map(show).slice(-1), ["Requeue 2000"])
    assert.deepStrictEqual(
      planFor(going, acme, reconciler, "2024-06-01T12:01:00Z").actions.map(show).slice(-1),
      ["Requeue 62000"]
    )
  })
})

describe("plan: a held deletion", () => {
  const acme = tenant("acme", { configMaps: ["a", "b"], clusterRole: true })
  const hold = { reason: "ApiDeleting", message: "the tenant API is being deleted" }
  let asked = 0
  const holding: Reconciler<Tenant, Tenant> = {
    ...reconciler,
    holdDeletion: (snapshot) => {
      asked++
      return snapshot.primary.metadata.annotations?.["test.kleff.io/hold"] === "yes" ? hold : undefined
    }
  }
  const deletedAt = (
    cluster: Simulator.Cluster,
    at: string,
    annotations: Readonly<Record<string, string>> = { "test.kleff.io/hold": "yes" }
  ) => {
    const primary = Simulator.get(cluster, refOf(acme))
    if (primary === undefined) throw new Error("no primary")
    return Simulator.insert(cluster, {
      ...primary,
      metadata: { ...primary.metadata, deletionTimestamp: at, annotations }
    })
  }

  it("deletes nothing, keeps the finalizer, reports the hold with one Warning, and looks again", () => {
    const cluster = deletedAt(ready(withPrimary(acme), acme), now)
    const first = planFor(cluster, acme, holding)
    assert.deepStrictEqual(first.actions.map(show), [
      "ApplyStatus",
      "Event Warning ApiDeleting",
      "Requeue 2000"
    ])
    assert.deepStrictEqual(first.outcome.held, hold)
    assert.strictEqual(first.outcome.remaining.length, 6)
    const patch = first.actions[0]
    assert.strictEqual(patch?._tag, "ApplyStatus")
    if (patch?._tag === "ApplyStatus") {
      const conditions = patch.status.conditions as ReadonlyArray<{ reason: string; message: string }>
      assert.deepStrictEqual(
        conditions.map((condition) => [condition.reason, condition.message]),
        [["ApiDeleting", "the tenant API is being deleted"]]
      )
    }
    // Once the status records it, a look an hour later only waits, and for longer.
    const recorded = Simulator.applyActions(cluster, first.actions, now, managedBy).cluster
    assert.deepStrictEqual(planFor(recorded, acme, holding, "2024-06-01T12:00:40Z").actions.map(show), [
      "Requeue 40000"
    ])
    assert.deepStrictEqual(planFor(recorded, acme, holding, "2024-06-01T13:00:00Z").actions.map(show), [
      `Requeue ${maxWaitMillis}`
    ])
  })

  it("releases the finalizer once the primary controls nothing (its children orphaned), and asks for no primary alive", () => {
    asked = 0
    const live = ready(withPrimary(acme), acme)
    assert.strictEqual(planFor(live, acme, holding).actions.length, 0)
    assert.strictEqual(asked, 0, "holdDeletion is asked of deleting primaries only")
    let cluster = deletedAt(live, now)
    for (const object of Simulator.objects(cluster)) {
      if (object.metadata.ownerReferences === undefined) continue
      cluster = Simulator.insert(cluster, {
        ...object,
        metadata: { ...object.metadata, ownerReferences: [] }
      })
    }
    const p = planFor(cluster, acme, holding)
    assert.deepStrictEqual(p.actions.map(show), [`RemoveFinalizer ${tenantFinalizer}`])
    const gone = Simulator.settle(Simulator.applyActions(cluster, p.actions, now, managedBy).cluster, now)
    assert.isUndefined(Simulator.get(gone, refOf(acme)))
    assert.isDefined(Simulator.get(gone, refOf(desiredNamespace(acme))), "the orphaned namespace stays")
  })

  it("deletes as usual once the hold is lifted", () => {
    const cluster = deletedAt(ready(withPrimary(acme), acme), now, {})
    assert.deepStrictEqual(planFor(cluster, acme, holding).actions.map(show).slice(0, 2), [
      "Delete ClusterRole /t-acme-view",
      "Delete Namespace /t-acme"
    ])
  })
})

describe("plan: events and determinism", () => {
  it("summarises many writes within the event size limit", () => {
    const many = Array.from({ length: 200 }, (_, i) =>
      desiredConfigMap(tenant("acme"), `config-map-with-a-long-name-${i}`)
    )
    const message = summarizeWrites({ created: many, updated: [], deleted: [] })
    assert.isAtMost(message.length, 1024)
    assert.match(message, /and \d+ more$/)
  })

  it("plans a child desired twice once, as desired first: on creation and once it exists", () => {
    const acme = tenant("acme", { configMaps: ["a"] })
    const twice: Reconciler<Tenant, Tenant> = {
      ...reconciler,
      desired: (decision, observed) => {
        const desired = reconciler.desired(decision, observed)
        const second = desiredConfigMap(acme, "a")
        return { ...desired, objects: [...desired.objects, { ...second, data: { other: "value" } }] }
      }
    }
    const created = planFor(withPrimary(acme), acme, twice)
    const applies = created.actions.filter((action) => action._tag === "Apply")
    const ofA = applies.filter((action) => keyOf(action.object) === "/ConfigMap/t-acme/a")
    assert.strictEqual(ofA.length, 1)
    assert.deepStrictEqual(ofA[0]?.object.data, { tenant: "acme", name: "a" })
    // Converged as desired first: the later duplicate is no reason to write.
    assert.deepStrictEqual(planFor(ready(withPrimary(acme), acme), acme, twice, later).actions, [])
  })

  it("does not depend on the order of owned objects or of desired()", () => {
    const acme = tenant("acme", { configMaps: ["a", "b", "c"], clusterRole: true })
    const cluster = ready(withPrimary(acme), acme)
    const changed = edited(cluster, acme, { configMaps: [], clusterRole: false, cpu: "2" })
    const observed = Simulator.observe(changed, refOf(acme), reconciler)
    if (observed === undefined) throw new Error("no primary")
    const reference = plan(reconciler, observed, later)
    const reversed = plan(
      tenantReconciler([5, 4, 3, 2, 1, 0]),
      { ...observed, owned: [...observed.owned].reverse() },
      later
    )
    assert.deepStrictEqual(reversed.actions, reference.actions)
    assert.isTrue(reference.actions.some(isWrite))
  })
})

describe("plan: the time of a reconcile", () => {
  /** Reports when it last looked, and asks to look again at the next full minute. */
  const clockReader: Reconciler<Tenant, string> = {
    name: "clock-reader",
    primary: TenantType,
    owned: [],
    decide: (observed) => observed.now,
    desired: (at) => ({ objects: [], recheckAfterMillis: 60_000 - (Date.parse(at) % 60_000) }),
    status: (at) => ({ fields: { lookedAt: at }, conditions: [] })
  }
  const acme = tenant("acme")

  it("decide sees the time the plan is made at; what it derives from it is planned", () => {
    const observed = Simulator.observe(withPrimary(acme), refOf(acme), clockReader)
    if (observed === undefined) throw new Error("no primary")
    for (const [at, wait] of [
      [now, 60_000],
      ["2024-06-01T12:00:45Z", 15_000]
    ] as const) {
      const planned = plan(clockReader, observed, at)
      assert.strictEqual(planned.decision, at)
      const status = planned.actions.find((action) => action._tag === "ApplyStatus")
      assert.strictEqual(status?._tag === "ApplyStatus" ? status.status.lookedAt : undefined, at)
      assert.deepStrictEqual(planned.actions.at(-1), Action.Requeue({ afterMillis: wait }))
    }
  })

  it("a re-plan within the same reconcile keeps the first plan's decision, whatever its time", () => {
    const observed = Simulator.observe(withPrimary(acme), refOf(acme), clockReader)
    if (observed === undefined) throw new Error("no primary")
    const replanned = plan(clockReader, observed, later, { decided: { decision: now } })
    assert.strictEqual(replanned.decision, now)
    const status = replanned.actions.find((action) => action._tag === "ApplyStatus")
    assert.strictEqual(status?._tag === "ApplyStatus" ? status.status.lookedAt : undefined, now)
  })
})
