/**
 * End to end with real OPA Gatekeeper: its manager built from its Go module (tools/gatekeeper) and
 * run on loopback as the API server's validating admission webhook, its CRDs from the same module
 * (test/gatekeeper.ts). The ConstraintTemplate the project ships (deploy/cluster/gatekeeper, applied
 * as `kubectl apply -k` applies it) is admitted and compiled by Gatekeeper into the K8sAllowedRepos
 * kind; the operator, started with `--enable-gatekeeper`, writes a tenant's constraint; Gatekeeper
 * then refuses a Pod with an image outside the plan's registries (in a container or an init
 * container) with the template's message, admits one inside them, and follows a plan edit.
 *
 * On a control plane of its own: the webhook sees every write in its cluster, which must never be
 * another test file's. The trusted-registries ValidatingAdmissionPolicy, which says the same and
 * runs before webhooks, is removed from that cluster, so a refusal here can only be Gatekeeper's.
 * No kubelet or scheduler: admitted Pods stay Pending.
 */
import { afterAll, afterEach, assert, beforeAll, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster } from "../../../k8s/test/cluster.ts"
import * as OwnCluster from "../../../k8s/test/ownCluster.ts"
import { type Gatekeeper, startGatekeeper, validationWebhookName } from "../gatekeeper.ts"
import {
  eventually,
  hasCondition,
  Kubectl,
  type RunResult,
  samplePlanObject,
  tenantObject,
  toYaml,
  uniqueName,
  useSuite
} from "./harness.ts"

const stepTimeout = 240_000
const constraintKind = "k8sallowedrepos.constraints.gatekeeper.sh"

/** A Pod the namespace's `restricted` Pod Security admits, with these images. */
const pod = (name: string, namespace: string, image: string, initImage?: string): KubeObject => {
  const container = (containerName: string, containerImage: string) => ({
    name: containerName,
    image: containerImage,
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } }
  })
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
      ...(initImage === undefined ? {} : { initContainers: [container("init", initImage)] }),
      containers: [container("app", image)]
    }
  }
}

/** Gatekeeper's refusal under the constraint, with the template's message. */
const refusal = (constraint: string, container: string, image: string, repos: ReadonlyArray<string>) =>
  `admission webhook "${validationWebhookName}" denied the request: [${constraint}] container <${container}> ` +
  `has an image <${image}> from an untrusted registry; allowed prefixes are ${JSON.stringify(repos).replaceAll(",", ", ")}`

describeCluster("OPA Gatekeeper enforcing the operator's constraints, end to end (real Gatekeeper)", () => {
  let cluster: OwnCluster.OwnCluster | undefined
  let gatekeeper: Gatekeeper | undefined
  // Registered before the suite's, so it runs after them (after hooks run in reverse): the
  // operator cleans up first, then Gatekeeper and the cluster go.
  afterAll(async () => {
    try {
      await gatekeeper?.stop()
    } finally {
      if (cluster !== undefined) OwnCluster.down(cluster)
    }
  }, 180_000)

  const suite = useSuite({
    adminKubeconfig: async () => {
      cluster = OwnCluster.up("kleff-gatekeeper")
      gatekeeper = await startGatekeeper(cluster.kubeconfig)
      // The shipped template, through Gatekeeper's own admission check (it compiles the Rego).
      const kubectl = new Kubectl(cluster.kubeconfig)
      await kubectl.ok(["apply", "-k", "deploy/cluster/gatekeeper"])
      await eventually(
        "Gatekeeper to make the K8sAllowedRepos CRD from the template",
        () => kubectl.find("customresourcedefinition", constraintKind),
        (crd) => crd !== undefined,
        120_000
      )
      await kubectl.ok(["wait", "--for=condition=Established", `crd/${constraintKind}`, "--timeout=60s"])
      return cluster.kubeconfig
    },
    operatorArgs: ["--enable-gatekeeper"]
  })
  beforeAll(async () => {
    await suite().kubectl.ok([
      "delete",
      "validatingadmissionpolicy",
      "kleff-trusted-registries",
      "--ignore-not-found"
    ])
  })
  afterEach((context) => {
    if (context.task.result?.state !== "fail" || gatekeeper === undefined) return
    const tail = gatekeeper.output().trimEnd().split("\n").slice(-40).join("\n")
    process.stderr.write(`\n--- Gatekeeper's last output ---\n${tail}\n`)
  })

  const name = uniqueName("gk")
  const namespace = `tenant-${name}`
  const planName = uniqueName("gk-plan")
  const constraint = `kleff-allowed-repos-${name}`
  const basic = samplePlanObject("basic", planName)
  const registries = (basic.spec as { readonly allowedRegistries: ReadonlyArray<string> }).allowedRegistries

  const create = (object: KubeObject, dryRun = false): Promise<RunResult> =>
    suite().kubectl.run(["create", ...(dryRun ? ["--dry-run=server"] : []), "-f", "-"], toYaml([object]))

  it(
    "the operator writes the tenant's K8sAllowedRepos constraint with its plan's registries",
    async () => {
      const { kubectl } = suite()
      suite().plans.add(planName)
      suite().tenants.add(name)
      await kubectl.apply({
        yaml: toYaml([basic, tenantObject(name, { plan: planName, userId: `user-${name}`, username: name })])
      })
      await eventually(
        "the tenant to be ready",
        () => kubectl.find("tenant", name),
        (tenant) => hasCondition(tenant, "TenantReady", "True"),
        120_000
      )
      const written = await kubectl.get(constraintKind, constraint)
      assert.deepStrictEqual(written.spec, {
        enforcementAction: "deny",
        match: { kinds: [{ apiGroups: [""], kinds: ["Pod"] }], namespaces: [namespace] },
        parameters: { repos: registries }
      })
    },
    stepTimeout
  )

  it(
    "Gatekeeper refuses a Pod with an image outside the plan's registries, with the template's message",
    async () => {
      const untrusted = "quay.io/miner/miner:1.0"
      // Gatekeeper learns of the constraint through its watch: wait until it enforces it (a dry
      // run reaches the webhook too: it has no side effects), then create for real.
      await eventually(
        "Gatekeeper to enforce the constraint",
        () => create(pod("miner", namespace, untrusted), true),
        (run) => run.code !== 0,
        120_000
      )
      const refused = await create(pod("miner", namespace, untrusted))
      assert.notStrictEqual(refused.code, 0)
      assert.include(refused.stderr, refusal(constraint, "app", untrusted, registries))
      assert.isUndefined(await suite().kubectl.find("pod", "miner", namespace))

      const refusedInit = await create(pod("sneaky", namespace, "docker.io/library/nginx:1.27", untrusted))
      assert.include(refusedInit.stderr, refusal(constraint, "init", untrusted, registries))
      assert.isUndefined(await suite().kubectl.find("pod", "sneaky", namespace))
    },
    stepTimeout
  )

  it(
    "Gatekeeper admits a Pod whose images all come from the plan's registries",
    async () => {
      const admitted = await create(
        pod("web", namespace, "docker.io/library/nginx:1.27", "registry.kleff.io/tools/init:1")
      )
      assert.strictEqual(admitted.code, 0, admitted.stderr)
      const web = await suite().kubectl.get("pod", "web", namespace)
      assert.strictEqual((web.status as { readonly phase?: string } | undefined)?.phase, "Pending")
    },
    stepTimeout
  )

  it(
    "a plan edit reaches Gatekeeper: the operator rewrites the constraint and the newly trusted registry is admitted",
    async () => {
      const { kubectl } = suite()
      const widened = [...registries, "quay.io/miner/"]
      await kubectl.ok([
        "patch",
        "plan",
        planName,
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { allowedRegistries: widened } })
      ])
      const admitted = await eventually(
        "Gatekeeper to admit the newly trusted image",
        () => create(pod("miner", namespace, "quay.io/miner/miner:1.0")),
        (run) => run.code === 0,
        120_000
      )
      assert.strictEqual(admitted.code, 0)
      const written = await kubectl.get(constraintKind, constraint)
      assert.deepStrictEqual((written.spec as { readonly parameters?: unknown }).parameters, {
        repos: widened
      })
      const stillRefused = await create(pod("other", namespace, "ghcr.io/other/app:1"))
      assert.include(stillRefused.stderr, refusal(constraint, "app", "ghcr.io/other/app:1", widened))
    },
    stepTimeout
  )
})
