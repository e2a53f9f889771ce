/**
 * The Tenant API against a real API server (the local control plane from tools/cluster): the
 * generated CRDs, the static cluster objects and the samples are applied with server-side apply,
 * the rendered children of a tenant are proven valid API objects, and admission (CRD schema and
 * CEL, Pod Security, the trusted-registries policy, RBAC) is exercised with server-side dry runs.
 *
 * Runs when KLEFF_TEST_KUBECONFIG names an admin kubeconfig, e.g.
 *   KLEFF_TEST_KUBECONFIG=$(node tools/cluster/cluster.ts up | tail -n1) npx vitest run --project @kleff/tenant-operator
 * Drives the cluster with `kubectl`, as a user or a GitOps tool would.
 */
import { spawnSync } from "node:child_process"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { differs, type KubeObject } from "@kleff/core"
import { Result } from "effect"
import { parse } from "yaml"
import { deletionProtectionPolicyName, type Tenant } from "../src/api/Tenant.ts"
import { toYaml } from "../src/cli/crds.ts"
import { renderTenantObjects } from "../src/cli/render.ts"
import { defaultConfig } from "../src/desired/Config.ts"
import { lockCluster } from "./e2e/harness.ts"
import { readRepoFile, repoPath, samplePlan } from "./fixtures.ts"

const kubeconfig = process.env.KLEFF_TEST_KUBECONFIG

interface Run {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

const kubectl = (args: ReadonlyArray<string>, input?: string): Run => {
  const result = spawnSync(process.env.KLEFF_KUBECTL ?? "kubectl", [...args], {
    env: { ...process.env, KUBECONFIG: kubeconfig },
    input,
    encoding: "utf8",
    timeout: 60_000
  })
  if (result.error !== undefined) throw result.error
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
}

const ok = (args: ReadonlyArray<string>, input?: string): string => {
  const run = kubectl(args, input)
  assert.strictEqual(run.status, 0, `kubectl ${args.join(" ")} failed: ${run.stderr}`)
  return run.stdout
}

const refused = (args: ReadonlyArray<string>, input?: string): string => {
  const run = kubectl(args, input)
  assert.notStrictEqual(run.status, 0, `kubectl ${args.join(" ")} should have been refused`)
  return run.stderr
}

const applyYaml = (yaml: string, ...flags: ReadonlyArray<string>): string =>
  ok(["apply", "--server-side", "--field-manager", "tenant-controller", ...flags, "-f", "-"], yaml)

const getJson = (args: ReadonlyArray<string>): KubeObject =>
  JSON.parse(ok(["get", ...args, "-o", "json"])) as KubeObject

const waitFor = async (what: string, check: () => boolean): Promise<void> => {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  assert.fail(`timed out waiting for ${what}`)
}

/** A unique tenant for this run, so runs against a shared cluster do not collide. */
const tenantName = `it-${process.pid}-${Math.floor(Math.random() * 1e6).toString(36)}`
const namespace = `tenant-${tenantName}`

const tenantManifest = (name: string, spec: Record<string, string>): string =>
  toYaml({ apiVersion: "kleff.kleff.io/v1", kind: "Tenant", metadata: { name }, spec })

const podManifest = (image: string, securityContext = true): string =>
  toYaml({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace },
    spec: {
      ...(securityContext
        ? {
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 1000,
              seccompProfile: { type: "RuntimeDefault" }
            }
          }
        : {}),
      containers: [
        {
          name: "web",
          image,
          ...(securityContext
            ? { securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }
            : { securityContext: { privileged: true } })
        }
      ]
    }
  })

describe.skipIf(kubeconfig === undefined)(
  "Tenant API on a real API server (needs KLEFF_TEST_KUBECONFIG)",
  () => {
    let children: ReadonlyArray<KubeObject> = []
    let release: (() => void) | undefined

    beforeAll(async () => {
      // The CRDs as shipped, and no operator: the end-to-end suites take turns with this one.
      release = await lockCluster(kubeconfig ?? "")
      // Shared cluster-wide objects: other tests (and `tenant-operator install`) apply them too, under
      // their own field managers; this suite takes ownership rather than fail on a conflict.
      const install = (file: string) =>
        ok(["apply", "--server-side", "--force-conflicts", "-f", repoPath(file)])
      install("deploy/crds")
      await waitFor(
        "the CRDs to be established",
        () =>
          kubectl([
            "wait",
            "--for=condition=Established",
            "--timeout=10s",
            "crd/tenants.kleff.kleff.io",
            "crd/plans.kleff.kleff.io"
          ]).status === 0
      )
      install("deploy/cluster/tenant-owner-clusterrole.yaml")
      install("deploy/cluster/trusted-registries-policy.yaml")
      install("deploy/cluster/tenant-services-policy.yaml")
      install("deploy/cluster/managed-objects-policy.yaml")
      install("deploy/cluster/tenant-deletion-protection-policy.yaml")
      for (const plan of ["free", "basic", "pro"]) install(`deploy/samples/plan-${plan}.yaml`)
      ok(
        ["apply", "--server-side", "-f", "-"],
        tenantManifest(tenantName, { plan: "basic", userId: `user-${tenantName}`, username: "itest" })
      )
      const tenant = getJson(["tenant", tenantName]) as Tenant
      const rendered = renderTenantObjects(tenant, [samplePlan("basic")], defaultConfig)
      if (Result.isFailure(rendered)) return assert.fail(rendered.failure.message)
      children = rendered.success
    }, 30 * 60_000) // the lock may wait for end-to-end suites

    afterAll(() => {
      // No operator runs here: deleting the Tenant lets the garbage collector take its children.
      try {
        kubectl(["delete", "tenant", tenantName, "--wait=false", "--ignore-not-found"])
        kubectl(["delete", "namespace", namespace, "--wait=false", "--ignore-not-found"])
      } finally {
        release?.()
      }
    })

    it("accepts the platform's original Tenant manifest unchanged", () => {
      const out = ok([
        "apply",
        "--server-side",
        "--dry-run=server",
        "-f",
        repoPath("deploy/samples/tenant.yaml")
      ])
      assert.include(out, "tenant.kleff.kleff.io/example-tenant")
    })

    it("refuses a username that is not a DNS-1123 label, saying which field and why", () => {
      const stderr = refused(
        ["apply", "--server-side", "--dry-run=server", "-f", "-"],
        tenantManifest("bad-name", { plan: "basic", userId: "u", username: "Bad_Name" })
      )
      assert.include(stderr, "spec.username")
      assert.include(stderr, "Bad_Name")
    })

    it("refuses a Tenant name that cannot be a label value", () => {
      const stderr = refused(
        ["apply", "--server-side", "--dry-run=server", "-f", "-"],
        tenantManifest("dotted.name", { plan: "basic", userId: "u", username: "ok" })
      )
      assert.include(stderr, "DNS-1123 label")
    })

    it("refuses a change of userId", () => {
      const stderr = refused([
        "patch",
        "tenant",
        tenantName,
        "--type=merge",
        "-p",
        '{"spec":{"userId":"someone-else"}}'
      ])
      assert.include(stderr, "spec.userId is immutable")
      ok([
        "patch",
        "tenant",
        tenantName,
        "--type=merge",
        "--dry-run=server",
        "-p",
        '{"spec":{"username":"renamed"}}'
      ])
    })

    it("refuses an invalid Plan: bad quantity, unknown Pod Security level, non-boolean injection", () => {
      const plan = toYaml({
        apiVersion: "kleff.kleff.io/v1",
        kind: "Plan",
        metadata: { name: "broken" },
        spec: {
          quota: { "requests.memory": "2GB" },
          podSecurity: "privileged",
          istioInjection: true,
          allowedRegistries: []
        }
      })
      const stderr = refused(["apply", "--server-side", "--dry-run=server", "-f", "-"], plan)
      assert.include(stderr, "spec.quota.requests.memory")
      assert.include(stderr, "spec.podSecurity")
    })

    it("admits integer quantities (int-or-string)", () => {
      const plan = toYaml({
        apiVersion: "kleff.kleff.io/v1",
        kind: "Plan",
        metadata: { name: "integers" },
        spec: {
          quota: { pods: 20, "requests.cpu": 2 },
          podSecurity: "baseline",
          istioInjection: false,
          allowedRegistries: []
        }
      })
      ok(["apply", "--server-side", "--dry-run=server", "-f", "-"], plan)
    })

    it("prints the Tenant's and Plan's columns", () => {
      assert.match(ok(["get", "tenants", tenantName]), /NAME\s+PLAN\s+NAMESPACE\s+READY\s+REASON\s+AGE/)
      assert.match(ok(["get", "plans", "basic", "-o", "wide"]), /basic\s+restricted\s+true\s+1\s+2Gi/)
      assert.include(ok(["get", "tn", tenantName]), tenantName)
      assert.include(ok(["get", "tplan", "basic"]), "basic")
    })

    it("takes the rendered children as valid API objects (server-side dry run into the created namespace)", () => {
      const [namespaceObject, ...rest] = children
      assert.strictEqual(namespaceObject?.kind, "Namespace")
      applyYaml(toYaml(namespaceObject))
      const out = applyYaml(rest.map(toYaml).join("---\n"), "--dry-run=server")
      assert.strictEqual(out.trim().split("\n").length, rest.length)
    })

    it("stores the children so that the planner sees nothing left to write", () => {
      applyYaml(children.map(toYaml).join("---\n"))
      for (const child of children) {
        const args =
          child.metadata.namespace === undefined
            ? [child.kind, child.metadata.name]
            : [child.kind, child.metadata.name, "-n", child.metadata.namespace]
        const live = getJson(args)
        assert.isFalse(
          differs(child, live),
          `${child.kind} ${child.metadata.name} differs from what the API server stored`
        )
      }
      // Eleven kubectl processes (the apply, one get per child): 5.1 s once on a contended machine.
    }, 30_000)

    it("denies an image from an untrusted registry in the tenant namespace, and admits a trusted one", async () => {
      applyYaml(children.map(toYaml).join("---\n"))
      let stderr = ""
      await waitFor("the trusted-registries binding to take effect", () => {
        const run = kubectl(["create", "--dry-run=server", "-f", "-"], podManifest("quay.io/someone/nginx"))
        stderr = run.stderr
        return run.status !== 0 && stderr.includes("kleff-trusted-registries")
      })
      assert.include(
        stderr,
        'Pod web: image "quay.io/someone/nginx" of container web is not from a registry plan basic trusts (registry.kleff.io/, docker.io/library/)'
      )
      ok(["create", "--dry-run=server", "-f", "-"], podManifest("registry.kleff.io/nginx:1.27"))
      ok(["create", "--dry-run=server", "-f", "-"], podManifest("docker.io/library/nginx:1.27"))
      ok(["create", "--dry-run=server", "-f", "-"], podManifest("nginx:1.27"))
    })

    it("enforces the plan's Pod Security level and container defaults", () => {
      const stderr = refused(
        ["create", "--dry-run=server", "-f", "-"],
        podManifest("registry.kleff.io/nginx:1.27", false)
      )
      assert.include(stderr, "violates PodSecurity")
      const pod = JSON.parse(
        ok(
          ["create", "--dry-run=server", "-o", "json", "-f", "-"],
          podManifest("registry.kleff.io/nginx:1.27")
        )
      ) as { spec: { containers: ReadonlyArray<{ resources: unknown }> } }
      assert.deepStrictEqual(pod.spec.containers[0]?.resources, {
        limits: { cpu: "500m", memory: "512Mi", "ephemeral-storage": "512Mi" },
        requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "128Mi" }
      })
    })

    it("gives the tenant's user their namespace and nothing beyond it", () => {
      applyYaml(children.map(toYaml).join("---\n"))
      const user = `user-${tenantName}`
      const can = (verb: string, resource: string, ns = namespace) =>
        kubectl(["auth", "can-i", verb, resource, "-n", ns, "--as", user]).stdout.trim()
      assert.strictEqual(can("create", "deployments.apps"), "yes")
      assert.strictEqual(can("create", "secrets"), "yes")
      assert.strictEqual(can("create", "pods/exec"), "yes")
      assert.strictEqual(can("create", "ingresses.networking.k8s.io"), "yes")
      assert.strictEqual(can("get", "resourcequotas"), "yes")
      assert.strictEqual(can("patch", "resourcequotas"), "no")
      assert.strictEqual(can("delete", "limitranges"), "no")
      // Its own access and network rules (the operator's are refused by kleff-managed-objects).
      assert.strictEqual(can("create", "networkpolicies.networking.k8s.io"), "yes")
      assert.strictEqual(can("create", "rolebindings.rbac.authorization.k8s.io"), "yes")
      assert.strictEqual(can("escalate", "roles.rbac.authorization.k8s.io"), "no")
      assert.strictEqual(can("bind", "clusterroles.rbac.authorization.k8s.io/cluster-admin"), "no")
      assert.strictEqual(can("create", "daemonsets.apps"), "no")
      assert.strictEqual(can("get", "secrets", "default"), "no")
      // Fourteen kubectl processes: half a second each on a slow or contended machine.
    }, 30_000)

    it("refuses deleting a Tenant with spec.deletionProtection, saying how to lift it; deletes it once lifted", async () => {
      const name = `${tenantName}-p`
      ok(
        ["apply", "--server-side", "-f", "-"],
        toYaml({
          apiVersion: "kleff.kleff.io/v1",
          kind: "Tenant",
          metadata: { name },
          spec: { plan: "basic", userId: `user-${name}`, username: "protected", deletionProtection: true }
        })
      )
      try {
        // The policy is enforced a moment after it is created: poll with server dry runs.
        await waitFor("the deletion-protection policy to take effect", () =>
          kubectl(["delete", "tenant", name, "--dry-run=server"]).stderr.includes(
            deletionProtectionPolicyName
          )
        )
        const stderr = refused(["delete", "tenant", name, "--wait=false"])
        assert.include(stderr, `Tenant ${name} is protected from deletion (spec.deletionProtection: true)`)
        assert.include(
          stderr,
          `kubectl patch tenant ${name} --type merge -p '{"spec":{"deletionProtection":false}}'`
        )
        assert.isUndefined(getJson(["tenant", name]).metadata.deletionTimestamp)
        // The command the message gives, as it is written there.
        const lift = /kubectl (patch tenant \S+ --type merge -p) '(\{.*\})'/.exec(stderr)
        if (lift?.[1] === undefined || lift[2] === undefined) return assert.fail(stderr)
        ok([...lift[1].split(" "), lift[2]])
        // Deletion is admitted now (an operator running elsewhere may hold it behind its finalizer).
        ok(["delete", "tenant", name, "--wait=false"])
        const after = kubectl(["get", "tenant", name, "-o", "json", "--ignore-not-found"]).stdout
        assert.isTrue(
          after.trim() === "" || JSON.parse(after).metadata.deletionTimestamp !== undefined,
          after
        )
      } finally {
        kubectl(["patch", "tenant", name, "--type", "merge", "-p", '{"spec":{"deletionProtection":false}}'])
        kubectl(["delete", "tenant", name, "--wait=false", "--ignore-not-found"])
        kubectl(["delete", "namespace", `tenant-${name}`, "--wait=false", "--ignore-not-found"])
      }
    }, 60_000)

    it("ships a deletion-protection policy whose CEL type-checks against the Tenant schema", () => {
      const policy = getJson(["validatingadmissionpolicy", deletionProtectionPolicyName])
      const status = policy.status as { typeChecking?: { expressionWarnings?: unknown } } | undefined
      assert.isDefined(status?.typeChecking)
      assert.isUndefined(status?.typeChecking?.expressionWarnings)
    })

    it("ships a trusted-registries policy whose CEL type-checks against the Plan schema", () => {
      const policy = getJson(["validatingadmissionpolicy", "kleff-trusted-registries"])
      const status = policy.status as { typeChecking?: { expressionWarnings?: unknown } } | undefined
      assert.isUndefined(status?.typeChecking?.expressionWarnings)
      assert.include(readRepoFile("deploy/cluster/trusted-registries-policy.yaml"), "paramKind")
      assert.deepStrictEqual(
        parse(readRepoFile("deploy/cluster/trusted-registries-policy.yaml")).spec.paramKind,
        {
          apiVersion: "kleff.kleff.io/v1",
          kind: "Plan"
        }
      )
    })
  }
)
