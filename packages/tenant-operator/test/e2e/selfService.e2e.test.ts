/**
 * End to end, a tenant owner on its own (kubectl as the owner, by impersonation), with the
 * operator running and deploy/cluster installed as shipped:
 *   - it deploys a restricted workload from an allowed registry with its own ServiceAccount, Role,
 *     RoleBinding and NetworkPolicy (MTB PL2 BC-OPS-3/4), and its own RBAC works;
 *   - RBAC's escalation checks hold: it cannot bind cluster-admin or admin, nor write a Role with
 *     a verb it lacks (MTB PL2 CC-TI-1);
 *   - it can neither change, delete nor forge what the operator manages (kleff-managed-objects,
 *     MTB PL1 BC-CPI-2);
 *   - deleting the Tenant still empties and removes its namespace (the operator, the namespace
 *     controller) and handing a namespace over still works (the garbage collector orphans the
 *     managed objects), with the policy in place.
 */
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import { managedObjectsPolicyName } from "../../src/desired/Ownership.ts"
import { admission, assertAdmitted, assertRefused, untilRefusedBy } from "../deploy/policyUnderTest.ts"
import { restrictedPodSpec } from "../fixtures.ts"
import { deleteTenants, eventually, tenantObject, toYaml, uniqueName, useSuite } from "./harness.ts"

const owner = uniqueName("self")
const namespace = `tenant-${owner}`
const ownerUser = `user-${owner}`
const asOwner = ["--as", ownerUser]
const managedLabel = { "app.kubernetes.io/managed-by": "kleff-tenant-operator" }

const object = (
  apiVersion: string,
  kind: string,
  name: string,
  rest: Record<string, unknown>
): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name, namespace },
  ...rest
})
const rbac = "rbac.authorization.k8s.io"
const role = (name: string, rules: ReadonlyArray<Record<string, unknown>>) =>
  object(`${rbac}/v1`, "Role", name, { rules })
const binding = (name: string, roleRef: Record<string, string>, subject: Record<string, string>) =>
  object(`${rbac}/v1`, "RoleBinding", name, { roleRef: { apiGroup: rbac, ...roleRef }, subjects: [subject] })
const serviceAccount = { kind: "ServiceAccount", name: "web", namespace }

/** What a tenant brings along: a restricted web workload from an allowed registry, and its own rules. */
const ownWorkload: ReadonlyArray<KubeObject> = [
  object("v1", "ServiceAccount", "web", {}),
  role("config-reader", [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] }]),
  binding("web-config-reader", { kind: "Role", name: "config-reader" }, serviceAccount),
  // Its own role may be handed to its own ServiceAccount: the owner holds all of it.
  binding("web-owner", { kind: "ClusterRole", name: "kleff-tenant-owner" }, serviceAccount),
  object("networking.k8s.io/v1", "NetworkPolicy", "web-ingress", {
    spec: {
      podSelector: { matchLabels: { app: "web" } },
      ingress: [{ ports: [{ protocol: "TCP", port: 8080 }] }],
      policyTypes: ["Ingress"]
    }
  }),
  object("v1", "ConfigMap", "web", { data: { greeting: "hello" } }),
  object("apps/v1", "Deployment", "web", {
    spec: {
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { serviceAccountName: "web", ...restrictedPodSpec("nginx:1.27") }
      }
    }
  }),
  object("v1", "Service", "web", {
    spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] }
  })
]

describeCluster("a tenant owner on its own, end to end (operator process + kubectl as the owner)", () => {
  const suite = useSuite({ adminKubeconfig: () => kubeconfigPath ?? "" })
  const kubectl = () => suite().kubectl

  const createTenant = async (name: string) => {
    suite().tenants.add(name)
    await kubectl().apply({
      yaml: toYaml([tenantObject(name, { plan: "basic", userId: `user-${name}`, username: name })])
    })
    await kubectl().ok(["wait", "--for=condition=TenantReady", `tenant/${name}`, "--timeout=90s"])
  }

  it("deploys a restricted, allowed-registry workload with its own ServiceAccount, Role, RoleBinding and NetworkPolicy", async () => {
    await createTenant(owner)
    await kubectl().ok(["create", "-f", "-", ...asOwner], toYaml(ownWorkload))
    for (const item of ownWorkload)
      assert.isDefined(
        await kubectl().find(item.kind, item.metadata.name, namespace),
        `${item.kind} ${item.metadata.name}`
      )
    const can = await kubectl().run([
      "auth",
      "can-i",
      "get",
      "configmaps",
      "-n",
      namespace,
      "--as",
      `system:serviceaccount:${namespace}:web`
    ])
    assert.strictEqual(can.stdout.trim(), "yes")
    // And edits and removes its own rules again.
    await kubectl().ok(["annotate", "networkpolicy", "web-ingress", "-n", namespace, "owner=me", ...asOwner])
    await kubectl().ok(["delete", "rolebinding", "web-owner", "-n", namespace, ...asOwner])
  }, 180_000)

  it("cannot escalate: binding cluster-admin or admin, or a Role with a verb it lacks, is refused by RBAC", async () => {
    const attempts = [
      binding("to-cluster-admin", { kind: "ClusterRole", name: "cluster-admin" }, serviceAccount),
      binding(
        "to-admin",
        { kind: "ClusterRole", name: "admin" },
        { kind: "User", apiGroup: rbac, name: "mallory" }
      ),
      role("loosen-quota", [{ apiGroups: [""], resources: ["resourcequotas"], verbs: ["patch"] }]),
      role("daemons", [{ apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["create"] }]),
      role("escalator", [{ apiGroups: [rbac], resources: ["roles"], verbs: ["escalate"] }])
    ]
    const outcomes = await admission(kubectl(), attempts, asOwner)
    for (const attempt of attempts) {
      const outcome = outcomes.get(attempt.metadata.name)
      assert.isFalse(outcome?.admitted, `${attempt.metadata.name} was admitted`)
      assert.include(
        outcome?.message,
        "is attempting to grant RBAC permissions not currently held",
        attempt.metadata.name
      )
    }
    for (const [verb, resource] of [
      ["escalate", "roles.rbac.authorization.k8s.io"],
      ["bind", "clusterroles.rbac.authorization.k8s.io/cluster-admin"]
    ] as const) {
      const can = await kubectl().run(["auth", "can-i", verb, resource, "-n", namespace, ...asOwner])
      assert.strictEqual(can.stdout.trim(), "no", `${verb} ${resource}`)
    }
  }, 60_000)

  it("cannot change, delete or forge what the operator manages", async () => {
    const says = (kind: string, name: string) =>
      `${kind} ${namespace}/${name} is managed by kleff-tenant-operator for Tenant ${owner}`
    const forged = object("networking.k8s.io/v1", "NetworkPolicy", "allow-everything", {
      metadata: { name: "allow-everything", namespace, labels: managedLabel },
      spec: { podSelector: {}, ingress: [{}], egress: [{}], policyTypes: ["Ingress", "Egress"] }
    })
    await untilRefusedBy(
      kubectl(),
      forged,
      managedObjectsPolicyName,
      "is reserved for the Kleff controllers",
      asOwner
    )
    for (const [args, kind, name] of [
      [["delete", "networkpolicy", "default-deny"], "NetworkPolicy", "default-deny"],
      [
        ["patch", "networkpolicy", "allow-dns", "--type=merge", "-p", '{"spec":{"egress":[{}]}}'],
        "NetworkPolicy",
        "allow-dns"
      ],
      [["delete", "rolebinding", "tenant-owner"], "RoleBinding", "tenant-owner"],
      [
        [
          "patch",
          "rolebinding",
          "tenant-owner",
          "--type=json",
          "-p",
          '[{"op":"add","path":"/subjects/-","value":{"kind":"User","name":"mallory"}}]'
        ],
        "RoleBinding",
        "tenant-owner"
      ]
    ] as const) {
      const result = await kubectl().run([...args, "-n", namespace, "--dry-run=server", ...asOwner])
      assert.notStrictEqual(result.code, 0, `${args.join(" ")} was admitted`)
      assert.include(result.stderr, `ValidatingAdmissionPolicy '${managedObjectsPolicyName}'`, args.join(" "))
      assert.include(result.stderr, says(kind, name), args.join(" "))
    }
    // The plan's bounds are not even writable kinds for it (RBAC).
    const quota = await kubectl().run([
      "delete",
      "resourcequota",
      "tenant-quota",
      "-n",
      namespace,
      "--dry-run=server",
      ...asOwner
    ])
    assert.include(quota.stderr, "forbidden")
    assertRefused(
      await admission(kubectl(), [forged], asOwner),
      [forged],
      managedObjectsPolicyName,
      () => "is reserved"
    )
    assertAdmitted(
      await admission(kubectl(), [{ ...forged, metadata: { name: "mine", namespace } }], asOwner),
      [{ ...forged, metadata: { name: "mine", namespace } }]
    )
  }, 120_000)

  it("deleting the Tenant empties and removes its namespace, managed objects and the owner's own alike", async () => {
    await deleteTenants(kubectl(), [owner])
    assert.isUndefined(await kubectl().find("namespace", namespace))
  }, 240_000)

  it("handing a namespace over (--cascade=orphan, operator stopped) leaves the managed objects, without owners", async () => {
    const name = uniqueName("handover")
    const handed = `tenant-${name}`
    await createTenant(name)
    await suite().runningOperator.stop()
    try {
      await kubectl().ok(["delete", "tenant", name, "--cascade=orphan", "--wait=false"])
      // The garbage collector takes the Tenant's owner reference off every child (an update of a
      // managed object, which the policy lets it make), then releases the orphan finalizer.
      const owned = async () => {
        const items = await kubectl().json<{ readonly items: ReadonlyArray<KubeObject> }>([
          "namespaces,resourcequotas,rolebindings,networkpolicies",
          "-A",
          "-l",
          `kleff.io/tenant=${name}`
        ])
        return items.items
          .filter((item) => (item.metadata.ownerReferences ?? []).length > 0)
          .map((item) => item.metadata.name)
      }
      await eventually(
        "the garbage collector to orphan every child",
        owned,
        (left) => left.length === 0,
        120_000
      )
      await kubectl().ok([
        "patch",
        "tenant",
        name,
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]'
      ])
      await kubectl().ok(["wait", "--for=delete", `tenant/${name}`, "--timeout=60s"])
      for (const [kind, child] of [
        ["networkpolicy", "default-deny"],
        ["rolebinding", "tenant-owner"],
        ["resourcequota", "tenant-quota"]
      ] as const)
        assert.isDefined(await kubectl().find(kind, child, handed), `${kind} ${child}`)
    } finally {
      // What a handover leaves for the administrator: the namespace, and the Tenant's two bindings.
      suite().namespaces.add(handed)
      await kubectl().run(["delete", "validatingadmissionpolicybindings", "-l", `kleff.io/tenant=${name}`])
      await suite().startOperator()
    }
  }, 300_000)
})
