/**
 * The mesh controller as a core `Reconciler`: for each Tenant whose Plan puts it in the Istio mesh
 * (`istioInjection`), the Gateway, mTLS, authorization, Sidecar and istiod NetworkPolicy of
 * `desired/Mesh.ts` in the tenant's namespace, and the `MeshReady` condition on the Tenant, written
 * with its own field manager beside the tenant controller's conditions.
 *
 * It runs beside the tenant controller in the same Manager, on the same caches, and relies on it:
 * the namespace is the one the tenant controller reported (`status.namespace`) and controls. It
 * holds no finalizer: its objects live in the tenant's namespace and go with it. With Istio's
 * CustomResourceDefinitions absent it writes nothing and says so (`MeshUnavailable`); installing
 * them requeues every Tenant (the Gateway CRD is a reference). No I/O here.
 */
import {
  type ConditionInput,
  isControlledBy,
  isDeleting,
  Kinds,
  type KubeObject,
  keyOfType,
  type Observed,
  type Reconciler,
  type Reference,
  type StatusReport
} from "@kleff/core"
import { Predicate, Result } from "effect"
import { type Plan, PlanType } from "./api/Plan.ts"
import { reportedNamespace, type StoredTenant, type Tenant, TenantType } from "./api/Tenant.ts"
import type { MeshConfig } from "./desired/Config.ts"
import { tenantHosts } from "./desired/Hosts.ts"
import { desiredMesh, gatewayName } from "./desired/Mesh.ts"
import { meshManagedBy } from "./desired/Ownership.ts"
import {
  AuthorizationPolicyType,
  GatewayType,
  NamespaceType,
  NetworkPolicyType,
  PeerAuthenticationType,
  SidecarType
} from "./desired/ResourceTypes.ts"
import { expectObject, firstBlocker } from "./Readiness.ts"
import { planReference } from "./TenantReconciler.ts"

/** The controller's name: its field manager, event source and metric label. */
export const meshControllerName = "mesh-controller"

/** The condition the mesh controller owns on a Tenant. */
export const meshConditionType = "MeshReady"

/** The reason of `MeshReady` while Istio's CustomResourceDefinitions are not installed. */
export const meshUnavailableReason = "MeshUnavailable"

/**
 * Istio's CustomResourceDefinitions are installed together; the controller watches one of them,
 * the Gateway's, by name, so their arrival requeues every Tenant. (A cluster that has the Gateway
 * but not the others gets its writes refused, and says so in `MeshReady`.)
 */
export const gatewayCrdName = `${GatewayType.plural}.${GatewayType.group}`

/** In the order they are written (core follows `owned`): the guards before the Gateway that exposes the tenant. */
export const meshOwnedTypes = [
  NetworkPolicyType,
  PeerAuthenticationType,
  AuthorizationPolicyType,
  SidecarType,
  GatewayType
] as const

export type MeshDecision =
  /** Istio's kinds are not served: nothing is written, nothing existing is removed. */
  | { readonly _tag: "Unavailable" }
  /** The tenant's namespace or Plan is not ready: nothing is created or removed meanwhile. */
  | { readonly _tag: "Waiting"; readonly reason: string; readonly message: string }
  /** The Plan keeps the tenant out of the mesh: its mesh objects are removed. */
  | { readonly _tag: "OutOfMesh"; readonly plan: string }
  | {
      readonly _tag: "InMesh"
      readonly namespace: string
      readonly hosts: ReadonlyArray<string>
      readonly objects: ReadonlyArray<KubeObject>
    }

const isEstablished = (crd: KubeObject): boolean => {
  const status = crd.status
  const conditions = Predicate.isObject(status) && Array.isArray(status.conditions) ? status.conditions : []
  return conditions.some(
    (condition: unknown) =>
      Predicate.isObject(condition) && condition.type === "Established" && condition.status === "True"
  )
}

/** The mesh objects of `tenant` on `plan` in `namespace`: none when the plan keeps it out of the mesh. */
export const meshObjectsFor = (
  tenant: Tenant,
  plan: Plan,
  namespace: string,
  mesh: MeshConfig
): ReadonlyArray<KubeObject> => (plan.spec.istioInjection ? desiredMesh(tenant, namespace, mesh) : [])

export const decideMesh = (observed: Observed<StoredTenant>, mesh: MeshConfig): MeshDecision => {
  const crd = observed.get({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: Kinds.CustomResourceDefinition.kind,
    name: gatewayCrdName
  })
  if (crd === undefined || isDeleting(crd) || !isEstablished(crd)) return { _tag: "Unavailable" }

  // The status is the controllers' report, not an input: the mesh objects follow the spec alone.
  const { status: _status, ...tenant } = observed.primary
  const plan = observed.read(PlanType, tenant.spec.plan)
  if (plan === undefined || Result.isFailure(plan)) {
    return {
      _tag: "Waiting",
      reason: plan === undefined ? "PlanNotFound" : "InvalidPlan",
      message: `Waiting for Plan "${tenant.spec.plan}" (see PlanApplied); the mesh objects are kept as they are meanwhile.`
    }
  }
  if (!plan.success.spec.istioInjection) return { _tag: "OutOfMesh", plan: plan.success.metadata.name }

  const namespace = reportedNamespace(observed.object)
  const object =
    namespace === undefined
      ? undefined
      : observed.get({ apiVersion: "v1", kind: "Namespace", name: namespace })
  if (namespace === undefined || object === undefined || !isControlledBy(object, observed.object)) {
    return {
      _tag: "Waiting",
      reason: "NamespaceNotReady",
      message: "Waiting for the tenant's namespace (see NamespaceReady)."
    }
  }
  if (isDeleting(object)) {
    return {
      _tag: "Waiting",
      reason: "NamespaceNotReady",
      message: `Namespace "${namespace}" is being deleted; its mesh objects go with it.`
    }
  }
  return {
    _tag: "InMesh",
    namespace,
    hosts: tenantHosts(tenant, mesh),
    objects: meshObjectsFor(tenant, plan.success, namespace, mesh)
  }
}

const meshReady = (status: "True" | "False", reason: string, message: string): StatusReport => ({
  fields: {},
  conditions: [{ type: meshConditionType, status, reason, message } satisfies ConditionInput]
})

/** The Gateway CRD, read by name: its arrival (or departure) requeues every Tenant. */
export const gatewayCrdReference: Reference = {
  type: Kinds.CustomResourceDefinition,
  name: gatewayCrdName,
  refersTo: () => [keyOfType(Kinds.CustomResourceDefinition, gatewayCrdName)]
}

/** The namespace the tenant controller reported: its creation, relabelling or deletion requeues the Tenant. */
export const reportedNamespaceReference: Reference = {
  type: NamespaceType,
  refersTo: (tenant) => {
    const namespace = reportedNamespace(tenant)
    return namespace === undefined ? [] : [keyOfType(NamespaceType, namespace)]
  }
}

export type MeshReconciler = Reconciler<StoredTenant, MeshDecision>

export const makeMeshReconciler = (mesh: MeshConfig): MeshReconciler => ({
  name: meshControllerName,
  managedBy: meshManagedBy,
  primary: TenantType,
  owned: meshOwnedTypes,
  // No mesh object's status is read (what istiod reports on them requeues nothing).
  readsStatusOf: [],
  references: [planReference, gatewayCrdReference, reportedNamespaceReference],
  decide: (observed) => decideMesh(observed, mesh),
  desired: (decision) => {
    switch (decision._tag) {
      case "InMesh":
        return { objects: decision.objects }
      case "OutOfMesh":
        return { objects: [] }
      case "Unavailable":
      case "Waiting":
        return { objects: [], retain: meshOwnedTypes }
    }
  },
  status: (decision, outcome) => {
    if (decision === undefined) return meshReady("False", "Terminating", "The tenant is being deleted.")
    switch (decision._tag) {
      case "Unavailable":
        return meshReady(
          "False",
          meshUnavailableReason,
          `Istio's CustomResourceDefinitions are not installed (${gatewayCrdName} is missing or not established). ` +
            "Install Istio; the tenant's mesh objects are created then, without a restart."
        )
      case "Waiting":
        return meshReady("False", decision.reason, decision.message)
      case "OutOfMesh":
        return meshReady(
          "True",
          "NotInMesh",
          `Plan "${decision.plan}" keeps the tenant out of the mesh (istioInjection: false).`
        )
      case "InMesh": {
        const blocker = firstBlocker(outcome.snapshot.primary, outcome, decision.objects.map(expectObject))
        return blocker === undefined
          ? meshReady(
              "True",
              "MeshConfigured",
              `Gateway ${gatewayName} serves ${decision.hosts.join(" and ")}; strict mTLS, the authorization ` +
                `policy and the sidecar's egress limits are in place in namespace "${decision.namespace}".`
            )
          : meshReady("False", blocker.reason, blocker.message)
      }
    }
  },
  invalid: (problem) => meshReady("False", "InvalidSpec", `The Tenant is invalid:\n${problem.message}`)
})
