/**
 * What the tenant controller reports on a Tenant: `phase`, `namespace` and its conditions
 * (`NamespaceReady`, `PlanApplied`, `AccessReady`, `IsolationReady`, `MeshReady` while the mesh
 * controller does not run, and `TenantReady`, which also summarises the conditions other
 * controllers report). Anything that goes wrong is a reason and a message for a person. Pure:
 * reads the decision and the reconcile's `Outcome`; must not decide anything itself.
 */
import {
  type ConditionInput,
  conditionsOf,
  describeRef,
  findCondition,
  type InvalidObject,
  isDeleting,
  isOfType,
  type KubeObject,
  keyOfRef,
  type Outcome,
  refOf,
  type StatusReport
} from "@kleff/core"
import { adoptionVerdict } from "./Adoption.ts"
import { reportedNamespace, type TenantPhase } from "./api/Tenant.ts"
import { tenantOwnerClusterRole } from "./desired/Access.ts"
import { expectedChildRefs } from "./desired/Children.ts"
import type { TenantOperatorConfig } from "./desired/Config.ts"
import { NamespaceType } from "./desired/ResourceTypes.ts"
import {
  childState,
  type Expected,
  expectObject,
  expectRef,
  firstBlocker,
  writeRefusedReason
} from "./Readiness.ts"
import type { TenantDecision } from "./TenantDecision.ts"
import { describeTermination, namespaceDeletionBlockedReason, terminationOf } from "./TerminatingNamespace.ts"

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

const condition = (
  type: TenantConditionType,
  status: "True" | "False",
  reason: string,
  message: string
): ConditionInput => ({ type, status, reason, message })

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
  const namespaceState = childState(primary, outcome, namespaceExpected)
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
    const blocker = firstBlocker(primary, outcome, expect("plan"))
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
    const blocker = firstBlocker(primary, outcome, expected)
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

/**
 * The tenant controller's `status` and `invalid` for `config`. Whether a child is in place or
 * being updated is the plan's own finding (`Outcome.toApply`).
 */
export const tenantStatus = (config: TenantOperatorConfig) => ({
  status: (decision: TenantDecision | undefined, outcome: Outcome): StatusReport =>
    statusReport(
      outcome.deleting || decision === undefined
        ? deletingReport(outcome.snapshot.primary, outcome, config)
        : reportFor(outcome, decision, config)
    ),
  invalid: (problem: InvalidObject, object: KubeObject): StatusReport =>
    statusReport(invalidReport(problem, object, config))
})
