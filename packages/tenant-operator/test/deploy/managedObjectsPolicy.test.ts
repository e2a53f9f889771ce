/**
 * The kleff-managed-objects admission policy (deploy/cluster/managed-objects-policy.yaml) on the
 * real API server: in a namespace where a tenant-side identity holds the ClusterRole `admin`
 * (broader rights than a tenant owner has), that identity can neither change nor delete an object
 * the Kleff controllers manage, one by one or as a collection, nor forge one; the operator, the
 * garbage collector, the namespace controller and cluster administrators can; the administrators
 * are a list an overlay replaces. The message says who manages the object.
 *
 * The policy under test is the committed one with one change: the label key
 * `app.kubernetes.io/managed-by` is replaced by a key of this run's, so the shipped policy (which
 * other tests install cluster-wide) never matches this run's objects and cannot mask a fault of
 * the copy. test/e2e/selfService.e2e.test.ts proves the shipped policy itself, with the operator.
 */
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster } from "../../../k8s/test/cluster.ts"
import { toYaml, uniqueName } from "../e2e/harness.ts"
import {
  admission,
  assertAdmitted,
  assertRefused,
  committedPolicy,
  adminKubectl as kubectl,
  renamedBinding,
  renamedPolicy,
  typeCheckWarnings,
  untilRefusedBy,
  usePolicyUnderTest
} from "./policyUnderTest.ts"

const run = uniqueName("managed")
const namespace = run
const tenantUser = `tenant-${run}`
const operatorUser = "system:serviceaccount:kleff-system:tenant-operator"
const shippedKey = "app.kubernetes.io/managed-by"
/** This run's stand-in for the managed-by label, and the one of the copy with other administrators. */
const key = `kleff.io/managed-${run.slice(-8)}`
const adminsKey = `kleff.io/admins-${run.slice(-8)}`
const platformAdmins = `platform-admins-${run.slice(-8)}`

/** The committed policy and binding, renamed, matching `labelKey` instead of the shipped key. */
const copyOf = (name: string, labelKey: string, administratorGroups?: string): ReadonlyArray<KubeObject> => {
  const { policy, binding } = committedPolicy("deploy/cluster/managed-objects-policy.yaml")
  if (binding === undefined) throw new Error("managed-objects-policy.yaml holds no binding")
  const rekeyed = JSON.parse(JSON.stringify(policy).replaceAll(shippedKey, labelKey)) as KubeObject
  return [
    renamedPolicy(rekeyed, name, (spec) => {
      const variables = spec.variables as Array<{ name: string; expression: string }>
      const groups = variables.find((variable) => variable.name === "administratorGroups")
      if (groups === undefined) throw new Error("the policy has no administratorGroups variable")
      if (administratorGroups !== undefined) groups.expression = administratorGroups
      return spec
    }),
    renamedBinding(binding, name)
  ]
}
const policyName = `kleff-test-${run}`
const adminsPolicyName = `kleff-test-${run}-admins`

const roleBinding = (
  name: string,
  role: string,
  subject: Record<string, string>,
  labels = {}
): KubeObject => ({
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "RoleBinding",
  metadata: { name, namespace, labels },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
  subjects: [subject]
})
const user = (name: string) => ({ kind: "User", apiGroup: "rbac.authorization.k8s.io", name })

const managed = (manager: string, labelKey = key) => ({ [labelKey]: manager, "kleff.io/tenant": run })
const networkPolicy = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name, namespace, labels },
  spec: { podSelector: {}, policyTypes: ["Ingress"] }
})
const configMap = (name: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace, labels },
  data: { note: "made by a controller" }
})

/** What the test needs, in order: the policies come last, so nothing before them is refused. */
const setup = (): ReadonlyArray<KubeObject> => [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
  // A tenant-side identity with more rights than a tenant owner, and the operator's identity.
  roleBinding("tenant-admin", "admin", user(tenantUser)),
  roleBinding("operator", "admin", {
    kind: "ServiceAccount",
    name: "tenant-operator",
    namespace: "kleff-system"
  }),
  // What the controllers made.
  networkPolicy("default-deny", managed("kleff-tenant-operator")),
  networkPolicy("allow-istio-control-plane", managed("kleff-mesh-controller")),
  roleBinding("tenant-owner", "view", user(`owner-${run}`), managed("kleff-tenant-operator")),
  ...[1, 2, 3].map((index) => configMap(`managed-${index}`, managed("kleff-tenant-operator"))),
  configMap("other-admins", managed("kleff-tenant-operator", adminsKey)),
  ...copyOf(policyName, key),
  ...copyOf(adminsPolicyName, adminsKey, `['${platformAdmins}']`)
]

/** `kubectl <args> -n <namespace> --dry-run=server`, as `as` (a user, or `--as` flags). */
const dryRun = (args: ReadonlyArray<string>, as: ReadonlyArray<string>) =>
  kubectl().run([...args, "-n", namespace, "--dry-run=server", ...as])
const asTenant = ["--as", tenantUser]

const managedBy = (what: string, manager: string, labelKey = key) =>
  `${what} is managed by ${manager} for Tenant ${run} (label ${labelKey}): only the operator and cluster administrators may change or delete it, not`

describeCluster("deploy/cluster: the kleff-managed-objects admission policy", () => {
  usePolicyUnderTest(setup, (admin) =>
    untilRefusedBy(
      admin,
      networkPolicy("probe", managed("kleff-tenant-operator")),
      policyName,
      "is reserved",
      asTenant
    )
  )

  it("type-checks without a warning", async () => {
    assert.deepStrictEqual(await typeCheckWarnings(kubectl(), policyName), [])
  })

  it("refuses a tenant-side identity every change and deletion of a managed object, saying who manages it", async () => {
    const attempts: ReadonlyArray<readonly [ReadonlyArray<string>, string, string]> = [
      [["annotate", "networkpolicy", "default-deny", "loosened=yes"], "NetworkPolicy", "default-deny"],
      [["label", "networkpolicy", "default-deny", `${key}-`], "NetworkPolicy", "default-deny"],
      [
        [
          "patch",
          "networkpolicy",
          "default-deny",
          "--type=merge",
          "-p",
          '{"spec":{"policyTypes":["Egress"]}}'
        ],
        "NetworkPolicy",
        "default-deny"
      ],
      [["delete", "networkpolicy", "default-deny"], "NetworkPolicy", "default-deny"],
      [["delete", "rolebinding", "tenant-owner"], "RoleBinding", "tenant-owner"],
      [["annotate", "rolebinding", "tenant-owner", "x=y"], "RoleBinding", "tenant-owner"],
      [["delete", "configmap", "managed-1"], "ConfigMap", "managed-1"]
    ]
    for (const [args, kind, name] of attempts) {
      const result = await dryRun(args, asTenant)
      assert.notStrictEqual(result.code, 0, `${args.join(" ")} was admitted`)
      assert.include(result.stderr, `ValidatingAdmissionPolicy '${policyName}'`, args.join(" "))
      assert.include(
        result.stderr,
        `${managedBy(`${kind} ${namespace}/${name}`, "kleff-tenant-operator")} ${tenantUser}`
      )
    }
    const mesh = await dryRun(["delete", "networkpolicy", "allow-istio-control-plane"], asTenant)
    assert.include(
      mesh.stderr,
      managedBy(`NetworkPolicy ${namespace}/allow-istio-control-plane`, "kleff-mesh-controller")
    )
  }, 120_000)

  it("refuses deleting managed objects as a collection, object by object", async () => {
    const selector = encodeURIComponent(`${key}=kleff-tenant-operator`)
    const path = `/api/v1/namespaces/${namespace}/configmaps?labelSelector=${selector}&dryRun=All`
    const result = await kubectl().run(["delete", "--raw", path, ...asTenant])
    assert.notStrictEqual(result.code, 0, "a delete of the collection was admitted")
    assert.include(result.stderr, `ValidatingAdmissionPolicy '${policyName}'`)
    assert.match(
      result.stderr,
      new RegExp(`ConfigMap ${namespace}/managed-\\d is managed by kleff-tenant-operator`)
    )
    const left = await kubectl().json<{ readonly items: ReadonlyArray<unknown> }>([
      "configmaps",
      "-n",
      namespace,
      "-l",
      key
    ])
    assert.lengthOf(left.items, 3)
  }, 60_000)

  it("refuses forging the label: on a new object (any kleff- value) or on one's own; other values and unlabelled objects are the tenant's", async () => {
    const forged = ["kleff-tenant-operator", "kleff-mesh-controller", "kleff-anything"].map(
      (manager, index) => networkPolicy(`forged-${index}`, { [key]: manager })
    )
    const own = [networkPolicy("own-policy"), networkPolicy("helm-policy", { [key]: "Helm" })]
    const outcomes = await admission(kubectl(), [...forged, ...own], asTenant)
    assertRefused(outcomes, forged, policyName, (object) => {
      const manager = object.metadata.labels?.[key]
      return `NetworkPolicy ${namespace}/${object.metadata.name}: the label ${key}=${manager} is reserved for the Kleff controllers; ${tenantUser} may not set it.`
    })
    assertAdmitted(outcomes, own)

    await kubectl().ok(["create", "-f", "-", ...asTenant], toYaml([networkPolicy("mine")]))
    const claim = await dryRun(["label", "networkpolicy", "mine", `${key}=kleff-tenant-operator`], asTenant)
    assert.include(
      claim.stderr,
      `the label ${key}=kleff-tenant-operator is reserved for the Kleff controllers`
    )
    for (const args of [
      ["annotate", "networkpolicy", "mine", "edited=yes"],
      ["delete", "networkpolicy", "mine"]
    ]) {
      const result = await dryRun(args, asTenant)
      assert.strictEqual(result.code, 0, `${args.join(" ")}: ${result.stderr}`)
    }
  }, 120_000)

  it("lets the operator, the garbage collector, the namespace controller and cluster administrators through", async () => {
    const identities: ReadonlyArray<
      readonly [string, ReadonlyArray<string>, ReadonlyArray<ReadonlyArray<string>>]
    > = [
      [
        "a cluster administrator (system:masters)",
        [],
        [
          ["annotate", "networkpolicy", "default-deny", "x=y"],
          ["delete", "networkpolicy", "default-deny"]
        ]
      ],
      [
        // ConfigMaps: kleff-tenant-operator-scope (deploy/rbac, when installed) confines this
        // identity's NetworkPolicies and RoleBindings to namespaces labelled as the operator's.
        "the operator",
        ["--as", operatorUser],
        [
          ["annotate", "configmap", "managed-3", "x=y"],
          ["delete", "configmap", "managed-3"]
        ]
      ],
      // Orphaning (--cascade=orphan) patches owner references away; a cascade deletes.
      [
        "the garbage collector",
        ["--as", "system:serviceaccount:kube-system:generic-garbage-collector"],
        [
          ["annotate", "networkpolicy", "default-deny", "x=y"],
          ["delete", "networkpolicy", "allow-istio-control-plane"]
        ]
      ],
      [
        "the namespace controller",
        ["--as", "system:serviceaccount:kube-system:namespace-controller"],
        [["delete", "configmap", "managed-2"]]
      ]
    ]
    for (const [who, as, attempts] of identities)
      for (const args of attempts) {
        const result = await dryRun(args, as)
        assert.strictEqual(result.code, 0, `${who}: ${args.join(" ")}: ${result.stderr}`)
      }
  }, 120_000)

  it("takes cluster administrators from administratorGroups, which an overlay replaces", async () => {
    const masters = ["--as", `someone-${run}`, "--as-group", "system:masters"]
    const refused = await dryRun(["annotate", "configmap", "other-admins", "x=y"], masters)
    assert.include(refused.stderr, `ValidatingAdmissionPolicy '${adminsPolicyName}'`)
    assert.include(
      refused.stderr,
      `${managedBy(`ConfigMap ${namespace}/other-admins`, "kleff-tenant-operator", adminsKey)} someone-${run}`
    )
    const member = await dryRun(
      ["annotate", "configmap", "other-admins", "x=y"],
      [...masters, "--as-group", platformAdmins]
    )
    assert.strictEqual(member.code, 0, member.stderr)
  }, 60_000)
})
