/**
 * The kleff-trusted-registries admission policy (deploy/cluster/trusted-registries-policy.yaml) on
 * the real API server, bound by the operator's own binding (desired/Isolation.ts) to a namespace
 * of this run with a Plan of this run: images are normalised before they are matched; containers,
 * init containers and ephemeral containers are checked, in Pods and in the pod template of every
 * built-in workload kind; the message names the image and the plan's registries; an update is
 * refused only for an image it brings in; a missing Plan refuses everything.
 */
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster } from "../../../k8s/test/cluster.ts"
import type { Plan } from "../../src/api/Plan.ts"
import { desiredTrustedRegistriesBinding } from "../../src/desired/Isolation.ts"
import { toYaml, uniqueName } from "../e2e/harness.ts"
import {
  admission,
  assertAdmitted,
  assertRefused,
  committedPolicy,
  adminKubectl as kubectl,
  operatorBinding,
  renamedPolicy,
  tenantNamespace,
  typeCheckWarnings,
  untilRefusedBy,
  usePolicyUnderTest
} from "./policyUnderTest.ts"

const run = uniqueName("registries")
const policyName = `kleff-test-${run}`
const namespace = run
const trusted = ["registry.kleff.io", "docker.io/library/", "localhost:5000/", "ghcr.io/kleff/app"]
const plan = (allowedRegistries: ReadonlyArray<string>): Plan => ({
  apiVersion: "kleff.kleff.io/v1",
  kind: "Plan",
  metadata: { name: run },
  spec: { quota: {}, podSecurity: "baseline", istioInjection: false, allowedRegistries }
})

/** The Plan, the tenant's namespace, the shipped policy and the operator's binding for the tenant. */
const policyObjects = (): ReadonlyArray<KubeObject> => [
  plan(trusted),
  tenantNamespace(run),
  renamedPolicy(committedPolicy("deploy/cluster/trusted-registries-policy.yaml").policy, policyName),
  operatorBinding(desiredTrustedRegistriesBinding, run, plan(trusted), policyName, policyName)
]

const digest = `sha256:${"a".repeat(64)}`
const containers = (prefix: string, images: ReadonlyArray<string>) =>
  images.map((image, index) => ({ name: `${prefix}${index}`, image }))

const pod = (
  name: string,
  images: ReadonlyArray<string>,
  initImages: ReadonlyArray<string> = []
): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace },
  spec: {
    containers: containers("c", images),
    ...(initImages.length === 0 ? {} : { initContainers: containers("i", initImages) })
  }
})

const template = (
  images: ReadonlyArray<string>,
  initImages: ReadonlyArray<string>,
  restartPolicy?: string
) => ({
  metadata: { labels: { app: "web" } },
  spec: {
    ...(pod("", images, initImages).spec as object),
    ...(restartPolicy === undefined ? {} : { restartPolicy })
  }
})

const selector = { matchLabels: { app: "web" } }

/** Every built-in kind that creates pods, with `images` and `initImages` in its pod template. */
const workloads = (prefix: string, images: ReadonlyArray<string>, initImages: ReadonlyArray<string> = []) => {
  const meta = (kind: string) => ({ name: `${prefix}-${kind.toLowerCase()}`, namespace })
  const podTemplate = template(images, initImages)
  const jobTemplate = template(images, initImages, "Never")
  return [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta("Deployment"),
      spec: { selector, template: podTemplate }
    },
    {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: meta("StatefulSet"),
      spec: { selector, serviceName: "web", template: podTemplate }
    },
    {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: meta("DaemonSet"),
      spec: { selector, template: podTemplate }
    },
    {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: meta("ReplicaSet"),
      spec: { selector, template: podTemplate }
    },
    {
      apiVersion: "v1",
      kind: "ReplicationController",
      metadata: meta("ReplicationController"),
      spec: { selector: selector.matchLabels, template: podTemplate }
    },
    { apiVersion: "batch/v1", kind: "Job", metadata: meta("Job"), spec: { template: jobTemplate } },
    {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: meta("CronJob"),
      spec: { schedule: "0 * * * *", jobTemplate: { spec: { template: jobTemplate } } }
    }
  ] as ReadonlyArray<KubeObject>
}

/** What the policy says of one refused image. */
const refusal = (image: string, normalised: string | undefined, container: string): string =>
  `image "${image}"${normalised === undefined ? "" : ` (${normalised})`} of container ${container}`
const notTrusted = `not from a registry plan ${run} trusts (${trusted.join(", ")})`

describeCluster("deploy/cluster: the kleff-trusted-registries admission policy", () => {
  usePolicyUnderTest(policyObjects, (kubectl) =>
    untilRefusedBy(kubectl, pod("probe", ["quay.io/probe"]), policyName, notTrusted)
  )

  it("type-checks against the Plan and every matched kind without a warning", async () => {
    assert.deepStrictEqual(await typeCheckWarnings(kubectl(), policyName), [])
  })

  it("normalises images before matching: default registry, library/, tags, digests, ports, path boundaries", async () => {
    const admitted = [
      "nginx",
      "nginx:1.27",
      `library/nginx@${digest}`,
      `nginx:1.27@${digest}`,
      "docker.io/nginx:1.27",
      "index.docker.io/library/nginx",
      "index.docker.io/nginx",
      "registry.kleff.io/app:1",
      `registry.kleff.io/team/app@${digest}`,
      "localhost:5000/app",
      "localhost:5000/app:2",
      "ghcr.io/kleff/app:v1",
      "ghcr.io/kleff/app/worker"
    ]
    // [image, its normalised name when the message shows it]
    const refused: ReadonlyArray<readonly [string, string | undefined]> = [
      ["bitnami/redis", "docker.io/bitnami/redis"],
      ["docker.io/bitnami/redis:7", "docker.io/bitnami/redis"],
      ["index.docker.io/bitnami/redis", "docker.io/bitnami/redis"],
      ["registry.kleff.io.evil.com/app", undefined],
      ["registry.kleff.ioo/app", undefined],
      ["registry.kleff.io:443/app", undefined],
      ["evil.io/registry.kleff.io/app", undefined],
      ["localhost:5001/app", undefined],
      ["localhost/app", undefined],
      ["quay.io/team/app:1", "quay.io/team/app"],
      ["ghcr.io/kleff/application", undefined],
      ["ghcr.io/kleff", undefined]
    ]
    const good = admitted.map((image, index) => pod(`good-${index}`, [image]))
    const bad = refused.map(([image], index) => pod(`bad-${index}`, [image]))
    const outcomes = await admission(kubectl(), [...good, ...bad])
    assertAdmitted(outcomes, good)
    assertRefused(outcomes, bad, policyName, (object) => {
      const [image, normalised] = refused[Number(object.metadata.name.slice(4))] ?? ["", undefined]
      return `Pod ${object.metadata.name}: ${refusal(image, normalised, "c0")} is ${notTrusted}`
    })
  }, 60_000)

  it("checks containers and init containers of Pods and of every built-in workload's pod template, naming each image", async () => {
    const good = [
      ...workloads("good", ["nginx:1.27"], ["registry.kleff.io/init"]),
      pod("good-pod", ["nginx"], ["nginx"])
    ]
    const badContainer = [
      ...workloads("main", ["nginx", "quay.io/evil/app"]),
      pod("main-pod", ["nginx", "quay.io/evil/app"])
    ]
    const badInit = [
      ...workloads("init", ["nginx"], ["quay.io/evil/init:1"]),
      pod("init-pod", ["nginx"], ["quay.io/evil/init:1"])
    ]
    const both = pod("both-pod", ["quay.io/a"], ["quay.io/b"])
    const outcomes = await admission(kubectl(), [...good, ...badContainer, ...badInit, both])
    assertAdmitted(outcomes, good)
    assertRefused(
      outcomes,
      badContainer,
      policyName,
      (object) =>
        `${object.kind} ${object.metadata.name}: ${refusal("quay.io/evil/app", undefined, "c1")} is ${notTrusted}`
    )
    assertRefused(
      outcomes,
      badInit,
      policyName,
      (object) =>
        `${object.kind} ${object.metadata.name}: ${refusal("quay.io/evil/init:1", "quay.io/evil/init", "i0")} is ${notTrusted}`
    )
    assertRefused(
      outcomes,
      [both],
      policyName,
      () =>
        `${refusal("quay.io/a", undefined, "c0")}, ${refusal("quay.io/b", undefined, "i0")} are ${notTrusted}`
    )
  }, 60_000)

  it("checks ephemeral containers added to a running Pod (the pods/ephemeralcontainers subresource)", async () => {
    const target = pod("debug-target", ["nginx"])
    await kubectl().ok(["create", "-f", "-"], toYaml([target]))
    const live = await kubectl().get("pod", "debug-target", namespace)
    const withDebugger = (image: string) =>
      JSON.stringify({
        ...live,
        spec: { ...(live.spec as object), ephemeralContainers: [{ name: "debug", image }] }
      })
    const path = `/api/v1/namespaces/${namespace}/pods/debug-target/ephemeralcontainers?dryRun=All`
    const refused = await kubectl().run(
      ["replace", "--raw", path, "-f", "-"],
      withDebugger("quay.io/evil/debug")
    )
    assert.notStrictEqual(refused.code, 0, "an untrusted ephemeral container was admitted")
    assert.include(refused.stderr, `ValidatingAdmissionPolicy '${policyName}'`)
    assert.include(
      refused.stderr,
      `Pod debug-target: ${refusal("quay.io/evil/debug", undefined, "debug")} is ${notTrusted}`
    )
    const admitted = await kubectl().run(["replace", "--raw", path, "-f", "-"], withDebugger("busybox:1.36"))
    assert.strictEqual(admitted.code, 0, admitted.stderr)
  }, 60_000)

  it("refuses an update only for an image it brings in, after the Plan stops trusting the old one", async () => {
    const live = pod("kept", ["nginx:1.27"])
    await kubectl().ok(["create", "-f", "-"], toYaml([live]))
    await kubectl().ok(["apply", "-f", "-"], toYaml([plan(["registry.kleff.io/"])]))
    try {
      await untilRefusedBy(kubectl(), pod("probe-2", ["nginx"]), policyName, "trusts (registry.kleff.io/)")
      const label = await kubectl().run([
        "label",
        "pod",
        "kept",
        "-n",
        namespace,
        "touched=yes",
        "--dry-run=server"
      ])
      assert.strictEqual(label.code, 0, label.stderr)
      const image = await kubectl().run([
        "set",
        "image",
        "pod/kept",
        "-n",
        namespace,
        "c0=nginx:1.28",
        "--dry-run=server"
      ])
      assert.notStrictEqual(image.code, 0, "a new untrusted image was admitted in an update")
      assert.include(
        image.stderr,
        `Pod kept: ${refusal("nginx:1.28", "docker.io/library/nginx", "c0")} is not from a registry plan ${run} trusts (registry.kleff.io/)`
      )
    } finally {
      await kubectl().ok(["apply", "-f", "-"], toYaml([plan(trusted)]))
    }
  }, 120_000)

  it("refuses every image once the Plan is gone (parameterNotFoundAction: Deny)", async () => {
    await kubectl().ok(["delete", "plan", run])
    await untilRefusedBy(
      kubectl(),
      pod("after-plan", ["registry.kleff.io/app"]),
      policyName,
      "no params found for policy binding with `Deny` parameterNotFoundAction"
    )
  }, 120_000)
})
