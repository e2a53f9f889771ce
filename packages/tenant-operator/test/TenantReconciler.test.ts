import { assert, describe, it } from "@effect/vitest"
import { Action, type KubeObject, keyOf, keyOfRef, keyOfType, plan, Quantity, Simulator } from "@kleff/core"
import { Result } from "effect"
import { type Tenant, tenantCrdName } from "../src/api/Tenant.ts"
import { defaultConfig, makeConfig } from "../src/desired/Config.ts"
import { LimitRangeType, NamespaceType, ResourceQuotaType } from "../src/desired/ResourceTypes.ts"
import {
  crdDeletingReason,
  makeTenantReconciler,
  namespaceFinalizer,
  namespaceReference,
  planReference,
  tenantControllerName,
  tenantCrdReference
} from "../src/TenantReconciler.ts"
import { tenantConditionTypes } from "../src/TenantStatus.ts"
import {
  foreignNamespace,
  planFor,
  samplePlan,
  sampleTenant,
  snapshot,
  withSpec,
  withStatus
} from "./fixtures.ts"
import {
  clusterWith,
  conditionIn,
  conditionsIn,
  deleteTenant,
  editTenant,
  now,
  objectIn,
  reconcile,
  tenantIn,
  writesOf
} from "./simulation.ts"

const reconciler = makeTenantReconciler(defaultConfig)
const tenant = sampleTenant()
const basic = samplePlan("basic")
const pro = samplePlan("pro")
const namespaceRef = { apiVersion: "v1", kind: "Namespace", name: "tenant-example-tenant" }
const tenantRef = { apiVersion: "kleff.kleff.io/v1", kind: "Tenant", name: "example-tenant" }
const quotaRef = {
  apiVersion: "v1",
  kind: "ResourceQuota",
  name: "tenant-quota",
  namespace: "tenant-example-tenant"
}

const statusSummary = (cluster: Simulator.Cluster) =>
  Object.fromEntries(
    conditionsIn(cluster).map((condition) => [condition.type, `${condition.status} ${condition.reason}`])
  )

/** A cluster where the sample tenant has converged on `plans[0]`. */
const converged = (config = defaultConfig, plans = [basic, pro]) =>
  reconcile(clusterWith([...plans, tenant]), config).cluster

describe("makeTenantReconciler", () => {
  it("names the controller, the primary, the finalizer and the owned kinds", () => {
    assert.strictEqual(reconciler.name, tenantControllerName)
    assert.strictEqual(reconciler.name, "tenant-controller")
    assert.strictEqual(reconciler.primary.kind, "Tenant")
    assert.strictEqual(reconciler.finalizer, namespaceFinalizer)
    assert.deepStrictEqual(
      reconciler.owned.map((type) => type.kind),
      [
        "Namespace",
        "ValidatingAdmissionPolicyBinding",
        "NetworkPolicy",
        "LimitRange",
        "ResourceQuota",
        "RoleBinding"
      ]
    )
    const everything = makeTenantReconciler(
      makeConfig({ mesh: { enabled: true }, gatekeeper: { enabled: true } })
    )
    assert.include(
      everything.owned.map((type) => type.kind),
      "K8sAllowedRepos"
    )
    // The mesh's kinds are the mesh controller's.
    assert.notInclude(
      everything.owned.map((type) => type.kind),
      "PeerAuthentication"
    )
  })
})

describe("a new Tenant", () => {
  it("gets its namespace and everything in it, and reports TenantReady", () => {
    const run = reconcile(clusterWith([basic, tenant]), defaultConfig)
    const cluster = run.cluster
    const current = tenantIn(cluster)
    assert.include(current?.metadata.finalizers ?? [], namespaceFinalizer)
    assert.deepStrictEqual(statusSummary(cluster), {
      NamespaceReady: "True NamespaceProvisioned",
      PlanApplied: "True PlanApplied",
      AccessReady: "True AccessGranted",
      IsolationReady: "True PoliciesApplied",
      MeshReady: "True MeshDisabled",
      TenantReady: "True Ready"
    })
    assert.strictEqual(current?.status?.phase, "Active")
    assert.strictEqual(current?.status?.namespace, "tenant-example-tenant")
    assert.strictEqual(current?.status?.observedGeneration, 1)
    const ns = objectIn(cluster, namespaceRef)
    assert.strictEqual(ns?.metadata.labels?.["kleff.io/tenant-plan"], "basic")
    assert.strictEqual(objectIn(cluster, quotaRef)?.metadata.namespace, "tenant-example-tenant")
  })

  it("creates the isolation, then the limits and the quota, and the RoleBinding that lets the tenant in last", () => {
    const first = planFor(reconciler, tenant, [basic])
    assert.deepStrictEqual(
      first.actions.flatMap((action) =>
        action._tag === "Apply" ? [`${action.object.kind}/${action.object.metadata.name}`] : []
      ),
      [
        "Namespace/tenant-example-tenant",
        "ValidatingAdmissionPolicyBinding/kleff-tenant-services-example-tenant",
        "ValidatingAdmissionPolicyBinding/kleff-trusted-registries-example-tenant",
        "NetworkPolicy/allow-dns",
        "NetworkPolicy/allow-platform",
        "NetworkPolicy/allow-same-namespace",
        "NetworkPolicy/default-deny",
        "LimitRange/tenant-limits",
        "ResourceQuota/tenant-quota",
        "RoleBinding/tenant-owner"
      ]
    )
  })

  it("reports progress on the first reconcile, before anything exists", () => {
    const first = planFor(reconciler, tenant, [basic])
    assert.strictEqual(first.outcome.desired?.objects.length, 10)
    const report = first.report ?? assert.fail("no report")
    assert.deepStrictEqual(report.fields, { namespace: "tenant-example-tenant", phase: "Pending" })
    const byType = Object.fromEntries(report.conditions.map((condition) => [condition.type, condition]))
    assert.strictEqual(byType.NamespaceReady?.reason, "NamespaceProvisioning")
    assert.strictEqual(byType.PlanApplied?.reason, "NamespaceNotReady")
    assert.strictEqual(byType.TenantReady?.status, "False")
    assert.strictEqual(byType.TenantReady?.reason, "NamespaceProvisioning")
    assert.include(byType.TenantReady?.message, "NamespaceReady")
    assert.deepStrictEqual(
      report.conditions.map((condition) => condition.type),
      [...tenantConditionTypes]
    )
  })

  it("costs no write once converged, on every later resync", () => {
    const cluster = converged()
    const again = Simulator.converge(cluster, tenantRef, reconciler, { now: "2030-01-01T00:00:00Z" })
    assert.strictEqual(again.rounds.length, 0)
    assert.deepStrictEqual(again.final?.actions, [])
  })
})

describe("changing a Tenant", () => {
  it("re-applies quota, limits, labels and the policy parameter in place when the plan changes", () => {
    const cluster = reconcile(
      editTenant(converged(), (t) => withSpec(t, { plan: "pro" })),
      defaultConfig
    ).cluster
    const hard =
      (objectIn(cluster, quotaRef)?.spec as { hard: Record<string, string> } | undefined)?.hard ?? {}
    for (const [resource, value] of Object.entries(pro.spec.quota)) {
      assert.isTrue(
        Quantity.sameValue(hard[resource] ?? "", value),
        `${resource}: ${hard[resource]} ≠ ${value}`
      )
    }
    const labels = objectIn(cluster, namespaceRef)?.metadata.labels
    assert.strictEqual(labels?.["kleff.io/tenant-plan"], "pro")
    assert.strictEqual(labels?.["pod-security.kubernetes.io/enforce"], "baseline")
    for (const name of ["kleff-trusted-registries-example-tenant", "kleff-tenant-services-example-tenant"]) {
      const binding = objectIn(cluster, {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingAdmissionPolicyBinding",
        name
      })
      assert.deepStrictEqual((binding?.spec as { paramRef: unknown } | undefined)?.paramRef, {
        name: "pro",
        parameterNotFoundAction: "Deny"
      })
    }
    assert.strictEqual(conditionIn(cluster, "TenantReady").status, "True")
    assert.strictEqual(tenantIn(cluster)?.status?.observedGeneration, 2)
  })

  it("re-applies the quota when the Plan itself is edited and the Tenant is not", () => {
    const before = converged()
    const stored = Simulator.get(before, { apiVersion: "kleff.kleff.io/v1", kind: "Plan", name: "basic" })
    if (stored === undefined) return assert.fail("no plan")
    const edited = { ...basic, spec: { ...basic.spec, quota: { ...basic.spec.quota, pods: "7" } } }
    const cluster = reconcile(
      Simulator.insert(before, { ...stored, spec: edited.spec }, now),
      defaultConfig
    ).cluster
    const hard = (objectIn(cluster, quotaRef)?.spec as { hard: Record<string, string> } | undefined)?.hard
    assert.strictEqual(hard?.pods, "7")
    assert.strictEqual(conditionIn(cluster, "TenantReady").status, "True")
  })

  it("moves the username label when the username changes, and nothing else", () => {
    const before = converged()
    const run = reconcile(
      editTenant(before, (t) => withSpec(t, { username: "renamed" })),
      defaultConfig
    )
    assert.strictEqual(
      objectIn(run.cluster, namespaceRef)?.metadata.labels?.["kleff.io/tenant-username"],
      "renamed"
    )
    const applied = writesOf(run).filter((action) => action._tag === "Apply")
    assert.deepStrictEqual(
      applied.map((action) => (action._tag === "Apply" ? keyOf(action.object) : "")),
      [keyOfRef(namespaceRef)]
    )
  })

  it("reports only the namespace as updating while its labels follow a new username", () => {
    const edited = editTenant(converged(), (t) => withSpec(t, { username: "renamed" }))
    const observed = Simulator.observe(edited, tenantRef, reconciler)
    if (observed === undefined) return assert.fail("tenant gone")
    const report = plan(reconciler, observed, now).report ?? assert.fail("no report")
    const summary = Object.fromEntries(report.conditions.map((c) => [c.type, `${c.status} ${c.reason}`]))
    assert.deepStrictEqual(summary, {
      NamespaceReady: "False NamespaceProvisioning",
      PlanApplied: "True PlanApplied",
      AccessReady: "True AccessGranted",
      IsolationReady: "True PoliciesApplied",
      MeshReady: "True MeshDisabled",
      TenantReady: "False NamespaceProvisioning"
    })
  })

  it("keeps the namespace name when the operator's template changes", () => {
    const cluster = reconcile(converged(), makeConfig({ namespaceTemplate: "ns-{username}" })).cluster
    assert.strictEqual(tenantIn(cluster)?.status?.namespace, "tenant-example-tenant")
    assert.isDefined(objectIn(cluster, namespaceRef))
    assert.isUndefined(objectIn(cluster, { ...namespaceRef, name: "ns-exampleuser" }))
  })
})

describe("the tenant's namespace", () => {
  it("is never moved or deleted by an edited status", () => {
    const cluster = converged()
    const current = tenantIn(cluster) as Tenant
    const edited = Simulator.insert(
      cluster,
      { ...current, status: { ...current.status, namespace: "elsewhere" } },
      now
    )
    const run = reconcile(edited, defaultConfig)
    assert.isFalse(writesOf(run).some((action) => action._tag === "Delete"))
    assert.isDefined(objectIn(run.cluster, namespaceRef))
    assert.isUndefined(objectIn(run.cluster, { ...namespaceRef, name: "elsewhere" }))
    assert.strictEqual(tenantIn(run.cluster)?.status?.namespace, "tenant-example-tenant")
  })

  it("comes back under the same name when someone deletes it", () => {
    const cluster = converged()
    const ns = objectIn(cluster, namespaceRef) as KubeObject
    const gone = Simulator.settle(
      Simulator.applyActions(
        cluster,
        [Action.Delete({ ref: namespaceRef, uid: ns.metadata.uid ?? "" })],
        now,
        tenantControllerName
      ).cluster,
      now
    )
    assert.isUndefined(objectIn(gone, namespaceRef))
    const run = reconcile(gone, makeConfig({ namespaceTemplate: "other-{name}" }))
    assert.isDefined(objectIn(run.cluster, namespaceRef))
    assert.strictEqual(conditionIn(run.cluster, "TenantReady").status, "True")
  })
})

describe("an unresolvable plan", () => {
  it("keeps the quota and limits in place and says PlanNotFound", () => {
    const before = converged()
    const quota = objectIn(before, quotaRef)
    const run = reconcile(
      editTenant(before, (t) => withSpec(t, { plan: "gold" })),
      defaultConfig
    )
    assert.deepStrictEqual(
      writesOf(run).filter((action) => action._tag === "Delete" || action._tag === "Apply"),
      []
    )
    assert.deepStrictEqual(objectIn(run.cluster, quotaRef)?.spec, quota?.spec)
    const planApplied = conditionIn(run.cluster, "PlanApplied")
    assert.strictEqual(planApplied.status, "False")
    assert.strictEqual(planApplied.reason, "PlanNotFound")
    assert.include(planApplied.message, `Plan "gold" does not exist`)
    assert.include(planApplied.message, "keeps its current quota")
    assert.strictEqual(conditionIn(run.cluster, "TenantReady").reason, "PlanNotFound")
    assert.strictEqual(conditionIn(run.cluster, "NamespaceReady").status, "True")
    assert.strictEqual(tenantIn(run.cluster)?.status?.phase, "Failed")
  })

  it("retains every owned kind, quota and limits included", () => {
    const desired =
      planFor(reconciler, withSpec(tenant, { plan: "gold" }), [basic]).outcome.desired ?? assert.fail("none")
    assert.deepStrictEqual(desired.objects, [])
    assert.includeMembers([...(desired.retain ?? [])], [ResourceQuotaType, LimitRangeType])
  })

  it("provisions nothing for a new tenant until the plan exists", () => {
    const cluster = reconcile(clusterWith([basic, withSpec(tenant, { plan: "gold" })]), defaultConfig).cluster
    assert.isUndefined(objectIn(cluster, namespaceRef))
    assert.strictEqual(conditionIn(cluster, "NamespaceReady").reason, "PlanNotFound")
    assert.include(conditionIn(cluster, "PlanApplied").message, "Nothing is provisioned")
    assert.isUndefined(tenantIn(cluster)?.status?.namespace)
  })

  it("says InvalidPlan, with the decode message, for a Plan that does not decode", () => {
    const broken: KubeObject = { ...basic, spec: { ...basic.spec, podSecurity: "privileged" } }
    const cluster = reconcile(clusterWith([broken, tenant]), defaultConfig).cluster
    const planApplied = conditionIn(cluster, "PlanApplied")
    assert.strictEqual(planApplied.reason, "InvalidPlan")
    assert.include(planApplied.message, `["spec"]["podSecurity"]`)
  })

  it("says InvalidPlan in messages the API accepts, however many issues the Plan has", () => {
    // The CRD cannot bound quota keys; a bad value under each of 60 long keys is 60 issues, each with its path.
    const quota = Object.fromEntries(
      Array.from({ length: 60 }, (_, index) => [`example.com/${"r".repeat(1_000)}${index}`, "1e99999999999"])
    )
    const broken: KubeObject = { ...basic, spec: { ...basic.spec, quota } }
    const cluster = reconcile(clusterWith([broken, tenant]), defaultConfig).cluster
    assert.strictEqual(conditionIn(cluster, "TenantReady").reason, "InvalidPlan")
    for (const condition of conditionsIn(cluster)) {
      assert.isAtMost(new TextEncoder().encode(condition.message).length, 32_768, condition.type)
    }
    assert.include(conditionIn(cluster, "PlanApplied").message, "cut")
  })

  it("recovers when the plan appears", () => {
    const missing = reconcile(clusterWith([withSpec(tenant, { plan: "basic" })]), defaultConfig).cluster
    assert.strictEqual(conditionIn(missing, "PlanApplied").reason, "PlanNotFound")
    const cluster = reconcile(Simulator.insert(missing, basic, now), defaultConfig).cluster
    assert.strictEqual(conditionIn(cluster, "TenantReady").status, "True")
  })
})

describe("a namespace that is not the tenant's", () => {
  const foreign = foreignNamespace("tenant-example-tenant")

  it("is never written, and the tenant creates nothing else", () => {
    const run = reconcile(clusterWith([basic, foreign, tenant]), defaultConfig)
    const writes = writesOf(run).filter((action) => action._tag === "Apply" || action._tag === "Delete")
    assert.deepStrictEqual(writes, [])
    assert.deepStrictEqual(objectIn(run.cluster, namespaceRef)?.metadata.labels, {
      team: "someone-else",
      "kubernetes.io/metadata.name": "tenant-example-tenant"
    })
    const namespaceReady = conditionIn(run.cluster, "NamespaceReady")
    assert.strictEqual(namespaceReady.reason, "NamespaceConflict")
    assert.include(namespaceReady.message, "never adopted")
    assert.strictEqual(conditionIn(run.cluster, "TenantReady").reason, "NamespaceConflict")
    assert.strictEqual(tenantIn(run.cluster)?.status?.phase, "Failed")
    assert.isUndefined(tenantIn(run.cluster)?.status?.namespace)
    assert.isTrue(
      run.final?.outcome.conflicts.some((conflict) => keyOf(conflict.existing) === keyOf(foreign))
    )
  })

  it("does not hold the Tenant's deletion: the finalizer goes at once", () => {
    const cluster = reconcile(clusterWith([basic, foreign, tenant]), defaultConfig).cluster
    const run = reconcile(deleteTenant(cluster), defaultConfig)
    assert.isUndefined(tenantIn(run.cluster))
    assert.strictEqual(run.rounds.length, 1)
    assert.deepStrictEqual(
      writesOf(run).map((action) => action._tag),
      ["RemoveFinalizer"]
    )
    assert.isDefined(objectIn(run.cluster, namespaceRef))
  })
})

describe("deleting a Tenant", () => {
  it("deletes the namespace, waits until it is gone, then releases the finalizer", () => {
    const run = reconcile(deleteTenant(converged()), defaultConfig)
    assert.isUndefined(tenantIn(run.cluster))
    assert.isUndefined(objectIn(run.cluster, namespaceRef))
    assert.isUndefined(objectIn(run.cluster, quotaRef))
    const tags = writesOf(run).map((action) => action._tag)
    assert.strictEqual(tags.at(-1), "RemoveFinalizer")
    for (const round of run.rounds) {
      if (round.plan.actions.some((action) => action._tag === "RemoveFinalizer")) {
        assert.deepStrictEqual(round.plan.outcome.remaining, [])
      }
    }
  })

  it("reports Terminating while children remain", () => {
    const cluster = deleteTenant(converged())
    const observed = Simulator.observe(cluster, tenantRef, reconciler)
    if (observed === undefined) return assert.fail("tenant gone")
    const result = plan(reconciler, observed, now)
    const report = result.report ?? assert.fail("no report")
    assert.strictEqual(report.fields.phase, "Terminating")
    assert.strictEqual(report.fields.namespace, "tenant-example-tenant")
    assert.isTrue(report.conditions.every((condition) => condition.reason === "Terminating"))
    assert.include(report.conditions[0]?.message, "Namespace tenant-example-tenant")
  })
})

describe("a namespace the operator made for a Tenant of this name, orphaned", () => {
  it("is a conflict, never adopted on its own; the message names tenant-operator adopt", () => {
    const orphan: KubeObject = {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: "tenant-example-tenant",
        uid: "uid-orphan",
        labels: {
          "app.kubernetes.io/managed-by": "kleff-tenant-operator",
          "kleff.io/tenant": "example-tenant"
        }
      }
    }
    const run = reconcile(clusterWith([basic, orphan, tenant]), defaultConfig)
    assert.deepStrictEqual(objectIn(run.cluster, namespaceRef)?.metadata.ownerReferences, undefined)
    const namespaceReady = conditionIn(run.cluster, "NamespaceReady")
    assert.strictEqual(namespaceReady.reason, "NamespaceConflict")
    assert.include(namespaceReady.message, "tenant-operator adopt example-tenant")
    const foreign = reconcile(
      clusterWith([basic, foreignNamespace("tenant-example-tenant"), tenant]),
      defaultConfig
    )
    assert.notInclude(conditionIn(foreign.cluster, "NamespaceReady").message, "tenant-operator adopt")
  })
})

describe("a namespace held in Terminating by someone else", () => {
  /** `cluster` with the tenant's namespace terminating since `now`, held by a foreign finalizer inside. */
  const held = (cluster: Simulator.Cluster): Simulator.Cluster => {
    const namespace = objectIn(cluster, namespaceRef) ?? assert.fail("no namespace")
    return Simulator.insert(
      cluster,
      {
        ...namespace,
        metadata: { ...namespace.metadata, deletionTimestamp: now },
        status: {
          phase: "Terminating",
          conditions: [
            {
              type: "NamespaceFinalizersRemaining",
              status: "True",
              reason: "SomeFinalizersRemain",
              message:
                "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
              lastTransitionTime: now
            }
          ]
        }
      },
      now
    )
  }
  const reportOf = (cluster: Simulator.Cluster) => {
    const observed = Simulator.observe(cluster, tenantRef, reconciler)
    if (observed === undefined) return assert.fail("tenant gone")
    return plan(reconciler, observed, now).report ?? assert.fail("no report")
  }

  it("is reported on a deleting Tenant: reason, what holds it, since when", () => {
    const report = reportOf(held(deleteTenant(converged())))
    assert.strictEqual(report.fields.phase, "Terminating")
    for (const condition of report.conditions) {
      assert.strictEqual(condition.reason, "NamespaceDeletionBlocked")
      assert.include(condition.message, `Namespace "tenant-example-tenant" has been terminating since ${now}`)
      assert.include(condition.message, "example.com/hold in 1 resource instances")
    }
  })

  it("is reported on a live Tenant whose namespace someone deleted", () => {
    const report = reportOf(held(converged()))
    const namespaceReady = report.conditions.find((condition) => condition.type === "NamespaceReady")
    assert.strictEqual(namespaceReady?.reason, "NamespaceDeletionBlocked")
    assert.include(namespaceReady?.message, "example.com/hold")
    assert.include(namespaceReady?.message, "It is created again once it is gone.")
  })
})

describe("deleting the Tenant CRD", () => {
  const crdRef = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    name: tenantCrdName
  }
  /** What the API server does when the CRD is deleted: the CRD and every Tenant get a deletionTimestamp. */
  const deleteCrd = (cluster: Simulator.Cluster): Simulator.Cluster => {
    const crd = objectIn(cluster, crdRef) ?? assert.fail("no CRD")
    return deleteTenant(
      Simulator.insert(cluster, { ...crd, metadata: { ...crd.metadata, deletionTimestamp: now } }, now)
    )
  }
  const children = (cluster: Simulator.Cluster) =>
    Simulator.objects(cluster).filter((object) => object.metadata.ownerReferences !== undefined)

  it("deletes nothing: the namespace and every child stay, the finalizer stays, and the Tenant says why and what to do", () => {
    const before = converged()
    const run = reconcile(deleteCrd(before), defaultConfig)
    assert.deepStrictEqual(
      writesOf(run).map((action) => action._tag),
      ["ApplyStatus", "Event"]
    )
    assert.deepStrictEqual(children(run.cluster), children(before))
    assert.include(tenantIn(run.cluster)?.metadata.finalizers ?? [], namespaceFinalizer)
    assert.strictEqual(tenantIn(run.cluster)?.status?.phase, "Terminating")
    for (const type of tenantConditionTypes) {
      const condition = conditionIn(run.cluster, type)
      assert.strictEqual(condition.reason, crdDeletingReason)
      assert.include(
        condition.message,
        `CustomResourceDefinition ${tenantCrdName} is being deleted (since ${now})`
      )
      assert.include(condition.message, 'namespace "tenant-example-tenant" and everything in it stay')
      assert.include(condition.message, "kubectl delete tenant example-tenant --cascade=orphan --wait=false")
      assert.include(condition.message, "tenant-operator adopt example-tenant")
    }
    const event = writesOf(run).find((action) => action._tag === "Event")
    assert.strictEqual(event?._tag === "Event" ? event.reason : undefined, crdDeletingReason)
    // Looked at again with backoff from when the deletion began, not every 5 s.
    const later = Simulator.reconcileOnce(run.cluster, tenantRef, reconciler, { now: "2025-01-01T00:01:00Z" })
    assert.strictEqual(later.reconciled?.requeueAfterMillis, 60_000)
  })

  it("holds as well when the CRD cannot be seen", () => {
    const withCrd = converged()
    const uid = objectIn(withCrd, crdRef)?.metadata.uid ?? ""
    const gone = Simulator.applyAction(withCrd, Action.Delete({ ref: crdRef, uid }), now, "admin")
    if (Result.isFailure(gone)) return assert.fail(gone.failure.message)
    assert.isUndefined(objectIn(gone.success, crdRef))
    const cluster = deleteTenant(gone.success)
    const run = reconcile(cluster, defaultConfig)
    assert.isDefined(objectIn(run.cluster, namespaceRef))
    assert.strictEqual(conditionIn(run.cluster, "TenantReady").reason, crdDeletingReason)
    assert.include(conditionIn(run.cluster, "TenantReady").message, "cannot be seen")
  })

  it("lets the Tenant go once its children are orphaned (--cascade=orphan): the namespace stays", () => {
    let cluster = reconcile(deleteCrd(converged()), defaultConfig).cluster
    // The garbage collector's part of an orphaning delete: owner references removed.
    for (const object of children(cluster))
      cluster = Simulator.insert(
        cluster,
        { ...object, metadata: { ...object.metadata, ownerReferences: [] } },
        now
      )
    const run = reconcile(cluster, defaultConfig)
    assert.deepStrictEqual(
      writesOf(run).map((action) => action._tag),
      ["RemoveFinalizer"]
    )
    assert.isUndefined(tenantIn(run.cluster))
    assert.isDefined(objectIn(run.cluster, namespaceRef))
    assert.isDefined(objectIn(run.cluster, quotaRef))
  })

  it("requeues every Tenant when the CRD starts going, and none for any other change to it", () => {
    const crd = objectIn(converged(), crdRef) ?? assert.fail("no CRD")
    const other = { ...tenant, metadata: { ...tenant.metadata, name: "other" } }
    for (const t of [tenant, other]) assert.deepStrictEqual([...tenantCrdReference.refersTo(t)], [keyOf(crd)])
    assert.isFalse(tenantCrdReference.matters?.(crd))
    assert.isTrue(
      tenantCrdReference.matters?.({ ...crd, metadata: { ...crd.metadata, deletionTimestamp: now } })
    )
    assert.strictEqual(tenantCrdReference.name, tenantCrdName)
  })

  it("indexes a Tenant under its Plan and under the namespace its name settles on, even one that does not decode", () => {
    assert.deepStrictEqual([...planReference.refersTo(tenant)], [keyOf(basic)])
    const broken = { ...tenant, spec: { plan: "basic", username: 7 } } as unknown as KubeObject
    assert.deepStrictEqual([...planReference.refersTo(broken)], [keyOf(basic)])
    assert.deepStrictEqual([...planReference.refersTo({ ...tenant, spec: {} } as KubeObject)], [])
    assert.deepStrictEqual(
      [...namespaceReference(defaultConfig).refersTo(tenant)],
      [keyOfType(NamespaceType, "tenant-example-tenant")]
    )
    assert.deepStrictEqual([...namespaceReference(defaultConfig).refersTo(broken)], [])
  })
})

describe("status for what only the operator can judge", () => {
  it("InvalidNamespaceName: the template gives no valid name, nothing is created", () => {
    const config = makeConfig({ namespaceTemplate: "{userId}" })
    const oidc: Tenant = withSpec(tenant, { userId: "auth0|12345" })
    const cluster = reconcile(clusterWith([basic, oidc]), config).cluster
    assert.deepStrictEqual(
      Simulator.objects(cluster)
        .map((object) => object.kind)
        .sort(),
      ["CustomResourceDefinition", "Plan", "Tenant"]
    )
    const namespaceReady = conditionIn(cluster, "NamespaceReady")
    assert.strictEqual(namespaceReady.reason, "InvalidNamespaceName")
    assert.include(namespaceReady.message, "auth0|12345")
    assert.strictEqual(conditionIn(cluster, "TenantReady").reason, "InvalidNamespaceName")
    assert.strictEqual(tenantIn(cluster)?.status?.phase, "Failed")
  })

  it("InvalidSpec: a Tenant the CRD should have refused is reported, not crashed on", () => {
    const bad = { ...tenant, spec: { ...tenant.spec, username: "Bad_Name" } }
    const result = planFor(reconciler, bad, [basic])
    assert.isUndefined(result.decision, "nothing is decided about a Tenant that does not decode")
    assert.deepStrictEqual(result.outcome.desired?.objects, [])
    // Only its status is written: no finalizer, so deleting it never waits for the operator.
    assert.deepStrictEqual(
      result.actions.map((action) => action._tag),
      ["ApplyStatus"]
    )
    assert.includeMembers([...(result.outcome.desired?.retain ?? [])], [ResourceQuotaType, LimitRangeType])
    const report = result.report ?? assert.fail("no report")
    assert.strictEqual(report.fields.phase, "Failed")
    assert.isTrue(report.conditions.every((condition) => condition.reason === "InvalidSpec"))
    assert.include(report.conditions[0]?.message, `["spec"]["username"]`)
  })

  it("a status written by the operator never blocks decoding", () => {
    const withOddStatus = { ...tenant, status: { namespace: "tenant-example-tenant", phase: "Unheard-of" } }
    assert.strictEqual(planFor(reconciler, withOddStatus, [basic]).decision?._tag, "Resolved")
  })

  it("a child held by someone else is a Conflict on its condition", () => {
    const cluster = converged()
    const foreignPolicy: KubeObject = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: "kleff-trusted-registries-example-tenant", uid: "uid-someone" }
    }
    const run = reconcile(Simulator.insert(cluster, foreignPolicy, now), defaultConfig)
    const isolation = conditionIn(run.cluster, "IsolationReady")
    assert.strictEqual(isolation.reason, "Conflict")
    assert.include(isolation.message, "does not belong to this Tenant")
    assert.strictEqual(conditionIn(run.cluster, "TenantReady").reason, "Conflict")
  })

  it("a write the API server refused is reported on its concern's condition, before children merely not created", () => {
    const namespace = "tenant-example-tenant"
    // Everything in place but the refused object's concern: the namespace exists, the rest is not created yet.
    const cluster = converged()
    const current = tenantIn(cluster) ?? assert.fail("no tenant")
    const inPlace = snapshot(
      current,
      [...cluster.objects.values()].filter((object) => object.kind === "Namespace" || object.kind === "Plan")
    )
    const refusedPlan = (
      ref: { kind: string; apiVersion: string; name: string; namespace?: string },
      reason: string
    ) =>
      plan(reconciler, inPlace, now, {
        refused: { ref, reason, message: "the server's words" }
      })
    const conditionOf = (result: ReturnType<typeof refusedPlan>, type: string) =>
      result.report?.conditions.find((condition) => condition.type === type)

    const limits = refusedPlan(
      { apiVersion: "v1", kind: "LimitRange", name: "tenant-limits", namespace },
      "Invalid"
    )
    assert.strictEqual(conditionOf(limits, "PlanApplied")?.reason, "WriteRefused")
    assert.include(
      conditionOf(limits, "PlanApplied")?.message,
      "LimitRange tenant-example-tenant/tenant-limits (Invalid): the server's words"
    )
    assert.strictEqual(conditionOf(limits, "TenantReady")?.reason, "WriteRefused")

    const ns = refusedPlan({ apiVersion: "v1", kind: "Namespace", name: namespace }, "Forbidden")
    assert.strictEqual(conditionOf(ns, "NamespaceReady")?.reason, "WriteRefused")

    const taken = refusedPlan(
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", name: "tenant-owner", namespace },
      "AlreadyExists"
    )
    assert.strictEqual(conditionOf(taken, "AccessReady")?.reason, "Conflict")
  })

  it("a drifted child is repaired and reported as being updated until it is", () => {
    const cluster = converged()
    const quota = objectIn(cluster, quotaRef) as KubeObject
    const drifted = Simulator.insert(cluster, { ...quota, spec: { hard: { pods: "1000" } } }, now)
    const observed = Simulator.observe(drifted, tenantRef, reconciler)
    if (observed === undefined) return assert.fail("tenant gone")
    const result = plan(reconciler, observed, now)
    const report = result.report ?? assert.fail("no report")
    const planApplied = report.conditions.find((condition) => condition.type === "PlanApplied")
    assert.strictEqual(planApplied?.reason, "Provisioning")
    assert.include(planApplied?.message, "is being updated")
    const repaired = reconcile(drifted, defaultConfig).cluster
    assert.strictEqual(conditionIn(repaired, "PlanApplied").status, "True")
  })

  it("MeshReady is the tenant controller's only while the mesh is disabled", () => {
    assert.strictEqual(conditionIn(converged(), "MeshReady").reason, "MeshDisabled")
  })

  it("TenantReady is True only when every other condition is, and names the first that is not", () => {
    const report = planFor(reconciler, tenant, [basic]).report ?? assert.fail("no report")
    const others = report.conditions.filter((condition) => condition.type !== "TenantReady")
    const ready = report.conditions.find((condition) => condition.type === "TenantReady")
    const firstFalse = others.find((condition) => condition.status !== "True")
    assert.strictEqual(ready?.status, firstFalse === undefined ? "True" : "False")
    assert.strictEqual(ready?.reason, firstFalse?.reason)
    assert.isTrue(ready?.message.startsWith(`${firstFalse?.type}: `))
  })

  it("a sticky status.namespace is kept in every report", () => {
    const reported = withStatus(tenant, { namespace: "tenant-example-tenant" })
    const report =
      planFor(reconciler, withSpec(reported, { plan: "gold" }), [basic]).report ?? assert.fail("none")
    assert.strictEqual(report.fields.namespace, "tenant-example-tenant")
  })
})
