/**
 * The tenant controller as a core `Reconciler`: which kinds it owns, the one decision it takes
 * about a Tenant (`decideTenant`: name its namespace, refuse a foreign namespace, resolve its
 * Plan, and only then build the children), what should exist from that decision (`desired`) and
 * what to report (`status`). A Tenant that does not decode is reported by `invalid`. Anything that
 * goes wrong is a reason in a condition; while a decision is blocked, the tenant's existing
 * objects are retained, never removed; while the Tenant CRD is being deleted, a deleting Tenant's
 * objects are kept (`crdDeletionHold`). No I/O here: decoding, diffing, ordering, finalizers and
 * writes belong to core and k8s.
 */
import {
  apiVersionOf,
  type ConditionInput,
  conditionsOf,
  type DeletionHold,
  type Desired,
  decodeObject,
  describeRef,
  findCondition,
  type InvalidObject,
  isControlledBy,
  isDeleting,
  isOfType,
  Kinds,
  type KubeObject,
  keyOfRef,
  keyOfType,
  type ObjectRef,
  type Observed,
  type Outcome,
  type Reconciler,
  type Reference,
  refOf,
  type Snapshot,
  type StatusReport
} from "@kleff/core"
import { Predicate, Result } from "effect"
import { adoptionVerdict } from "./Adoption.ts"
import { apiVersion } from "./api/Group.ts"
import { type Plan, PlanType } from "./api/Plan.ts"
import {
  decodeTenantStatus,
  type StoredTenant,
  type Tenant,
  type TenantPhase,
  TenantType,
  tenantCrdName
} from "./api/Tenant.ts"
import { tenantOwnerClusterRole } from "./desired/Access.ts"
import {
  allChildren,
  desiredTenantChildren,
  expectedChildRefs,
  type TenantChildren,
  tenantOwnedTypes
} from "./desired/Children.ts"
import type { TenantOperatorConfig } from "./desired/Config.ts"
import { type InvalidNamespaceName, tenantLabel, tenantNamespaceName } from "./desired/Namespace.ts"
import { managedBy, ownedByTenant } from "./desired/Ownership.ts"
import { NamespaceType } from "./desired/ResourceTypes.ts"
import {
  childState,
  type Expected,
  expectObject,
  expectRef,
  firstBlocker,
  writeRefusedReason
} from "./Readiness.ts"
import { describeTermination, namespaceDeletionBlockedReason, terminationOf } from "./TerminatingNamespace.ts"

/** The controller's name: its field manager, event source and metric label. */
export const tenantControllerName = "tenant-controller"
/** Held on every live Tenant until its namespace is gone. */
export const namespaceFinalizer = "kleff.io/namespace-finalizer"

/** The condition types of a Tenant, in the order they are reported; `TenantReady` summarises the others. */
export const tenantConditionTypes = [
  "NamespaceReady",
  "PlanApplied",
  "AccessReady",
  "IsolationReady",
  "MeshReady",
  "TenantReady"
] as const
export type TenantConditionType = (typeof tenantConditionTypes)[number]

/**
 * The conditions other controllers report on a Tenant (with their own field managers) that
 * `TenantReady` summarises too: `MeshReady` is the mesh controller's while it runs; without it the
 * tenant controller reports `MeshReady` itself (`MeshDisabled`).
 */
const reportedByOthers = (config: TenantOperatorConfig): ReadonlyArray<TenantConditionType> =>
  config.mesh.enabled ? ["MeshReady"] : []

/** The conditions the tenant controller reports under `config`, in order. */
const ownConditionTypes = (config: TenantOperatorConfig): ReadonlyArray<TenantConditionType> => {
  const others = reportedByOthers(config)
  return tenantConditionTypes.filter((type) => !others.includes(type))
}

/** What the controller concluded about one Tenant, before any diffing. */
export type TenantDecision =
  /** The namespace template gives a name that is not a DNS-1123 label. */
  | { readonly _tag: "InvalidNamespaceName"; readonly tenant: Tenant; readonly invalid: InvalidNamespaceName }
  /** A namespace this Tenant does not control already holds the name. */
  | {
      readonly _tag: "NamespaceConflict"
      readonly tenant: Tenant
      readonly namespace: string
      readonly existing: KubeObject
    }
  /** The Plan is missing or invalid: nothing is created, nothing existing is removed. */
  | {
      readonly _tag: "PlanUnresolved"
      readonly tenant: Tenant
      readonly namespace: string
      readonly reason: "PlanNotFound" | "InvalidPlan"
      readonly message: string
    }
  | {
      readonly _tag: "Resolved"
      readonly tenant: Tenant
      readonly namespace: string
      readonly plan: Plan
      readonly children: TenantChildren
    }

/** A reference to the Plan a Tenant names. */
export const planRef = (name: string): ObjectRef => ({ apiVersion, kind: PlanType.kind, name })

const namespaceRef = (name: string): ObjectRef => ({ apiVersion: "v1", kind: NamespaceType.kind, name })

/** The names of the namespaces the primary already controls (one, unless something went wrong). */
const ownedNamespaceNames = (primary: KubeObject, observed: Observed<StoredTenant>): ReadonlyArray<string> =>
  observed.owned
    .filter((object) => isOfType(object, NamespaceType) && isControlledBy(object, primary))
    .map((object) => object.metadata.name)

/** The Tenant with its status when that decodes (a status it cannot read is dropped: it is rewritten). */
const withReadableStatus = (stored: StoredTenant): Tenant => {
  const { status, ...tenant } = stored
  const decoded = status === undefined ? undefined : Result.getOrUndefined(decodeTenantStatus(status))
  return decoded === undefined ? tenant : { ...tenant, status: decoded }
}

export const decideTenant = (
  observed: Observed<StoredTenant>,
  config: TenantOperatorConfig
): TenantDecision => {
  const tenant = withReadableStatus(observed.primary)
  const primary = observed.object

  const name = tenantNamespaceName(tenant, config, ownedNamespaceNames(primary, observed))
  if (Result.isFailure(name)) return { _tag: "InvalidNamespaceName", tenant, invalid: name.failure }
  const namespace = name.success

  const existing = observed.get(namespaceRef(namespace))
  if (existing !== undefined && !isControlledBy(existing, primary)) {
    return { _tag: "NamespaceConflict", tenant, namespace, existing }
  }

  const plan = observed.read(PlanType, tenant.spec.plan)
  if (plan === undefined) {
    return {
      _tag: "PlanUnresolved",
      tenant,
      namespace,
      reason: "PlanNotFound",
      message: `Plan "${tenant.spec.plan}" does not exist.`
    }
  }
  if (Result.isFailure(plan)) {
    return {
      _tag: "PlanUnresolved",
      tenant,
      namespace,
      reason: "InvalidPlan",
      message: `Plan "${tenant.spec.plan}" is invalid:\n${plan.failure.message}`
    }
  }
  return {
    _tag: "Resolved",
    tenant,
    namespace,
    plan: plan.success,
    children: desiredTenantChildren(tenant, plan.success, namespace, config)
  }
}

// ---------------------------------------------------------------------------------------------
// desired

const desiredFor = (decision: TenantDecision, config: TenantOperatorConfig): Desired => {
  const retainEverything: Desired = { objects: [], retain: tenantOwnedTypes(config) }
  switch (decision._tag) {
    case "Resolved":
      // A live tenant's namespace is never deleted, even if its name were to change: only
      // deleting the Tenant removes the tenant's data.
      return { objects: allChildren(decision.children), retain: [NamespaceType] }
    case "NamespaceConflict":
      // Desired only so the planner reports the conflict; a foreign object is never written.
      return {
        objects: [
          ownedByTenant(decision.tenant, {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: decision.namespace, labels: { [tenantLabel]: decision.tenant.metadata.name } }
          })
        ],
        retain: tenantOwnedTypes(config)
      }
    case "InvalidNamespaceName":
    case "PlanUnresolved":
      return retainEverything
  }
}

// ---------------------------------------------------------------------------------------------
// status

const condition = (
  type: TenantConditionType,
  status: "True" | "False",
  reason: string,
  message: string
): ConditionInput => ({ type, status, reason, message })

/** The status namespace from a previous report, even when the rest of the Tenant does not decode. */
const reportedNamespace = (primary: KubeObject): string | undefined => {
  const status = primary.status
  return Predicate.isObject(status) && Predicate.isString(status.namespace) ? status.namespace : undefined
}

interface Report {
  readonly phase: TenantPhase
  readonly namespace: string | undefined
  readonly conditions: ReadonlyArray<ConditionInput>
}

const everyCondition = (
  reason: string,
  message: string,
  config: TenantOperatorConfig
): ReadonlyArray<ConditionInput> =>
  ownConditionTypes(config).map((type) => condition(type, "False", reason, message))

/** The conditions other controllers reported on the stored Tenant; one not reported yet counts as not ready. */
const othersConditions = (
  primary: KubeObject,
  config: TenantOperatorConfig
): ReadonlyArray<ConditionInput> => {
  const stored = conditionsOf(primary.status)
  return reportedByOthers(config).map(
    (type) =>
      findCondition(stored, type) ??
      condition(type, "False", "NotReported", "Its controller has not reported on this Tenant yet.")
  )
}

const summary = (conditions: ReadonlyArray<ConditionInput>, readyMessage: string): ConditionInput => {
  const blocking = conditions.find((item) => item.status !== "True")
  return blocking === undefined
    ? condition("TenantReady", "True", "Ready", readyMessage)
    : condition("TenantReady", "False", blocking.reason, `${blocking.type}: ${blocking.message}`)
}

const deletingReport = (primary: KubeObject, outcome: Outcome, config: TenantOperatorConfig): Report => {
  const namespace = reportedNamespace(primary)
  if (outcome.held !== undefined) {
    return {
      phase: "Terminating",
      namespace,
      conditions: everyCondition(outcome.held.reason, outcome.held.message, config)
    }
  }
  const terminating = outcome.remaining.find(
    (object) => isOfType(object, NamespaceType) && isDeleting(object)
  )
  const termination = terminating === undefined ? undefined : terminationOf(terminating)
  const state =
    terminating === undefined || termination === undefined
      ? ""
      : ` ${describeTermination(terminating.metadata.name, termination)}`
  if (termination?.blocked === true) {
    return {
      phase: "Terminating",
      namespace,
      conditions: everyCondition(
        namespaceDeletionBlockedReason,
        `The tenant is being deleted and waits for its namespace to go.${state} The Tenant goes once the namespace has.`,
        config
      )
    }
  }
  const remaining = outcome.remaining.length
  const message =
    remaining === 0
      ? "The tenant is being deleted."
      : `The tenant is being deleted; waiting for ${remaining} object${remaining === 1 ? "" : "s"} to go (${outcome.remaining
          .slice(0, 3)
          .map((object) => describeRef(refOf(object)))
          .join(", ")}${remaining > 3 ? ", …" : ""}).${state}`
  return { phase: "Terminating", namespace, conditions: everyCondition("Terminating", message, config) }
}

/** Without the mesh controller, the tenant controller says the mesh is not managed. */
const meshDisabled = condition(
  "MeshReady",
  "True",
  "MeshDisabled",
  "The Istio mesh is not managed by this operator."
)

/** The report for a Tenant whose namespace name is settled and not in conflict. */
const namespacedReport = (
  primary: KubeObject,
  outcome: Outcome,
  decision: Extract<TenantDecision, { readonly _tag: "Resolved" | "PlanUnresolved" }>,
  config: TenantOperatorConfig
): Report => {
  const { tenant, namespace } = decision
  const observed = outcome.snapshot
  const refs = expectedChildRefs(tenant, namespace, config)
  /** The children of a concern: the desired objects when the plan resolved, their places otherwise. */
  const expect = (concern: "plan" | "access" | "isolation"): ReadonlyArray<Expected> =>
    decision._tag === "Resolved" ? decision.children[concern].map(expectObject) : refs[concern].map(expectRef)
  const namespaceExpected =
    decision._tag === "Resolved" ? expectObject(decision.children.namespace) : expectRef(refs.namespace)
  const namespaceState = childState(primary, observed, namespaceExpected, tenantControllerName)
  /** A namespace of ours on its way out: since when, and what holds it. */
  const namespaceTermination = (current: KubeObject | undefined): ConditionInput => {
    const termination = current === undefined ? undefined : terminationOf(current)
    return condition(
      "NamespaceReady",
      "False",
      termination?.blocked === true ? namespaceDeletionBlockedReason : "NamespaceTerminating",
      `${termination === undefined ? `Namespace "${namespace}" is being deleted.` : describeTermination(namespace, termination)} It is created again once it is gone.`
    )
  }

  const refused = outcome.refused
  const namespaceReady: ConditionInput =
    refused !== undefined &&
    refused.reason !== "AlreadyExists" &&
    keyOfRef(refused.ref) === keyOfRef(namespaceExpected.ref)
      ? condition(
          "NamespaceReady",
          "False",
          writeRefusedReason,
          `The API server refused namespace "${namespace}" (${refused.reason}): ${refused.message}`
        )
      : namespaceState === "deleting"
        ? namespaceTermination(observed.get(namespaceExpected.ref))
        : namespaceState === "missing"
          ? condition(
              "NamespaceReady",
              "False",
              decision._tag === "Resolved" ? "NamespaceProvisioning" : decision.reason,
              decision._tag === "Resolved"
                ? `Creating namespace "${namespace}".`
                : `Namespace "${namespace}" is not created until the tenant's plan can be applied.`
            )
          : namespaceState === "outdated"
            ? condition(
                "NamespaceReady",
                "False",
                "NamespaceProvisioning",
                `Updating the labels of namespace "${namespace}".`
              )
            : condition(
                "NamespaceReady",
                "True",
                "NamespaceProvisioned",
                `Namespace "${namespace}" is ready.`
              )

  // Children wait for a namespace to exist, not for its labels to be updated.
  const blockedByNamespace = namespaceState === "missing" || namespaceState === "deleting"
  const waitForNamespace = (type: TenantConditionType) =>
    condition(type, "False", "NamespaceNotReady", `Waiting for namespace "${namespace}".`)

  const planApplied: ConditionInput = (() => {
    if (decision._tag === "PlanUnresolved") {
      const kept =
        namespaceState === "missing"
          ? "Nothing is provisioned until it is."
          : "The namespace keeps its current quota, limits and policies until it is."
      return condition(
        "PlanApplied",
        "False",
        decision.reason,
        `${decision.message} ${kept} Ask an administrator for a valid plan, or change spec.plan.`
      )
    }
    if (blockedByNamespace) return waitForNamespace("PlanApplied")
    const blocker = firstBlocker(primary, outcome, expect("plan"), tenantControllerName)
    return blocker === undefined
      ? condition(
          "PlanApplied",
          "True",
          "PlanApplied",
          `The quota and limits of plan "${decision.plan.metadata.name}" are in place.`
        )
      : condition("PlanApplied", "False", blocker.reason, blocker.message)
  })()

  const concern = (
    type: "AccessReady" | "IsolationReady",
    expected: ReadonlyArray<Expected>,
    readyReason: string,
    readyMessage: string
  ): ConditionInput => {
    if (blockedByNamespace) return waitForNamespace(type)
    const blocker = firstBlocker(primary, outcome, expected, tenantControllerName)
    return blocker === undefined
      ? condition(type, "True", readyReason, readyMessage)
      : condition(type, "False", blocker.reason, blocker.message)
  }

  const accessReady = concern(
    "AccessReady",
    expect("access"),
    "AccessGranted",
    `User "${config.userPrefix}${tenant.spec.userId}" may use namespace "${namespace}" (ClusterRole ${tenantOwnerClusterRole}).`
  )
  const isolationReady = concern(
    "IsolationReady",
    expect("isolation"),
    "PoliciesApplied",
    `Network policies and the trusted-registries and tenant-services admission policies are in place for namespace "${namespace}".`
  )
  const conditions = [
    namespaceReady,
    planApplied,
    accessReady,
    isolationReady,
    ...(config.mesh.enabled ? [] : [meshDisabled])
  ]
  const ready = summary(
    [...conditions, ...othersConditions(primary, config)],
    `Namespace "${namespace}" is ready for user "${tenant.spec.username}".`
  )
  return {
    phase: decision._tag === "PlanUnresolved" ? "Failed" : ready.status === "True" ? "Active" : "Pending",
    // Reported once the name is ours: the namespace exists under this Tenant, or is being created now.
    namespace:
      namespaceState !== "missing" || decision._tag === "Resolved" ? namespace : tenant.status?.namespace,
    conditions: [...conditions, ready]
  }
}

/**
 * A Tenant that has no namespace of its own: `NamespaceReady` says why (`reason`, `message`), every
 * condition that needs the namespace is False with `NamespaceNotReady` (`downstream`), and
 * `TenantReady` repeats the cause.
 */
const withoutNamespace = (
  namespace: string | undefined,
  reason: string,
  message: string,
  downstream: string,
  config: TenantOperatorConfig
): Report => ({
  phase: "Failed",
  namespace,
  conditions: [
    condition("NamespaceReady", "False", reason, message),
    ...ownConditionTypes(config)
      .filter((type) => type !== "NamespaceReady" && type !== "TenantReady")
      .map((type) => condition(type, "False", "NamespaceNotReady", downstream)),
    condition("TenantReady", "False", reason, `NamespaceReady: ${message}`)
  ]
})

const reportFor = (outcome: Outcome, decision: TenantDecision, config: TenantOperatorConfig): Report => {
  const primary = outcome.snapshot.primary
  switch (decision._tag) {
    case "InvalidNamespaceName":
      return withoutNamespace(
        decision.tenant.status?.namespace,
        "InvalidNamespaceName",
        decision.invalid.message,
        "The tenant has no namespace.",
        config
      )
    case "NamespaceConflict":
      return withoutNamespace(
        decision.tenant.status?.namespace,
        "NamespaceConflict",
        adoptionVerdict(primary, decision.existing).adopt
          ? `Namespace "${decision.namespace}" was made by the tenant operator for a Tenant of this name, and ` +
              "nothing owns it now (its Tenant was deleted with --cascade=orphan, or the Tenant CRD was re-created). " +
              "It is not adopted on its own: if it is this tenant's, an administrator gives it back with " +
              `tenant-operator adopt ${decision.tenant.metadata.name}.`
          : `Namespace "${decision.namespace}" already exists and does not belong to this Tenant. ` +
              "It is never adopted, changed or deleted; remove it, or ask an administrator to resolve the clash.",
        `Namespace "${decision.namespace}" is not the tenant's.`,
        config
      )
    case "PlanUnresolved":
    case "Resolved":
      return namespacedReport(primary, outcome, decision, config)
  }
}

/** A Tenant that does not decode (its CRD's validation was bypassed, or is older than the operator). */
const invalidReport = (
  problem: InvalidObject,
  primary: KubeObject,
  config: TenantOperatorConfig
): Report => ({
  phase: "Failed",
  namespace: reportedNamespace(primary),
  conditions: everyCondition("InvalidSpec", `The Tenant is invalid:\n${problem.message}`, config)
})

const statusReport = (report: Report): StatusReport => ({
  fields: {
    ...(report.namespace === undefined ? {} : { namespace: report.namespace }),
    phase: report.phase
  },
  conditions: report.conditions
})

// ---------------------------------------------------------------------------------------------
// the reconciler

/** The name in a Tenant's `spec.plan`, read from the object as stored (it may not decode). */
const planNameOf = (tenant: KubeObject): string | undefined => {
  const spec = (tenant as { readonly spec?: unknown }).spec
  const plan =
    typeof spec === "object" && spec !== null ? (spec as { readonly plan?: unknown }).plan : undefined
  return typeof plan === "string" && plan !== "" ? plan : undefined
}

/** Editing a Plan re-reconciles its Tenants: the ones whose `spec.plan` names it. */
export const planReference: Reference = {
  type: PlanType,
  refersTo: (tenant) => {
    const plan = planNameOf(tenant)
    return plan === undefined ? [] : [keyOfType(PlanType, plan)]
  }
}

/**
 * Every Namespace is read, not only the tenant's own (a namespace a user made at the tenant's
 * namespace name is a conflict the Tenant reports): the Tenant reads the namespace its name
 * settles on, so such a namespace going away re-reconciles it at once.
 */
export const namespaceReference = (config: TenantOperatorConfig): Reference => ({
  type: NamespaceType,
  refersTo: (object) => {
    const tenant = decodeObject(TenantType, object)
    if (Result.isFailure(tenant)) return []
    const name = tenantNamespaceName(withReadableStatus(tenant.success), config)
    return Result.isSuccess(name) ? [keyOfType(NamespaceType, name.success)] : []
  }
})

const tenantCrdRef: ObjectRef = {
  apiVersion: apiVersionOf(Kinds.CustomResourceDefinition),
  kind: Kinds.CustomResourceDefinition.kind,
  name: tenantCrdName
}

/**
 * The Tenant CRD, the one CustomResourceDefinition the controller reads (watched by name): once it
 * is being deleted, every Tenant is requeued, to be held (`crdDeletionHold`).
 */
export const tenantCrdReference: Reference = {
  type: Kinds.CustomResourceDefinition,
  name: tenantCrdName,
  refersTo: () => [keyOfType(Kinds.CustomResourceDefinition, tenantCrdName)],
  matters: isDeleting
}

/** The reason a deleting Tenant's children are kept while the Tenant CRD is being deleted. */
export const crdDeletingReason = "CustomResourceDefinitionDeleting"

/**
 * Deleting the Tenant CRD deletes every Tenant, bypassing admission (so `deletionProtection` too),
 * whatever anyone meant: that is no reason to delete a tenant's namespace. While the CRD is being
 * deleted (or cannot be seen in the cache, which a Tenant's existence rules out but for a moment),
 * a deleting Tenant keeps everything; its finalizer goes once it owns nothing, i.e. once an
 * administrator has orphaned its children (`kubectl delete tenant NAME --cascade=orphan`).
 */
export const crdDeletionHold = (snapshot: Snapshot): DeletionHold | undefined => {
  const crd = snapshot.get(tenantCrdRef)
  if (crd !== undefined && !isDeleting(crd)) return undefined
  const name = snapshot.primary.metadata.name
  const namespace = reportedNamespace(snapshot.primary)
  const state =
    crd === undefined
      ? `CustomResourceDefinition ${tenantCrdName} cannot be seen, as if it were deleted`
      : `CustomResourceDefinition ${tenantCrdName} is being deleted (since ${crd.metadata.deletionTimestamp}), which deletes every Tenant`
  return {
    reason: crdDeletingReason,
    message:
      `${state}. The operator deletes nothing while it is: ${namespace === undefined ? "the tenant's namespace" : `namespace "${namespace}"`} ` +
      "and everything in it stay. To keep them and re-create the CRD: " +
      `kubectl delete tenant ${name} --cascade=orphan --wait=false (the Tenant then goes, its objects stay), ` +
      `wait for the CRD to go, re-apply the CRD and the Tenant, then give it back its objects: tenant-operator adopt ${name}. ` +
      "See Troubleshooting in the operator's README."
  }
}

/** The Tenant controller: a core `Reconciler` that always reports status. */
export type TenantReconciler = Reconciler<StoredTenant, TenantDecision>

/** The Tenant controller for `config`. */
export const makeTenantReconciler = (config: TenantOperatorConfig): TenantReconciler => ({
  name: tenantControllerName,
  primary: TenantType,
  owned: tenantOwnedTypes(config),
  managedBy,
  references: [planReference, tenantCrdReference, namespaceReference(config)],
  finalizer: namespaceFinalizer,
  holdDeletion: crdDeletionHold,
  decide: (observed) => decideTenant(observed, config),
  desired: (decision) => desiredFor(decision, config),
  status: (decision, outcome) =>
    statusReport(
      outcome.deleting || decision === undefined
        ? deletingReport(outcome.snapshot.primary, outcome, config)
        : reportFor(outcome, decision, config)
    ),
  invalid: (problem, object) => statusReport(invalidReport(problem, object, config))
})
