/**
 * deploy/ on a real API server (the local control plane of the test run), as an administrator
 * installs it and as the operator then lives with it:
 *   1. `kubectl apply -k deploy`: a server dry run, the apply, and a converged re-apply;
 *   2. the operator runs as the deploy ServiceAccount — a token from the TokenRequest API, the
 *      cluster's CA and server in a kubeconfig, the operator's CLI as a separate process with
 *      leader election in kleff-system — through the whole Tenant lifecycle of
 *      e2e/lifecycle.ts: the permissions are enough (no Forbidden anywhere in its log);
 *   3. the same identity is refused everything else, asked of the API server itself
 *      (SelfSubjectAccessReviews), and the scope policies refuse what RBAC alone would allow;
 *   4. the optional components (Istio, Gatekeeper) on Istio's real CRDs and stand-ins of
 *      Gatekeeper's: their
 *      RBAC is enough for a Tenant's life with both integrations on;
 *   5. uninstalling: `kubectl delete -k deploy` keeps the CRDs (the guard), and
 *      `kubectl delete -k deploy/manager` removes the operator and leaves a live tenant alone,
 *      which a reinstalled operator picks up where it was.
 * No pod runs (the control plane has no kubelet): the Deployment is applied and checked, the
 * operator process plays its pod.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { vi } from "vitest"
import { parse, stringify } from "yaml"
import { describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import {
  deleteTenants,
  eventually,
  hasCondition,
  installOperator,
  Kubectl,
  lockCluster,
  type OperatorProcess,
  type Suite,
  startOperator,
  tenantObject,
  toYaml,
  uniqueName
} from "../e2e/harness.ts"
import { lifecycleScenario } from "../e2e/lifecycle.ts"
import { installMeshCrds } from "../meshCrds.ts"
import { expectedRules } from "./expected-rbac.ts"
import {
  find,
  kustomize,
  operatorNamespace,
  overlayWith,
  serviceAccountName,
  serviceAccountUser
} from "./manifests.ts"

// The lifecycle scenario keeps its suite (and so the operator's log) to itself: wrap the harness's
// `useSuite` to see the suite it makes. Behaviour is unchanged.
const captured = vi.hoisted(() => ({ suite: undefined as (() => Suite) | undefined }))
vi.mock("../e2e/harness.ts", async (importOriginal) => {
  const harness = await importOriginal<typeof import("../e2e/harness.ts")>()
  return {
    ...harness,
    useSuite: (options: Parameters<typeof harness.useSuite>[0]) => {
      const accessor = harness.useSuite(options)
      captured.suite = accessor
      return accessor
    }
  }
})

const leaderElectionFlags = ["--leader-elect", "--leader-election-namespace", operatorNamespace]
const leaseName = "tenant-operator.kleff.io"

const adminKubeconfig = (): string => {
  if (kubeconfigPath === undefined) throw new Error("KLEFF_TEST_KUBECONFIG is not set")
  return kubeconfigPath
}

const objectsIn = (objects: ReadonlyArray<KubeObject>, namespace: string) =>
  objects.filter((object) => object.metadata.namespace === namespace)

/** kubectl's error lines (its version-skew warning and others are not errors). */
const errorLines = (stderr: string): ReadonlyArray<string> =>
  stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("Error") || line.startsWith("error"))

let installed: Promise<void> | undefined
/** `kubectl apply -k deploy` once per run (the apply tests do it first when they run). */
const ensureInstalled = (): Promise<void> => {
  installed ??= new Kubectl(adminKubeconfig()).ok(["apply", "-k", "deploy"]).then(() => undefined)
  return installed
}

// ---------------------------------------------------------------------------------------------
// the ServiceAccount's credentials

const directory = mkdtempSync(join(tmpdir(), "kleff-deploy-"))

interface KubeconfigFile {
  readonly "current-context"?: string
  readonly contexts?: ReadonlyArray<{ readonly name: string; readonly context: { readonly cluster: string } }>
  readonly clusters?: ReadonlyArray<{
    readonly name: string
    readonly cluster: {
      readonly server: string
      readonly "certificate-authority"?: string
      readonly "certificate-authority-data"?: string
    }
  }>
}

/**
 * Mints a token for the deploy ServiceAccount (`POST .../serviceaccounts/tenant-operator/token`,
 * the TokenRequest API, as the kubelet does for a pod) and writes a kubeconfig holding it with
 * the cluster's server and CA: what the operator has in its pod, as a file.
 */
const serviceAccountKubeconfig = async (): Promise<string> => {
  await ensureInstalled()
  const admin = new Kubectl(adminKubeconfig())
  const request = {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { expirationSeconds: 7200 }
  }
  const response = JSON.parse(
    await admin.ok(
      [
        "create",
        "--raw",
        `/api/v1/namespaces/${operatorNamespace}/serviceaccounts/${serviceAccountName}/token`,
        "-f",
        "-"
      ],
      JSON.stringify(request)
    )
  ) as { readonly status: { readonly token: string } }
  const config = parse(readFileSync(adminKubeconfig(), "utf8")) as KubeconfigFile
  const contextName = config["current-context"]
  const clusterName = config.contexts?.find((context) => context.name === contextName)?.context.cluster
  const cluster = config.clusters?.find((item) => item.name === clusterName)?.cluster
  if (cluster === undefined) throw new Error(`no cluster for context ${contextName} in ${adminKubeconfig()}`)
  const file = join(directory, `${serviceAccountName}-${Date.now()}.kubeconfig`)
  writeFileSync(
    file,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "cluster",
          cluster: {
            server: cluster.server,
            ...(cluster["certificate-authority-data"] === undefined
              ? { "certificate-authority": cluster["certificate-authority"] }
              : { "certificate-authority-data": cluster["certificate-authority-data"] })
          }
        }
      ],
      users: [{ name: serviceAccountName, user: { token: response.status.token } }],
      contexts: [{ name: serviceAccountName, context: { cluster: "cluster", user: serviceAccountName } }],
      "current-context": serviceAccountName
    })
  )
  return file
}

afterAll(() => rmSync(directory, { recursive: true, force: true }))

// ---------------------------------------------------------------------------------------------
// access reviews, asked as the ServiceAccount itself

interface Access {
  readonly verb: string
  readonly group?: string
  readonly resource: string
  readonly subresource?: string
  readonly name?: string
  /** Absent: cluster-wide (every namespace, for a namespaced resource). */
  readonly namespace?: string
}

const describeAccess = (access: Access): string =>
  `${access.verb} ${access.group === undefined || access.group === "" ? "core" : access.group}/${access.resource}` +
  `${access.subresource === undefined ? "" : `/${access.subresource}`}${access.name === undefined ? "" : `:${access.name}`}` +
  ` ${access.namespace === undefined ? "(cluster-wide)" : `in ${access.namespace}`}`

/** SelfSubjectAccessReviews of `accesses`, in one kubectl call: whether each is allowed. */
const reviewAll = async (
  kubectl: Kubectl,
  accesses: ReadonlyArray<Access>
): Promise<ReadonlyArray<boolean>> => {
  const reviews = accesses.map((access) => ({
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    spec: { resourceAttributes: access }
  }))
  // --validate=false: kubectl's client-side validation would list CRDs, which this identity may not.
  const out = await kubectl.ok(
    ["create", "--validate=false", "-f", "-", "-o", 'jsonpath={.status.allowed}{"\\n"}'],
    toYaml(reviews)
  )
  const answers = out.trim().split("\n")
  assert.lengthOf(answers, accesses.length)
  return answers.map((answer) => answer === "true")
}

/** Every permission in `expectedRules`, where its role applies. */
const grantedAccesses = (): ReadonlyArray<Access> =>
  Object.entries(expectedRules).flatMap(([id, rules]) => {
    const [kind, namespace] = id.split("/")
    return rules.flatMap((rule) =>
      (rule.apiGroups ?? []).flatMap((group) =>
        (rule.resources ?? []).flatMap((path) =>
          rule.verbs.flatMap((verb) =>
            (rule.resourceNames ?? [undefined]).map((name): Access => {
              const [resource = path, subresource] = path.split("/")
              return {
                verb,
                group,
                resource,
                ...(subresource === undefined ? {} : { subresource }),
                ...(name === undefined ? {} : { name }),
                ...(kind === "Role" && namespace !== undefined ? { namespace } : {})
              }
            })
          )
        )
      )
    )
  })

/** What the operator must never be able to do. */
const refusedAccesses: ReadonlyArray<Access> = [
  // Secrets and workloads, anywhere.
  { verb: "list", resource: "secrets" },
  { verb: "get", resource: "secrets", namespace: "tenant-example-tenant" },
  { verb: "get", resource: "secrets", namespace: "kube-system" },
  { verb: "create", resource: "pods", namespace: "tenant-example-tenant" },
  { verb: "create", resource: "pods", namespace: operatorNamespace },
  { verb: "create", resource: "pods", subresource: "exec", namespace: "tenant-example-tenant" },
  { verb: "create", resource: "serviceaccounts", subresource: "token", namespace: operatorNamespace },
  // Nodes.
  { verb: "update", resource: "nodes" },
  { verb: "patch", resource: "nodes" },
  // RBAC: no cluster-wide bindings, no roles, no other role to bind, no escalation, no impersonation.
  { verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterrolebindings" },
  { verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterroles" },
  {
    verb: "create",
    group: "rbac.authorization.k8s.io",
    resource: "roles",
    namespace: "tenant-example-tenant"
  },
  { verb: "bind", group: "rbac.authorization.k8s.io", resource: "clusterroles", name: "cluster-admin" },
  { verb: "bind", group: "rbac.authorization.k8s.io", resource: "clusterroles", name: "admin" },
  { verb: "bind", group: "rbac.authorization.k8s.io", resource: "clusterroles" },
  { verb: "escalate", group: "rbac.authorization.k8s.io", resource: "clusterroles" },
  {
    verb: "escalate",
    group: "rbac.authorization.k8s.io",
    resource: "roles",
    namespace: "tenant-example-tenant"
  },
  { verb: "impersonate", resource: "users" },
  { verb: "impersonate", resource: "serviceaccounts" },
  { verb: "impersonate", resource: "groups" },
  // The API itself and the admission policies that guard it.
  {
    verb: "delete",
    group: "apiextensions.k8s.io",
    resource: "customresourcedefinitions",
    name: "tenants.kleff.kleff.io"
  },
  { verb: "create", group: "apiextensions.k8s.io", resource: "customresourcedefinitions" },
  // It reads the Tenant CRD by name, and no other CRD (their schemas are none of its business).
  { verb: "list", group: "apiextensions.k8s.io", resource: "customresourcedefinitions" },
  {
    verb: "watch",
    group: "apiextensions.k8s.io",
    resource: "customresourcedefinitions",
    name: "plans.kleff.kleff.io"
  },
  {
    verb: "patch",
    group: "apiextensions.k8s.io",
    resource: "customresourcedefinitions",
    name: "tenants.kleff.kleff.io"
  },
  { verb: "create", group: "admissionregistration.k8s.io", resource: "validatingadmissionpolicies" },
  {
    verb: "patch",
    group: "admissionregistration.k8s.io",
    resource: "validatingadmissionpolicies",
    name: "kleff-tenant-operator-scope"
  },
  {
    verb: "delete",
    group: "admissionregistration.k8s.io",
    resource: "validatingadmissionpolicies",
    name: "kleff-keep-tenant-data"
  },
  // Tenants and Plans are the users' and the administrators': the operator only marks Tenants.
  { verb: "create", group: "kleff.kleff.io", resource: "tenants" },
  { verb: "update", group: "kleff.kleff.io", resource: "tenants" },
  { verb: "delete", group: "kleff.kleff.io", resource: "tenants" },
  { verb: "create", group: "kleff.kleff.io", resource: "plans" },
  { verb: "patch", group: "kleff.kleff.io", resource: "plans" },
  { verb: "delete", group: "kleff.kleff.io", resource: "plans" },
  // Its namespaced grants stay in their namespaces.
  { verb: "create", group: "events.k8s.io", resource: "events", namespace: "kube-system" },
  { verb: "create", group: "events.k8s.io", resource: "events", namespace: "tenant-example-tenant" },
  { verb: "create", resource: "events", namespace: "default" },
  { verb: "patch", group: "events.k8s.io", resource: "events", namespace: "default" },
  { verb: "patch", group: "coordination.k8s.io", resource: "leases", namespace: "kube-system" },
  { verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: "kube-node-lease" },
  { verb: "delete", group: "coordination.k8s.io", resource: "leases", namespace: operatorNamespace },
  // No bulk deletes, no full replaces.
  { verb: "deletecollection", resource: "namespaces" },
  { verb: "update", resource: "namespaces" },
  { verb: "deletecollection", group: "rbac.authorization.k8s.io", resource: "rolebindings" }
]

// ---------------------------------------------------------------------------------------------
// stand-ins for the CRDs of Gatekeeper: the kinds, served, any content accepted (Istio's are the
// real ones, from meshCrds.ts)

const standInCrd = (
  group: string,
  version: string,
  kind: string,
  plural: string,
  scope: "Namespaced" | "Cluster"
) => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `${plural}.${group}`, labels: { "kleff.io/test": "stand-in" } },
  spec: {
    group,
    scope,
    names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
    versions: [
      {
        name: version,
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } }
      }
    ]
  }
})

const standInCrds = [
  standInCrd("templates.gatekeeper.sh", "v1", "ConstraintTemplate", "constrainttemplates", "Cluster"),
  standInCrd("constraints.gatekeeper.sh", "v1beta1", "K8sAllowedRepos", "k8sallowedrepos", "Cluster")
]

// ---------------------------------------------------------------------------------------------

describeCluster("deploy/ on a real API server", () => {
  const admin = () => new Kubectl(adminKubeconfig())
  const all = kustomize("deploy")

  describe("kubectl apply -k deploy", () => {
    // It writes the CRDs and compares them with deploy/: not while an end-to-end suite has them.
    let release: (() => void) | undefined
    beforeAll(async () => {
      release = await lockCluster(adminKubeconfig())
    }, 30 * 60_000)
    afterAll(() => release?.())

    it("passes a server dry run: every object admitted, except that objects inside kleff-system wait for the namespace", async () => {
      const namespaceExisted = (await admin().find("namespace", operatorNamespace)) !== undefined
      const run = await admin().run(["apply", "-k", "deploy", "--dry-run=server"])
      const errors = errorLines(run.stderr)
      // A server dry run creates nothing, so on a fresh cluster the namespace it would create
      // is not there for the objects inside it (kubectl's limitation; the real apply below
      // creates the namespace first).
      const expected = namespaceExisted
        ? []
        : objectsIn(all, operatorNamespace).map(() => `namespaces "${operatorNamespace}" not found`)
      assert.deepStrictEqual(
        errors.map((line) => line.replace(/^.*: /, "")),
        expected,
        run.stderr
      )
      const admitted = run.stdout.split("\n").filter((line) => line.endsWith("(server dry run)"))
      assert.lengthOf(admitted, all.length - expected.length, run.stdout)
    }, 120_000)

    it("applies, then every object is there and the CRDs are established", async () => {
      installed = admin()
        .ok(["apply", "-k", "deploy"])
        .then(() => undefined)
      await installed
      const there = JSON.parse(await admin().ok(["get", "-k", "deploy", "-o", "json"])) as {
        readonly items: ReadonlyArray<KubeObject>
      }
      assert.lengthOf(there.items, all.length)
      await admin().ok([
        "wait",
        "--for=condition=Established",
        "crd/tenants.kleff.kleff.io",
        "crd/plans.kleff.kleff.io",
        "--timeout=60s"
      ])
    }, 120_000)

    it("is converged: a second server dry run admits everything and kubectl diff finds no difference", async () => {
      await ensureInstalled()
      const dryRun = await admin().run(["apply", "-k", "deploy", "--dry-run=server"])
      assert.deepStrictEqual(errorLines(dryRun.stderr), [], dryRun.stderr)
      assert.strictEqual(dryRun.code, 0)
      const diff = await admin().run(["diff", "-k", "deploy"])
      assert.strictEqual(diff.code, 0, `kubectl diff -k deploy:\n${diff.stdout}${diff.stderr}`)
    }, 120_000)
  })

  describe("the operator as the deploy ServiceAccount, through a whole Tenant lifecycle", () => {
    lifecycleScenario({
      adminKubeconfig,
      operatorKubeconfig: serviceAccountKubeconfig,
      operatorArgs: leaderElectionFlags
    })

    const operator = (): OperatorProcess => {
      const suite = captured.suite?.()
      if (suite?.operator === undefined) throw new Error("the lifecycle scenario's operator did not run")
      return suite.operator
    }

    it("ran as the ServiceAccount, and nothing it asked for was forbidden", () => {
      const output = operator().output()
      assert.include(output, "Starting tenant operator")
      assert.notMatch(output, /forbidden|\b403\b/i, output)
    })

    it("recorded its Events on the Tenant (events.k8s.io, in default)", async () => {
      const started = Date.parse(operator().logs()[0]?.timestamp ?? "")
      const events = await admin().json<{ readonly items: ReadonlyArray<KubeObject> }>([
        "events.events.k8s.io",
        "-n",
        "default"
      ])
      const ours = events.items.filter((event) => {
        const fields = event as KubeObject & {
          readonly reportingController?: string
          readonly eventTime?: string
          readonly regarding?: { readonly kind?: string }
        }
        return (
          fields.reportingController === "kleff.io/tenant-controller" &&
          fields.regarding?.kind === "Tenant" &&
          Date.parse(fields.eventTime ?? "") >= started - 1_000
        )
      })
      const reasons = new Set(
        ours.map((event) => (event as KubeObject & { readonly reason?: string }).reason)
      )
      assert.isTrue(reasons.has("Created") && reasons.has("Deleted"), `reasons: ${[...reasons].join(", ")}`)
    })

    it("held the leader Lease in kleff-system, and released it when it stopped", async () => {
      const lease = await admin().get("lease", leaseName, operatorNamespace)
      const spec = lease.spec as { readonly holderIdentity?: string; readonly acquireTime?: string }
      assert.isDefined(spec.acquireTime)
      assert.isTrue(spec.holderIdentity === undefined || spec.holderIdentity === "", JSON.stringify(spec))
      assert.isFalse(operator().isRunning())
    })
  })

  describe("what the ServiceAccount is refused", () => {
    let serviceAccount: Kubectl
    const foreign = uniqueName("deploy-foreign")
    const managed = uniqueName("deploy-managed")

    beforeAll(async () => {
      serviceAccount = new Kubectl(await serviceAccountKubeconfig())
      // A namespace no Tenant owns, and one that looks like a tenant's (the operator's label).
      await admin().ok(["create", "namespace", foreign])
      await admin().ok(["create", "namespace", managed])
      await admin().ok(["label", "namespace", managed, "app.kubernetes.io/managed-by=kleff-tenant-operator"])
      await admin().ok(["create", "quota", "someone-elses", "--hard=pods=10", "-n", foreign])
    }, 120_000)

    afterAll(async () => {
      await admin().run(["delete", "namespace", foreign, managed, "--ignore-not-found", "--wait=false"])
    })

    it("is granted every permission deploy/ lists, where it lists it (SelfSubjectAccessReview)", async () => {
      const accesses = grantedAccesses()
      const answers = await reviewAll(serviceAccount, accesses)
      const denied = accesses.filter((_, index) => answers[index] !== true).map(describeAccess)
      assert.deepStrictEqual(denied, [])
      assert.strictEqual(
        (await serviceAccount.ok(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"])).trim(),
        serviceAccountUser
      )
    })

    it("is refused everything else that matters (SelfSubjectAccessReview)", async () => {
      const answers = await reviewAll(serviceAccount, refusedAccesses)
      const allowed = refusedAccesses.filter((_, index) => answers[index] !== false).map(describeAccess)
      assert.deepStrictEqual(allowed, [], "allowed, but must not be")
    })

    it("cannot read a Secret or list Pods for real", async () => {
      for (const args of [
        ["get", "secrets", "-A"],
        ["get", "pods", "-n", "kube-system"],
        ["get", "nodes"]
      ]) {
        const run = await serviceAccount.run(args)
        assert.notStrictEqual(run.code, 0, args.join(" "))
        assert.include(run.stderr, "forbidden", args.join(" "))
      }
    })

    it("cannot bind any ClusterRole but kleff-tenant-owner, even in a tenant's namespace (RBAC escalation check)", async () => {
      const run = await serviceAccount.run([
        "create",
        "rolebinding",
        "escalate",
        "--clusterrole=admin",
        "--user=mallory",
        "-n",
        managed,
        "--dry-run=server"
      ])
      assert.notStrictEqual(run.code, 0)
      assert.include(run.stderr, "is attempting to grant RBAC permissions not currently held")
    })

    it("binds kleff-tenant-owner to a user in a namespace it manages (the one thing it is for)", async () => {
      const run = await serviceAccount.run([
        "create",
        "rolebinding",
        "tenant-owner-check",
        "--clusterrole=kleff-tenant-owner",
        "--user=alice",
        "-n",
        managed,
        "--dry-run=server"
      ])
      assert.strictEqual(run.code, 0, run.stderr)
    })

    it("is confined by its scope policies where RBAC alone would let it through", async () => {
      const refusals: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [
          ["create", "rolebinding", "x", "--clusterrole=kleff-tenant-owner", "--user=mallory", "-n", foreign],
          "kleff-tenant-operator-scope"
        ],
        [
          [
            "create",
            "rolebinding",
            "x",
            "--clusterrole=kleff-tenant-owner",
            "--user=mallory",
            "-n",
            "kube-system"
          ],
          "kleff-tenant-operator-scope"
        ],
        [
          [
            "create",
            "rolebinding",
            "x",
            "--clusterrole=kleff-tenant-owner",
            `--serviceaccount=${operatorNamespace}:${serviceAccountName}`,
            "-n",
            managed
          ],
          "kleff-tenant-operator-rolebindings"
        ],
        [
          [
            "create",
            "rolebinding",
            "x",
            "--clusterrole=kleff-tenant-owner",
            "--user=system:admin",
            "-n",
            managed
          ],
          "kleff-tenant-operator-rolebindings"
        ],
        [["delete", "namespace", foreign], "kleff-tenant-operator-scope"],
        [["create", "namespace", uniqueName("deploy-rogue")], "kleff-tenant-operator-scope"],
        [["create", "quota", "q", "--hard=pods=0", "-n", foreign], "kleff-tenant-operator-scope"],
        [["delete", "resourcequota", "someone-elses", "-n", foreign], "kleff-tenant-operator-scope"]
      ]
      for (const [args, policy] of refusals) {
        const run = await serviceAccount.run([...args, "--dry-run=server"])
        assert.notStrictEqual(run.code, 0, `${args.join(" ")} was allowed`)
        assert.include(
          run.stderr,
          `ValidatingAdmissionPolicy '${policy}'`,
          `${args.join(" ")}: ${run.stderr}`
        )
      }
      // Taking over a namespace by labelling it, the way the operator writes (server-side apply:
      // kubectl patch and label would need a get, which RBAC already refuses).
      const takeover = await serviceAccount.run(
        [
          "apply",
          "--server-side",
          "--validate=false",
          "--field-manager=tenant-controller",
          "--dry-run=server",
          "-f",
          "-"
        ],
        toYaml([
          {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: foreign, labels: { "app.kubernetes.io/managed-by": "kleff-tenant-operator" } }
          }
        ])
      )
      assert.notStrictEqual(takeover.code, 0, "labelling a foreign namespace was allowed")
      assert.include(
        takeover.stderr,
        "ValidatingAdmissionPolicy 'kleff-tenant-operator-scope'",
        takeover.stderr
      )
    })
  })

  describe("with the optional components (on Istio's CRDs and stand-in Gatekeeper CRDs)", () => {
    it("the operator, with both integrations and their components' RBAC, provisions and deletes a tenant; nothing forbidden", async () => {
      const kubectl = admin()
      const components = ["components/istio", "components/gatekeeper"]
      const overlay = overlayWith(components)
      const release = await lockCluster(adminKubeconfig())
      const name = uniqueName("deploy-opt")
      const namespace = `tenant-${name}`
      let operator: OperatorProcess | undefined
      try {
        await ensureInstalled()
        await installOperator(adminKubeconfig())
        await installMeshCrds(adminKubeconfig(), ["istio"])
        await kubectl.ok(["apply", "-f", "-"], toYaml(standInCrds))
        await kubectl.ok([
          "wait",
          "--for=condition=Established",
          ...standInCrds.map((crd) => `crd/${crd.metadata.name}`),
          "--timeout=60s"
        ])
        // kubectl's discovery may lag the new kinds (the ConstraintTemplate) for a moment.
        await eventually(
          "kubectl apply -k <overlay with both components>",
          () => kubectl.run(["apply", "-k", overlay.path]),
          (run) => run.code === 0,
          60_000
        )
        // The Deployment's flags as the overlay makes them (the harness binds its own ports).
        const applied: ReadonlyArray<KubeObject> = JSON.parse(
          await kubectl.ok(["get", "-k", overlay.path, "-o", "json"])
        ).items
        const deployment = find(applied, "Deployment", "tenant-operator") as KubeObject & {
          readonly spec: {
            readonly template: {
              readonly spec: { readonly containers: ReadonlyArray<{ readonly args: ReadonlyArray<string> }> }
            }
          }
        }
        const args = (deployment.spec.template.spec.containers[0]?.args ?? []).filter(
          (arg) =>
            arg !== "run" &&
            !arg.startsWith("--metrics-bind-address") &&
            !arg.startsWith("--health-probe-bind-address")
        )
        assert.includeMembers([...args], ["--enable-istio", "--enable-gatekeeper", "--leader-elect"])
        operator = await startOperator({ kubeconfig: await serviceAccountKubeconfig(), args })

        await kubectl.ok(
          ["apply", "-f", "-"],
          toYaml([tenantObject(name, { plan: "basic", userId: `user-${name}`, username: name })])
        )
        await kubectl.ok(["wait", "--for=condition=TenantReady", `tenant/${name}`, "--timeout=90s"])
        const tenant = await kubectl.get("tenant", name)
        assert.isTrue(
          hasCondition(tenant, "MeshReady", "True", "MeshConfigured"),
          JSON.stringify(tenant.status)
        )
        assert.isDefined(await kubectl.find("peerauthentications.security.istio.io", "default", namespace))
        // The Gateway passed the component's kleff-tenant-hosts policy: the host is the one the
        // operator wrote on the namespace (the default --mesh-apps-domain).
        assert.strictEqual(
          (await kubectl.get("namespace", namespace)).metadata.annotations?.["kleff.io/tenant-host"],
          `${name}.apps.kleff.io`
        )
        assert.isDefined(await kubectl.find("gateways.networking.istio.io", "tenant-gateway", namespace))
        assert.isDefined(await kubectl.find("sidecars.networking.istio.io", "default", namespace))
        assert.isDefined(
          await kubectl.find("authorizationpolicies.security.istio.io", "allow-tenant-and-ingress", namespace)
        )
        assert.isDefined(
          await kubectl.find("k8sallowedrepos.constraints.gatekeeper.sh", `kleff-allowed-repos-${name}`)
        )

        await deleteTenants(kubectl, [name])
        assert.isUndefined(await kubectl.find("namespace", namespace))
        assert.isUndefined(
          await kubectl.find("k8sallowedrepos.constraints.gatekeeper.sh", `kleff-allowed-repos-${name}`)
        )
        assert.notMatch(operator.output(), /forbidden|\b403\b/i, operator.output())
        assert.deepStrictEqual(operator.errors(), [], operator.output())
      } finally {
        if ((await kubectl.find("tenant", name)) !== undefined) {
          if (operator?.isRunning() !== true) {
            operator = await startOperator({ kubeconfig: adminKubeconfig(), args: leaderElectionFlags })
          }
          await deleteTenants(kubectl, [name])
        }
        if (operator?.isRunning() === true) await operator.stop()
        // Back to the default install: flags and scope as deploy/ has them, no component RBAC,
        // no tenant hosts policy (it would refuse Gateways in other tests' tenant namespaces), no
        // stand-in kinds. Istio's CRDs stay, for other test files.
        installed = undefined
        await ensureInstalled()
        for (const file of [
          ...components.map((component) => `deploy/${component}/clusterrole.yaml`),
          "deploy/components/istio/tenant-hosts-policy.yaml"
        ]) {
          await kubectl.ok(["delete", "-f", file, "--ignore-not-found"])
        }
        await kubectl.ok([
          "delete",
          "constrainttemplates.templates.gatekeeper.sh",
          "k8sallowedrepos",
          "--ignore-not-found"
        ])
        await kubectl.ok([
          "delete",
          "crd",
          ...standInCrds.map((crd) => crd.metadata.name),
          "--ignore-not-found"
        ])
        overlay.remove()
        release()
      }
    }, 600_000)
  })

  describe("uninstalling", () => {
    it("kubectl delete -k deploy keeps the CRDs and kleff-tenant-owner, saying why (server dry run)", async () => {
      await ensureInstalled()
      const run = await admin().run(["delete", "-k", "deploy", "--dry-run=server"])
      const refused = errorLines(run.stderr)
      assert.lengthOf(refused, 3, run.stderr)
      for (const name of ["tenants.kleff.kleff.io", "plans.kleff.kleff.io", "kleff-tenant-owner"]) {
        const line = refused.find((item) => item.includes(`"${name}" is forbidden`))
        assert.isDefined(line, `${name}: ${run.stderr}`)
        assert.include(line, "ValidatingAdmissionPolicy 'kleff-keep-tenant-data'")
        assert.include(line, "kubectl delete -k deploy/manager")
      }
      const deleted = run.stdout.split("\n").filter((line) => line.endsWith("(server dry run)"))
      assert.lengthOf(deleted, all.length - 3, run.stdout)
    }, 120_000)

    it("a CRD annotated kleff.io/allow-delete=true on purpose may be deleted (server dry run)", async () => {
      await ensureInstalled()
      const crd = "crd/plans.kleff.kleff.io"
      await admin().ok(["annotate", crd, "kleff.io/allow-delete=true", "--overwrite"])
      try {
        const run = await admin().run(["delete", crd, "--dry-run=server"])
        assert.strictEqual(run.code, 0, run.stderr)
      } finally {
        await admin().ok(["annotate", crd, "kleff.io/allow-delete-"])
      }
    }, 120_000)

    it("kubectl delete -k deploy/manager removes the operator and leaves a live tenant as it was; reinstalled, the operator picks it up", async () => {
      const kubectl = admin()
      const release = await lockCluster(adminKubeconfig())
      const name = uniqueName("deploy-un")
      const namespace = `tenant-${name}`
      let operator: OperatorProcess | undefined
      try {
        await ensureInstalled()
        await installOperator(adminKubeconfig())
        operator = await startOperator({
          kubeconfig: await serviceAccountKubeconfig(),
          args: leaderElectionFlags
        })
        await kubectl.ok(
          ["apply", "-f", "-"],
          toYaml([tenantObject(name, { plan: "basic", userId: `user-${name}`, username: name })])
        )
        await kubectl.ok(["wait", "--for=condition=TenantReady", `tenant/${name}`, "--timeout=90s"])
        assert.deepStrictEqual(await operator.stop(), { code: 0, signal: null })

        // Uninstall the operator only.
        const removal = await kubectl.run(["delete", "-k", "deploy/manager", "--wait=true"])
        assert.deepStrictEqual(errorLines(removal.stderr), [], removal.stderr)
        await kubectl.ok(["wait", "--for=delete", `namespace/${operatorNamespace}`, "--timeout=120s"])
        assert.isUndefined(await kubectl.find("clusterrole", "kleff-tenant-operator"))

        // Everything the tenant has is still there, untouched.
        const tenant = await kubectl.get("tenant", name)
        assert.isUndefined(tenant.metadata.deletionTimestamp)
        assert.isTrue(hasCondition(tenant, "TenantReady", "True"))
        const ns = await kubectl.get("namespace", namespace)
        assert.isUndefined(ns.metadata.deletionTimestamp)
        for (const [resource, child] of [
          ["resourcequota", "tenant-quota"],
          ["rolebinding", "tenant-owner"],
          ["networkpolicy", "default-deny"]
        ] as const) {
          assert.isDefined(await kubectl.find(resource, child, namespace), `${resource} ${child}`)
        }
        for (const kept of [
          "crd/tenants.kleff.kleff.io",
          "crd/plans.kleff.kleff.io",
          "clusterrole/kleff-tenant-owner"
        ]) {
          const [resource = "", object = ""] = kept.split("/")
          assert.isDefined(await kubectl.find(resource, object), kept)
        }

        // Meanwhile the tenant changes plan; nobody acts on it until the operator is back.
        await kubectl.ok(["patch", "tenant", name, "--type=merge", "-p", '{"spec":{"plan":"pro"}}'])

        installed = undefined
        await ensureInstalled()
        operator = await startOperator({
          kubeconfig: await serviceAccountKubeconfig(),
          args: leaderElectionFlags
        })
        await eventually(
          "the reinstalled operator to apply the new plan",
          () => kubectl.get("namespace", namespace),
          (object) => object.metadata.labels?.["kleff.io/tenant-plan"] === "pro",
          120_000
        )
        await deleteTenants(kubectl, [name])
        assert.isUndefined(await kubectl.find("namespace", namespace))
        assert.notMatch(operator.output(), /forbidden/i, operator.output())
      } finally {
        // Whatever failed, the tenant goes (through an operator, so its finalizer is released).
        if ((await kubectl.find("tenant", name)) !== undefined) {
          if (operator?.isRunning() !== true) {
            await ensureInstalled()
            operator = await startOperator({ kubeconfig: adminKubeconfig(), args: leaderElectionFlags })
          }
          await deleteTenants(kubectl, [name])
        }
        if (operator?.isRunning() === true) await operator.stop()
        release()
      }
    }, 600_000)
  })
})
