/**
 * The Kubernetes Multi-Tenancy Benchmarks (kubernetes-sigs/multi-tenancy, benchmarks/kubectl-mtb,
 * profile levels 1 and 2), each check run the way kubectl-mtb runs it: as the tenant's user (by
 * impersonation), in a namespace the operator made, with deploy/cluster installed as shipped.
 * Two tenants: `restricted` on the sample Plan basic (Pod Security restricted), `baseline` on the
 * sample Plan pro (Pod Security baseline), both as committed (deploy/samples), under this run's names. Where a check is met only on restricted plans, the
 * test asserts both: the refusal on basic and the admission on pro, so the README's table
 * (packages/tenant-operator/README.md, "Multi-tenancy benchmarks") cannot quietly go stale.
 * Objects are created as server-side dry runs.
 */
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import { managedObjectsPolicyName } from "../../src/desired/Ownership.ts"
import { admission, assertAdmitted, assertRefused, untilRefusedBy } from "../deploy/policyUnderTest.ts"
import { restrictedPodSpec } from "../fixtures.ts"
import {
  eventually,
  type Kubectl,
  quotaHard,
  samplePlanObject,
  tenantObject,
  toYaml,
  uniqueName,
  useSuite
} from "./harness.ts"

const tenants = { restricted: uniqueName("mtb-r"), baseline: uniqueName("mtb-b") } as const
type Tenant = keyof typeof tenants
/** The sample Plans as committed, under names of this run's (a sample in the cluster may be stale). */
const samples: Readonly<Record<Tenant, "basic" | "pro">> = { restricted: "basic", baseline: "pro" }
const plans: Readonly<Record<Tenant, string>> = {
  restricted: `${tenants.restricted}-basic`,
  baseline: `${tenants.baseline}-pro`
}
const namespaceOf = (tenant: Tenant) => `tenant-${tenants[tenant]}`
const as = (tenant: Tenant) => ["--as", `user-${tenants[tenant]}`]

const podSecurity = (tenant: Tenant) => (tenant === "restricted" ? "restricted" : "baseline")
const violates = (tenant: Tenant) => `violates PodSecurity "${podSecurity(tenant)}:latest"`

/** A Pod the restricted level admits, in `tenant`'s namespace, changed by `edit`. */
const pod = (
  tenant: Tenant,
  name: string,
  edit: (spec: Record<string, unknown>, container: Record<string, unknown>) => void = () => {}
): KubeObject => {
  const spec = structuredClone(restrictedPodSpec("registry.kleff.io/web:1")) as Record<string, unknown> & {
    readonly containers: Array<Record<string, unknown>>
  }
  edit(spec, spec.containers[0] ?? {})
  return { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: namespaceOf(tenant) }, spec }
}

const containerContext = (container: Record<string, unknown>) =>
  container.securityContext as Record<string, unknown>

/** SelfSubjectAccessReviews as `tenant`'s user, in one kubectl call: the accesses it is allowed. */
const allowedOf = async (
  kubectl: Kubectl,
  tenant: Tenant,
  accesses: ReadonlyArray<Readonly<Record<string, string>>>
): Promise<ReadonlyArray<string>> => {
  const reviews = accesses.map((resourceAttributes) => ({
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    spec: { resourceAttributes }
  }))
  const out = await kubectl.ok(
    ["create", "--validate=false", "-f", "-", "-o", 'jsonpath={.status.allowed}{"\\n"}', ...as(tenant)],
    toYaml(reviews)
  )
  const answers = out.trim().split("\n")
  assert.lengthOf(answers, accesses.length)
  return accesses.filter((_, index) => answers[index] === "true").map((access) => JSON.stringify(access))
}

const writeVerbs = ["create", "update", "patch", "delete", "deletecollection"]
const everyVerb = ["get", "list", "watch", ...writeVerbs]

describeCluster(
  "Multi-Tenancy Benchmarks, profile levels 1 and 2 (operator process + kubectl as the tenant)",
  () => {
    const suite = useSuite({ adminKubeconfig: () => kubeconfigPath ?? "" })
    const kubectl = () => suite().kubectl

    /** Each pod's outcome as `tenant`'s user: refused by Pod Security when `refused`, else admitted. */
    const podSecurityCheck = async (tenant: Tenant, pods: ReadonlyArray<KubeObject>, refused: boolean) => {
      const outcomes = await admission(kubectl(), pods, as(tenant))
      if (!refused) return assertAdmitted(outcomes, pods)
      for (const item of pods) {
        const outcome = outcomes.get(item.metadata.name)
        assert.isFalse(outcome?.admitted, `${tenant}: ${item.metadata.name} was admitted`)
        assert.include(outcome?.message, violates(tenant), item.metadata.name)
      }
    }

    it("(setup) a tenant on a restricted plan and one on a baseline plan, and the shipped policies in effect", async () => {
      const both = ["restricted", "baseline"] as const
      for (const tenant of both) {
        suite().tenants.add(tenants[tenant])
        suite().plans.add(plans[tenant])
      }
      await kubectl().apply({
        yaml: toYaml([
          ...both.map((tenant) => samplePlanObject(samples[tenant], plans[tenant])),
          ...both.map((tenant) =>
            tenantObject(tenants[tenant], {
              plan: plans[tenant],
              userId: `user-${tenants[tenant]}`,
              username: tenant
            })
          )
        ])
      })
      await kubectl().ok([
        "wait",
        "--for=condition=TenantReady",
        ...Object.values(tenants).map((name) => `tenant/${name}`),
        "--timeout=90s"
      ])
      const forged: KubeObject = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: "forged",
          namespace: namespaceOf("restricted"),
          labels: { "app.kubernetes.io/managed-by": "kleff-tenant-operator" }
        }
      }
      await untilRefusedBy(kubectl(), forged, managedObjectsPolicyName, "is reserved", as("restricted"))
    }, 180_000)

    it("MTB-PL1-CC-CPI-1 block access to cluster resources: no verb on any cluster-scoped resource", async () => {
      const resources = [
        ["", "nodes"],
        ["", "namespaces"],
        ["", "persistentvolumes"],
        ["rbac.authorization.k8s.io", "clusterroles"],
        ["rbac.authorization.k8s.io", "clusterrolebindings"],
        ["storage.k8s.io", "storageclasses"],
        ["apiextensions.k8s.io", "customresourcedefinitions"],
        ["admissionregistration.k8s.io", "validatingadmissionpolicies"],
        ["admissionregistration.k8s.io", "validatingadmissionpolicybindings"],
        ["kleff.kleff.io", "tenants"],
        ["kleff.kleff.io", "plans"]
      ]
      const accesses = resources.flatMap(([group = "", resource = ""]) =>
        everyVerb.map((verb) => ({ group, resource, verb }))
      )
      assert.deepStrictEqual(await allowedOf(kubectl(), "restricted", accesses), [])
    }, 60_000)

    it("MTB-PL1-BC-CPI-2 block multitenant resources: every object the operator manages refuses the tenant's changes and deletion (403)", async () => {
      const ns = namespaceOf("restricted")
      const managed = await kubectl().json<{ readonly items: ReadonlyArray<KubeObject> }>([
        "resourcequotas,limitranges,rolebindings,networkpolicies",
        "-n",
        ns,
        "-l",
        "app.kubernetes.io/managed-by=kleff-tenant-operator"
      ])
      assert.lengthOf(managed.items, 7, "quota, limits, owner binding, four network policies")
      for (const item of managed.items) {
        const resource = `${item.kind.toLowerCase()}/${item.metadata.name}`
        for (const args of [
          ["delete", resource],
          ["annotate", resource, "key1=value1"]
        ]) {
          const result = await kubectl().run([...args, "-n", ns, "--dry-run=server", ...as("restricted")])
          assert.notStrictEqual(result.code, 0, `${args.join(" ")} was admitted`)
          assert.include(result.stderr, "(Forbidden)", `${args.join(" ")}: ${result.stderr}`)
        }
      }
    }, 120_000)

    it("MTB-PL1-BC-CPI-3 block add capabilities: refused on restricted plans; baseline admits its default set (SETPCAP): not met there", async () => {
      const adding = (tenant: Tenant) =>
        pod(tenant, "add-setpcap", (_, container) => {
          containerContext(container).capabilities = { drop: ["ALL"], add: ["SETPCAP"] }
        })
      await podSecurityCheck("restricted", [adding("restricted")], true)
      await podSecurityCheck("baseline", [adding("baseline")], false)
      const netAdmin = pod("baseline", "add-net-admin", (_, container) => {
        containerContext(container).capabilities = { add: ["NET_ADMIN"] }
      })
      await podSecurityCheck("baseline", [netAdmin], true)
    }, 60_000)

    it("MTB-PL1-BC-CPI-4 require run as non-root user: refused on restricted plans; not met on baseline", async () => {
      const root = (tenant: Tenant) =>
        pod(tenant, "as-root", (spec) => {
          spec.securityContext = { seccompProfile: { type: "RuntimeDefault" } }
        })
      await podSecurityCheck("restricted", [root("restricted")], true)
      await podSecurityCheck("baseline", [root("baseline")], false)
    }, 60_000)

    it("MTB-PL1-BC-CPI-5 block privileged containers: refused on every plan", async () => {
      for (const tenant of ["restricted", "baseline"] as const)
        await podSecurityCheck(
          tenant,
          [
            pod(tenant, "privileged", (_, container) => {
              container.securityContext = { privileged: true }
            })
          ],
          true
        )
    }, 60_000)

    it("MTB-PL1-BC-CPI-6 block privilege escalation: refused on restricted plans; not met on baseline", async () => {
      const escalating = (tenant: Tenant) =>
        pod(tenant, "escalating", (_, container) => {
          containerContext(container).allowPrivilegeEscalation = true
        })
      await podSecurityCheck("restricted", [escalating("restricted")], true)
      await podSecurityCheck("baseline", [escalating("baseline")], false)
    }, 60_000)

    it("MTB-PL1-BC-HI-1 block use of host path volumes, MTB-PL1-BC-HI-3 host networking and ports, MTB-PL1-BC-HI-4 host PID, MTB-PL1-BC-HI-5 host IPC: refused on every plan", async () => {
      for (const tenant of ["restricted", "baseline"] as const) {
        const pods = [
          pod(tenant, "host-path", (spec, container) => {
            spec.volumes = [{ name: "host", hostPath: { path: "/etc" } }]
            container.volumeMounts = [{ name: "host", mountPath: "/host" }]
          }),
          pod(tenant, "host-network", (spec) => {
            spec.hostNetwork = true
          }),
          pod(tenant, "host-port", (_, container) => {
            container.ports = [{ containerPort: 8080, hostPort: 8080 }]
          }),
          pod(tenant, "host-pid", (spec) => {
            spec.hostPID = true
          }),
          pod(tenant, "host-ipc", (spec) => {
            spec.hostIPC = true
          })
        ]
        await podSecurityCheck(tenant, pods, true)
      }
    }, 60_000)

    it("MTB-PL1-BC-HI-1 block use of NodePort services: refused on every plan (kleff-tenant-services)", async () => {
      for (const tenant of ["restricted", "baseline"] as const) {
        const nodePort: KubeObject = {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "node-port", namespace: namespaceOf(tenant) },
          spec: { type: "NodePort", selector: { app: "web" }, ports: [{ port: 80 }] }
        }
        assertRefused(
          await admission(kubectl(), [nodePort], as(tenant)),
          [nodePort],
          "kleff-tenant-services",
          () => `plan ${plans[tenant]} does not allow node ports`
        )
      }
    }, 60_000)

    it("MTB-PL1-CC-TI-1 block modification of resource quotas: RBAC refuses every write", async () => {
      for (const tenant of ["restricted", "baseline"] as const) {
        const accesses = writeVerbs.map((verb) => ({
          resource: "resourcequotas",
          verb,
          namespace: namespaceOf(tenant)
        }))
        assert.deepStrictEqual(await allowedOf(kubectl(), tenant, accesses), [])
      }
    }, 60_000)

    it("MTB-PL1-CC-TI-2 block access to other tenants' resources: no verb in the other tenant's namespace", async () => {
      const namespaced = ["pods", "secrets", "configmaps", "services", "serviceaccounts", "resourcequotas"]
      const accesses = [
        ...namespaced.map((resource) => ({ resource })),
        { group: "apps", resource: "deployments" },
        { group: "networking.k8s.io", resource: "networkpolicies" },
        { group: "rbac.authorization.k8s.io", resource: "rolebindings" }
      ].flatMap((access) =>
        everyVerb.map((verb) => ({ ...access, verb, namespace: namespaceOf("baseline") }))
      )
      assert.deepStrictEqual(await allowedOf(kubectl(), "restricted", accesses), [])
    }, 60_000)

    it("MTB-PL1-CC-FNS-1 configure namespace resource quotas, MTB-PL1-CC-FNS-2 object limits: the quota names every resource the benchmark asks for, and enforces them", async () => {
      const required = [
        "cpu",
        "memory",
        "ephemeral-storage",
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers"
      ]
      for (const tenant of ["restricted", "baseline"] as const) {
        const quota = await kubectl().get("resourcequota", "tenant-quota", namespaceOf(tenant))
        // kubectl-mtb's test: each name appears in the joined quota keys.
        const keys = Object.keys(quotaHard(quota) as object).join(" ")
        for (const name of required) assert.include(keys, name, `${tenant}: ${name}`)
      }
      const controller: KubeObject = {
        apiVersion: "v1",
        kind: "ReplicationController",
        metadata: { name: "counted", namespace: namespaceOf("restricted") },
        spec: {
          selector: { app: "web" },
          template: { metadata: { labels: { app: "web" } }, spec: pod("restricted", "x").spec }
        }
      }
      // Refused once the quota controller has counted the namespace (before that: "status unknown").
      await eventually(
        "a ReplicationController refused by the quota (count/replicationcontrollers: 0)",
        () =>
          admission(kubectl(), [controller], as("restricted")).then((outcomes) => outcomes.get("counted")),
        (outcome) => outcome?.message.includes("exceeded quota: tenant-quota") === true,
        60_000
      )
    }, 60_000)

    it("MTB-PL1-CC-DI-1 require always imagePullPolicy: not met, a Pod with IfNotPresent is admitted", async () => {
      const ifNotPresent = pod("restricted", "if-not-present", (_, container) => {
        container.imagePullPolicy = "IfNotPresent"
      })
      assertAdmitted(await admission(kubectl(), [ifNotPresent], as("restricted")), [ifNotPresent])
    }, 60_000)

    it("MTB-PL2-BC-OPS-3 create role bindings, MTB-PL2-BC-OPS-4 create network policies: in its own namespace", async () => {
      const ns = namespaceOf("restricted")
      const rbac = "rbac.authorization.k8s.io"
      const own: ReadonlyArray<KubeObject> = [
        {
          apiVersion: `${rbac}/v1`,
          kind: "Role",
          metadata: { name: "reader", namespace: ns },
          rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }]
        },
        {
          apiVersion: `${rbac}/v1`,
          kind: "RoleBinding",
          metadata: { name: "reader", namespace: ns },
          roleRef: { apiGroup: rbac, kind: "Role", name: "reader" },
          subjects: [{ kind: "User", apiGroup: rbac, name: "colleague" }]
        },
        {
          apiVersion: "networking.k8s.io/v1",
          kind: "NetworkPolicy",
          metadata: { name: "allow-web", namespace: ns },
          spec: { podSelector: {}, ingress: [{ ports: [{ port: 8080 }] }], policyTypes: ["Ingress"] }
        }
      ]
      assertAdmitted(await admission(kubectl(), own, as("restricted")), own)
    }, 60_000)

    it("MTB-PL2-CC-TI-1 block role privilege escalation: no escalate, no bind of cluster-admin", async () => {
      const ns = namespaceOf("restricted")
      const accesses = [
        { group: "rbac.authorization.k8s.io", resource: "roles", verb: "escalate", namespace: ns },
        { group: "rbac.authorization.k8s.io", resource: "clusterroles", verb: "escalate", namespace: ns },
        {
          group: "rbac.authorization.k8s.io",
          resource: "clusterroles",
          verb: "bind",
          name: "cluster-admin",
          namespace: ns
        }
      ]
      assert.deepStrictEqual(await allowedOf(kubectl(), "restricted", accesses), [])
    }, 60_000)
  }
)
