/**
 * What `kubectl apply -k deploy` installs, read from what `kubectl kustomize` builds: the objects,
 * the Deployment's hardening and probes, the split between the operator (deploy/manager, safe to
 * delete) and what tenants depend on (CRDs, cluster objects, guarded), and the optional
 * components. in-cluster.e2e.test.ts applies the same to a real API server.
 */
import { assert, describe, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { parseAllDocuments } from "yaml"
import { deletionProtectionPolicyName } from "../../src/api/Tenant.ts"
import { tenantOwnerClusterRole } from "../../src/desired/Access.ts"
import { tenantServicesPolicyName, trustedRegistriesPolicyName } from "../../src/desired/Isolation.ts"
import { managedObjectsPolicyName } from "../../src/desired/Ownership.ts"
import { readRepoFile } from "../fixtures.ts"
import {
  find,
  flagValue,
  idOf,
  kustomize,
  kustomizeWithComponents,
  operatorNamespace,
  serviceAccountName
} from "./manifests.ts"

interface Probe {
  readonly httpGet: { readonly path: string; readonly port: string | number }
}

interface Container {
  readonly name: string
  readonly image: string
  readonly args: ReadonlyArray<string>
  readonly env?: ReadonlyArray<{ readonly name: string }>
  readonly ports: ReadonlyArray<{ readonly name: string; readonly containerPort: number }>
  readonly livenessProbe: Probe
  readonly readinessProbe: Probe
  readonly resources: {
    readonly requests: Readonly<Record<string, string>>
    readonly limits: Readonly<Record<string, string>>
  }
  readonly securityContext: {
    readonly runAsNonRoot: boolean
    readonly allowPrivilegeEscalation: boolean
    readonly readOnlyRootFilesystem: boolean
    readonly capabilities: { readonly drop: ReadonlyArray<string>; readonly add?: ReadonlyArray<string> }
    readonly seccompProfile: { readonly type: string }
  }
}

interface DeploymentObject extends KubeObject {
  readonly spec: {
    readonly replicas: number
    readonly selector: { readonly matchLabels: Readonly<Record<string, string>> }
    readonly strategy: { readonly type: string; readonly rollingUpdate: { readonly maxUnavailable: number } }
    readonly template: {
      readonly metadata: { readonly labels: Readonly<Record<string, string>> }
      readonly spec: {
        readonly serviceAccountName: string
        readonly automountServiceAccountToken?: boolean
        readonly securityContext: {
          readonly runAsNonRoot: boolean
          readonly runAsUser: number
          readonly seccompProfile: { readonly type: string }
        }
        readonly containers: ReadonlyArray<Container>
        readonly topologySpreadConstraints?: ReadonlyArray<{
          readonly topologyKey: string
          readonly labelSelector: { readonly matchLabels: Readonly<Record<string, string>> }
        }>
        readonly affinity?: unknown
        readonly terminationGracePeriodSeconds: number
      }
    }
  }
}

const all = kustomize("deploy")
const manager = kustomize("deploy/manager")
const deployment = find<DeploymentObject>(all, "Deployment", "tenant-operator")
const pod = deployment.spec.template.spec
const container = pod.containers[0] as Container

describe("deploy/ (kubectl apply -k deploy)", () => {
  it("installs the CRDs, the cluster objects tenants depend on, the guard and the operator", () => {
    const ids = all.map(idOf)
    for (const id of [
      "CustomResourceDefinition/tenants.kleff.kleff.io",
      "CustomResourceDefinition/plans.kleff.kleff.io",
      `ClusterRole/${tenantOwnerClusterRole}`,
      `ValidatingAdmissionPolicy/${trustedRegistriesPolicyName}`,
      `ValidatingAdmissionPolicy/${tenantServicesPolicyName}`,
      `ValidatingAdmissionPolicy/${managedObjectsPolicyName}`,
      `ValidatingAdmissionPolicyBinding/${managedObjectsPolicyName}`,
      `ValidatingAdmissionPolicy/${deletionProtectionPolicyName}`,
      `ValidatingAdmissionPolicyBinding/${deletionProtectionPolicyName}`,
      "ValidatingAdmissionPolicy/kleff-keep-tenant-data",
      "ValidatingAdmissionPolicyBinding/kleff-keep-tenant-data",
      `Namespace/${operatorNamespace}`,
      `ServiceAccount/${operatorNamespace}/${serviceAccountName}`,
      "ClusterRole/kleff-tenant-operator",
      "ClusterRoleBinding/kleff-tenant-operator",
      `Role/${operatorNamespace}/kleff-tenant-operator-leader-election`,
      `RoleBinding/${operatorNamespace}/kleff-tenant-operator-leader-election`,
      "Role/default/kleff-tenant-operator-events",
      "RoleBinding/default/kleff-tenant-operator-events",
      "ValidatingAdmissionPolicy/kleff-tenant-operator-scope",
      "ValidatingAdmissionPolicyBinding/kleff-tenant-operator-scope",
      "ValidatingAdmissionPolicy/kleff-tenant-operator-rolebindings",
      "ValidatingAdmissionPolicyBinding/kleff-tenant-operator-rolebindings",
      `Deployment/${operatorNamespace}/tenant-operator`,
      `Service/${operatorNamespace}/tenant-operator-metrics`,
      `PodDisruptionBudget/${operatorNamespace}/tenant-operator`
    ]) {
      assert.include(ids, id)
    }
    assert.strictEqual(new Set(ids).size, ids.length, "an object is listed twice")
  })

  it("uses the CRDs and cluster objects as committed, unchanged", () => {
    for (const [kind, name, file] of [
      ["CustomResourceDefinition", "tenants.kleff.kleff.io", "deploy/crds/kleff.kleff.io_tenants.yaml"],
      ["CustomResourceDefinition", "plans.kleff.kleff.io", "deploy/crds/kleff.kleff.io_plans.yaml"],
      ["ClusterRole", tenantOwnerClusterRole, "deploy/cluster/tenant-owner-clusterrole.yaml"],
      [
        "ValidatingAdmissionPolicy",
        trustedRegistriesPolicyName,
        "deploy/cluster/trusted-registries-policy.yaml"
      ],
      ["ValidatingAdmissionPolicy", tenantServicesPolicyName, "deploy/cluster/tenant-services-policy.yaml"],
      ["ValidatingAdmissionPolicy", managedObjectsPolicyName, "deploy/cluster/managed-objects-policy.yaml"],
      [
        "ValidatingAdmissionPolicyBinding",
        managedObjectsPolicyName,
        "deploy/cluster/managed-objects-policy.yaml"
      ],
      [
        "ValidatingAdmissionPolicy",
        deletionProtectionPolicyName,
        "deploy/cluster/tenant-deletion-protection-policy.yaml"
      ],
      [
        "ValidatingAdmissionPolicyBinding",
        deletionProtectionPolicyName,
        "deploy/cluster/tenant-deletion-protection-policy.yaml"
      ]
    ] as const) {
      const committed = parseAllDocuments(readRepoFile(file))
        .map((document) => document.toJS() as KubeObject)
        .find((object) => object.kind === kind)
      assert.deepStrictEqual(find(all, kind, name), committed, file)
    }
  })

  it("leaves the samples and the Gatekeeper template out (they need the operator, or Gatekeeper, first)", () => {
    assert.isFalse(all.some((object) => object.kind === "Plan" || object.kind === "Tenant"))
    assert.isFalse(all.some((object) => object.kind === "ConstraintTemplate"))
    assert.sameMembers(kustomize("deploy/samples").map(idOf), [
      "Plan/free",
      "Plan/basic",
      "Plan/pro",
      "Tenant/example-tenant"
    ])
  })

  it("runs two replicas with leader election in kleff-system, probes on :8081 and metrics on :8080", () => {
    assert.strictEqual(deployment.metadata.namespace, operatorNamespace)
    assert.strictEqual(deployment.spec.replicas, 2)
    assert.strictEqual(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0)
    assert.strictEqual(pod.serviceAccountName, serviceAccountName)
    assert.notStrictEqual(pod.automountServiceAccountToken, false, "the operator needs its token in the pod")
    assert.strictEqual(container.args[0], "run")
    assert.include(container.args, "--leader-elect")
    assert.strictEqual(flagValue(container.args, "--leader-election-namespace"), operatorNamespace)
    assert.strictEqual(flagValue(container.args, "--metrics-bind-address"), ":8080")
    assert.strictEqual(flagValue(container.args, "--health-probe-bind-address"), ":8081")
    assert.isUndefined(flagValue(container.args, "--kubeconfig"), "in a pod: the service account")
    assert.isFalse(
      (container.env ?? []).some((variable) => variable.name === "KUBECONFIG"),
      "KUBECONFIG would take precedence over the service account"
    )
    const ports = Object.fromEntries(container.ports.map((port) => [port.name, port.containerPort]))
    assert.deepStrictEqual(ports, { metrics: 8080, health: 8081 })
    assert.deepStrictEqual(container.livenessProbe.httpGet, { path: "/healthz", port: "health" })
    assert.deepStrictEqual(container.readinessProbe.httpGet, { path: "/readyz", port: "health" })
    assert.isAbove(pod.terminationGracePeriodSeconds, 30, "room for the manager's 30 s drain")
  })

  it("runs the container under the restricted Pod Security Standard", () => {
    assert.isTrue(pod.securityContext.runAsNonRoot)
    assert.strictEqual(pod.securityContext.runAsUser, 65532)
    assert.strictEqual(pod.securityContext.seccompProfile.type, "RuntimeDefault")
    const security = container.securityContext
    assert.isTrue(security.runAsNonRoot)
    assert.isFalse(security.allowPrivilegeEscalation)
    assert.isTrue(security.readOnlyRootFilesystem)
    assert.deepStrictEqual(security.capabilities.drop, ["ALL"])
    assert.isUndefined(security.capabilities.add)
    assert.strictEqual(security.seccompProfile.type, "RuntimeDefault")
    const namespace = find(all, "Namespace", operatorNamespace)
    assert.strictEqual(namespace.metadata.labels?.["pod-security.kubernetes.io/enforce"], "restricted")
  })

  it("sets requests and limits, and spreads the replicas over nodes and zones", () => {
    for (const resource of ["cpu", "memory"]) {
      assert.isDefined(container.resources.requests[resource], `requests.${resource}`)
      assert.isDefined(container.resources.limits[resource], `limits.${resource}`)
    }
    const labels = deployment.spec.selector.matchLabels
    const keys = (pod.topologySpreadConstraints ?? []).map((constraint) => {
      assert.deepStrictEqual(constraint.labelSelector.matchLabels, labels)
      return constraint.topologyKey
    })
    assert.sameMembers(keys, ["kubernetes.io/hostname", "topology.kubernetes.io/zone"])
  })

  it("keeps one replica through voluntary disruptions, and serves metrics through a Service", () => {
    const labels = deployment.spec.selector.matchLabels
    assert.deepStrictEqual(deployment.spec.template.metadata.labels, {
      ...deployment.spec.template.metadata.labels,
      ...labels
    })
    const budget = find(all, "PodDisruptionBudget", "tenant-operator") as KubeObject & {
      readonly spec: { readonly minAvailable: number; readonly selector: { readonly matchLabels: unknown } }
    }
    assert.strictEqual(budget.spec.minAvailable, 1)
    assert.deepStrictEqual(budget.spec.selector.matchLabels, labels)
    const service = find(all, "Service", "tenant-operator-metrics") as KubeObject & {
      readonly spec: {
        readonly selector: unknown
        readonly ports: ReadonlyArray<{ readonly targetPort: string }>
      }
    }
    assert.deepStrictEqual(service.spec.selector, labels)
    assert.deepStrictEqual(
      service.spec.ports.map((port) => port.targetPort),
      ["metrics"]
    )
  })
})

describe("deploy/manager (kubectl delete -k deploy/manager uninstalls the operator only)", () => {
  it("holds the operator's own objects and nothing a tenant depends on", () => {
    const kinds = new Set(manager.map((object) => object.kind))
    assert.isFalse(kinds.has("CustomResourceDefinition"))
    const ids = manager.map(idOf)
    assert.notInclude(ids, `ClusterRole/${tenantOwnerClusterRole}`)
    assert.notInclude(ids, `ValidatingAdmissionPolicy/${trustedRegistriesPolicyName}`)
    assert.notInclude(ids, `ValidatingAdmissionPolicy/${tenantServicesPolicyName}`)
    assert.notInclude(ids, `ValidatingAdmissionPolicy/${managedObjectsPolicyName}`)
    assert.notInclude(ids, `ValidatingAdmissionPolicy/${deletionProtectionPolicyName}`)
    assert.notInclude(ids, "ValidatingAdmissionPolicy/kleff-keep-tenant-data")
    assert.include(ids, `Deployment/${operatorNamespace}/tenant-operator`)
  })

  it("is exactly deploy/ without the CRDs, the tenants' cluster objects and the guard", () => {
    const kept = new Set([
      "CustomResourceDefinition/tenants.kleff.kleff.io",
      "CustomResourceDefinition/plans.kleff.kleff.io",
      `ClusterRole/${tenantOwnerClusterRole}`,
      `ValidatingAdmissionPolicy/${trustedRegistriesPolicyName}`,
      `ValidatingAdmissionPolicy/${tenantServicesPolicyName}`,
      `ValidatingAdmissionPolicy/${managedObjectsPolicyName}`,
      `ValidatingAdmissionPolicyBinding/${managedObjectsPolicyName}`,
      `ValidatingAdmissionPolicy/${deletionProtectionPolicyName}`,
      `ValidatingAdmissionPolicyBinding/${deletionProtectionPolicyName}`,
      "ValidatingAdmissionPolicy/kleff-keep-tenant-data",
      "ValidatingAdmissionPolicyBinding/kleff-keep-tenant-data"
    ])
    assert.sameMembers(
      manager.map(idOf),
      all.map(idOf).filter((id) => !kept.has(id))
    )
  })
})

describe("deploy/guard", () => {
  it("is deleted after what it guards when kubectl deletes deploy/ (kustomize's order)", () => {
    const ids = all.map(idOf)
    const guard = ids.indexOf("ValidatingAdmissionPolicyBinding/kleff-keep-tenant-data")
    for (const guarded of [
      "CustomResourceDefinition/tenants.kleff.kleff.io",
      "CustomResourceDefinition/plans.kleff.kleff.io",
      `ClusterRole/${tenantOwnerClusterRole}`
    ]) {
      assert.isBelow(ids.indexOf(guarded), guard, guarded)
    }
  })
})

describe("deploy/components", () => {
  it("gatekeeper: adds --enable-gatekeeper, the ConstraintTemplate, its RBAC and scope", () => {
    const objects = kustomizeWithComponents(["components/gatekeeper"])
    const args = find<DeploymentObject>(objects, "Deployment", "tenant-operator").spec.template.spec
      .containers[0]?.args
    assert.include(args ?? [], "--enable-gatekeeper")
    find(objects, "ConstraintTemplate", "k8sallowedrepos")
    find(objects, "ClusterRole", "kleff-tenant-operator-gatekeeper")
    find(objects, "ClusterRoleBinding", "kleff-tenant-operator-gatekeeper")
    assert.include(
      JSON.stringify(find(objects, "ValidatingAdmissionPolicy", "kleff-tenant-operator-scope")),
      "k8sallowedrepos"
    )
  })

  it("both at once", () => {
    const args = find<DeploymentObject>(
      kustomizeWithComponents(["components/istio", "components/gatekeeper"]),
      "Deployment",
      "tenant-operator"
    ).spec.template.spec.containers[0]?.args
    assert.includeMembers([...(args ?? [])], ["--enable-istio", "--enable-gatekeeper"])
  })
})

describe("deploy/README.md", () => {
  it("documents install, upgrade and an uninstall that keeps tenants", () => {
    const readme = readRepoFile("deploy/README.md")
    for (const text of [
      "kubectl apply -k deploy",
      "kubectl delete -k deploy/manager",
      "kleff.io/allow-delete",
      "components/istio",
      "components/gatekeeper"
    ]) {
      assert.include(readme, text)
    }
  })
})
