/**
 * A shipped admission policy of deploy/cluster on the real API server, for one test file: the
 * committed policy under a name of the run's, bound the way the operator binds it (its own
 * `desired*Binding` for a Tenant of the run, renamed to match) or by a binding confined to the
 * run's objects, so no other test's namespaces are affected (`usePolicyUnderTest` installs and
 * removes it). Then `admission`: many objects through one `kubectl create --dry-run=server`, each
 * admitted or refused with its message. Test helper.
 */
import { afterAll, assert, beforeAll } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { kubeconfigPath } from "../../../k8s/test/cluster.ts"
import type { Plan } from "../../src/api/Plan.ts"
import type { Tenant } from "../../src/api/Tenant.ts"
import { eventually, Kubectl, lockCluster, readRepoFile, toYaml } from "../e2e/harness.ts"
import { parseObjects } from "./manifests.ts"

export interface Outcome {
  readonly admitted: boolean
  /** kubectl's error line for a refused object ('' when admitted). */
  readonly message: string
}

/** The committed policy in `file` (and its binding, when it has one), as parsed. */
export const committedPolicy = (
  file: string
): { readonly policy: KubeObject; readonly binding: KubeObject | undefined } => {
  const [policy, binding] = parseObjects(readRepoFile(file))
  if (policy?.kind !== "ValidatingAdmissionPolicy")
    throw new Error(`${file}: no ValidatingAdmissionPolicy first`)
  return { policy, binding }
}

/** `policy` under `name`, with its spec changed by `edit` (a mutation, in tests that try one). */
export const renamedPolicy = (
  policy: KubeObject,
  name: string,
  edit: (spec: Record<string, unknown>) => Record<string, unknown> = (spec) => spec
): KubeObject => ({
  ...policy,
  metadata: { name, labels: { "kleff.io/test": "policy-under-test" } },
  spec: edit(structuredClone(policy.spec) as Record<string, unknown>)
})

/** `binding` under `name`, pointed at the renamed policy `policy` (by default of the same name). */
export const renamedBinding = (binding: KubeObject, name: string, policy: string = name): KubeObject => ({
  ...binding,
  metadata: { name, labels: { "kleff.io/test": "policy-under-test" } },
  spec: { ...(binding.spec as object), policyName: policy }
})

/** A namespace of the Tenant `tenant`, as the operator labels it (what the bindings select). */
export const tenantNamespace = (tenant: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name: tenant, labels: { "kleff.io/tenant": tenant } }
})

/**
 * The binding the operator's `desired` makes for a Tenant named `tenant` on `plan`, under `name`
 * and pointed at `policy`; without its owner reference (there is no such Tenant: the garbage
 * collector would delete it).
 */
export const operatorBinding = (
  desired: (tenant: Tenant, plan: Plan) => KubeObject,
  tenant: string,
  plan: Plan,
  name: string,
  policy: string
): KubeObject => {
  const binding = desired(
    { apiVersion: "kleff.kleff.io/v1", kind: "Tenant", metadata: { name: tenant, uid: tenant } } as Tenant,
    plan
  )
  const { ownerReferences: _, ...metadata } = binding.metadata
  return renamedBinding({ ...binding, metadata }, name, policy)
}

/** kubectl for the test cluster's administrator. */
export const adminKubectl = (): Kubectl => {
  if (kubeconfigPath === undefined) throw new Error("KLEFF_TEST_KUBECONFIG is not set")
  return new Kubectl(kubeconfigPath)
}

/**
 * Registers the hooks of a policy test file in the current `describe`: before its tests, take
 * the cluster lock, apply the committed CRDs (the Plan is these policies' param kind, its schema
 * types their CEL; suites that install other CRDs take the lock too), then `objects` in their
 * order (params and namespaces, then the policy and its bindings), and wait for `ready`; after
 * them, delete them all in the reverse order (the policies first) and release the lock.
 */
export const usePolicyUnderTest = (
  objects: () => ReadonlyArray<KubeObject>,
  ready: (kubectl: Kubectl) => Promise<unknown>
): void => {
  let release: (() => void) | undefined
  beforeAll(async () => {
    const kubectl = adminKubectl()
    release = await lockCluster(kubectl.kubeconfig)
    await kubectl.ok(["apply", "--server-side", "--force-conflicts", "-f", "deploy/crds"])
    await kubectl.ok(["wait", "--for=condition=Established", "crd/plans.kleff.kleff.io", "--timeout=60s"])
    await kubectl.ok(["apply", "-f", "-"], toYaml(objects()))
    await ready(kubectl)
  }, 30 * 60_000)
  afterAll(async () => {
    try {
      const all = [...objects()].reverse()
      const namespaces = all
        .filter((object) => object.kind === "Namespace")
        .map((object) => object.metadata.name)
      await adminKubectl().run(
        ["delete", "-f", "-", "--ignore-not-found"],
        toYaml(all.filter((object) => object.kind !== "Namespace"))
      )
      await adminKubectl().run(["delete", "namespace", ...namespaces, "--ignore-not-found", "--wait=false"])
    } finally {
      release?.()
    }
  })
}

/**
 * Creates `objects` in one server-side dry run (as `as`, when given): for each object's name,
 * whether it was admitted and, if not, kubectl's line about it. Names must be unique in the batch.
 */
export const admission = async (
  kubectl: Kubectl,
  objects: ReadonlyArray<KubeObject>,
  as: ReadonlyArray<string> = []
): Promise<ReadonlyMap<string, Outcome>> => {
  const run = await kubectl.run(
    ["create", "--dry-run=server", "-o", "name", ...as, "-f", "-"],
    toYaml(objects)
  )
  const admitted = new Set(run.stdout.split("\n").map((line) => line.split("/").pop() ?? ""))
  // "Error from server (Forbidden): …" per refused object, or "The pods "x" is invalid: …" for one.
  const errors = run.stderr.split("\n")
  const outcomes = new Map<string, Outcome>()
  for (const object of objects) {
    const name = object.metadata.name
    if (admitted.has(name)) {
      outcomes.set(name, { admitted: true, message: "" })
      continue
    }
    const line = errors.find((error) => error.includes(` "${name}" `))
    if (line === undefined)
      throw new Error(`${object.kind} ${name}: neither admitted nor refused:\n${run.stderr}`)
    outcomes.set(name, { admitted: false, message: line })
  }
  return outcomes
}

/** Asserts each of `objects` was refused by `policy`, with a message that includes `says(object)`. */
export const assertRefused = (
  outcomes: ReadonlyMap<string, Outcome>,
  objects: ReadonlyArray<KubeObject>,
  policy: string,
  says: (object: KubeObject) => string
): void => {
  for (const object of objects) {
    const outcome = outcomes.get(object.metadata.name)
    assert.isFalse(outcome?.admitted ?? true, `${object.kind} ${object.metadata.name} was admitted`)
    assert.include(outcome?.message, `ValidatingAdmissionPolicy '${policy}'`, object.metadata.name)
    assert.include(outcome?.message, says(object), object.metadata.name)
  }
}

/** Asserts each of `objects` was admitted. */
export const assertAdmitted = (
  outcomes: ReadonlyMap<string, Outcome>,
  objects: ReadonlyArray<KubeObject>
): void => {
  for (const object of objects) {
    const outcome = outcomes.get(object.metadata.name)
    assert.isTrue(outcome?.admitted, `${object.kind} ${object.metadata.name}: ${outcome?.message}`)
  }
}

/**
 * Polls until `object` is refused by `policy` with a message that includes `says` (created as
 * `as`, when given): the API server's informers of policies, bindings and params lag.
 */
export const untilRefusedBy = (
  kubectl: Kubectl,
  object: KubeObject,
  policy: string,
  says: string,
  as: ReadonlyArray<string> = []
): Promise<unknown> =>
  eventually<Outcome | undefined>(
    `${object.kind} ${object.metadata.name} refused by ${policy} with "${says}"`,
    () => admission(kubectl, [object], as).then((outcomes) => outcomes.get(object.metadata.name)),
    (outcome) => outcome?.message.includes(`'${policy}'`) === true && outcome.message.includes(says),
    60_000
  )

/** Waits until the API server has type-checked `policy`, and returns its warnings (none: []). */
export const typeCheckWarnings = async (
  kubectl: Kubectl,
  policy: string
): Promise<ReadonlyArray<unknown>> => {
  const checked = await eventually(
    `${policy} to be type-checked`,
    () => kubectl.get("validatingadmissionpolicy", policy),
    (object) => (object.status as { typeChecking?: unknown } | undefined)?.typeChecking !== undefined,
    60_000
  )
  const status = checked.status as { typeChecking: { expressionWarnings?: ReadonlyArray<unknown> } }
  return status.typeChecking.expressionWarnings ?? []
}
