/**
 * Deletion safety end to end, with the operator as its own process and kubectl as the user, on a
 * control plane of this file's own: it deletes the Tenant CRD (every other suite needs it) and
 * counts every reconcile and request the operator makes (another suite's Tenants would count too).
 *   1. A tenant namespace held in Terminating by someone else's finalizer (inside it, or on the
 *      Namespace) is reported on its Tenant — reason, what holds it, since when — and looked at
 *      again with backoff, writing nothing, until the finalizer goes; then the Tenant goes at once.
 *   2. Deleting the Tenant CRD with the operator running deletes no tenant namespace: every
 *      Tenant waits, saying why, and the operator logs it.
 *   3. The recovery path of deploy/README.md, step by step: save the Tenants, orphan them, let the
 *      CRD go, re-create it, re-apply the Tenants, `tenant-operator adopt`; the namespaces and their
 *      data come through, and nothing foreign is adopted.
 */
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster } from "../../../k8s/test/cluster.ts"
import * as OwnCluster from "../../../k8s/test/ownCluster.ts"
import { parse as parseMetrics, reconciles, writes } from "../../bench/Prometheus.ts"
import {
  conditionOf,
  eventually,
  hasCondition,
  installOperator,
  Kubectl,
  type OperatorProcess,
  operatorBin,
  readRepoFile,
  runCommand,
  showOperatorOutputOnFailure,
  startOperator,
  tempDirectory,
  tenantObject,
  toYaml
} from "./harness.ts"

const crd = "crd/tenants.kleff.kleff.io"
const hold = "example.com/hold"

let cluster: OwnCluster.OwnCluster | undefined
let kubectl: Kubectl
let operator: OperatorProcess | undefined
const directory = tempDirectory()

const kubeconfig = (): string => cluster?.kubeconfig ?? assert.fail("no cluster")
const running = (): OperatorProcess => operator ?? assert.fail("no operator")

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

const tenant = (name: string, spec: Record<string, unknown> = {}): KubeObject => {
  const object = tenantObject(name, { plan: "basic", userId: `user-${name}`, username: name })
  return { ...object, spec: { ...(object.spec as object), ...spec } }
}

const applyTenants = async (...tenants: ReadonlyArray<KubeObject>): Promise<void> => {
  await kubectl.apply({ yaml: toYaml(tenants) })
}

const ready = (name: string) =>
  eventually(
    `Tenant ${name} to be ready`,
    () => kubectl.find("tenant", name),
    (object) => hasCondition(object, "TenantReady", "True")
  )

/** A ConfigMap standing for the tenant's data. */
const dataIn = (namespace: string, finalizers: ReadonlyArray<string> = []): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "data", namespace, ...(finalizers.length === 0 ? {} : { finalizers }) },
  data: { precious: "kept" }
})

/** The operator's reconciles and API writes so far, from its own /metrics. */
const counters = async (): Promise<{ readonly reconciles: number; readonly writes: number }> => {
  const url = running().metricsUrl() ?? assert.fail("the operator serves no metrics")
  const samples = parseMetrics(await (await fetch(url)).text())
  return { reconciles: reconciles(samples), writes: writes(samples).total }
}

describeCluster("Deletion safety, end to end (own cluster, operator process + kubectl)", () => {
  beforeAll(async () => {
    cluster = OwnCluster.up("kleff-e2e-deletion")
    kubectl = new Kubectl(cluster.kubeconfig)
    await installOperator(cluster.kubeconfig)
    operator = await startOperator({ kubeconfig: cluster.kubeconfig })
  }, 10 * 60_000)

  showOperatorOutputOnFailure(() => operator)

  afterAll(async () => {
    try {
      await operator?.stop()
    } finally {
      directory.remove()
      if (cluster !== undefined) OwnCluster.down(cluster)
    }
  }, 5 * 60_000)

  it(
    "reports a namespace held in Terminating by someone else's finalizer, and looks again with backoff, never hot",
    async () => {
      await applyTenants(tenant("held-inside"), tenant("held-namespace"))
      await ready("held-inside")
      await ready("held-namespace")
      // Someone else's finalizer on an object inside one namespace, and on the other Namespace itself.
      await kubectl.apply({ yaml: toYaml([dataIn("tenant-held-inside", [hold])]) })
      await kubectl.ok([
        "patch",
        "namespace",
        "tenant-held-namespace",
        "--type",
        "merge",
        "-p",
        `{"metadata":{"finalizers":["${hold}"]}}`
      ])
      await kubectl.ok(["delete", "tenants", "held-inside", "held-namespace", "--wait=false"])

      const blocked = async (name: string, holder: string) => {
        const object = await eventually(
          `Tenant ${name} to report its namespace blocked`,
          () => kubectl.find("tenant", name),
          (current) =>
            hasCondition(current, "TenantReady", "False", "NamespaceDeletionBlocked") &&
            (conditionOf(current, "TenantReady")?.message.includes(holder) ?? false)
        )
        const namespace = await kubectl.get("namespace", `tenant-${name}`)
        const message = conditionOf(object, "TenantReady")?.message ?? ""
        assert.include(
          message,
          `Namespace "tenant-${name}" has been terminating since ${namespace.metadata.deletionTimestamp}`
        )
        return message
      }
      const inside = await blocked("held-inside", `${hold} in 1 resource instances`)
      assert.include(
        inside,
        "NamespaceFinalizersRemaining: Some content in the namespace has finalizers remaining"
      )
      assert.include(await blocked("held-namespace", `finalizers on the namespace: ${hold}`), hold)

      // Settled: nothing the Tenants wait on changes any more. Then watch the operator for 40 s.
      await sleep(10_000)
      const before = await counters()
      await sleep(40_000)
      const after = await counters()
      const looks = after.reconciles - before.reconciles
      // Fixed 5 s rechecks would be 16 looks at these two Tenants; backoff from the namespaces'
      // deletion (about 15 s ago) leaves two or three each.
      assert.isAtMost(looks, 8, `${looks} reconciles in 40 s`)
      assert.isAtLeast(looks, 2, "each Tenant is looked at again while it waits")
      assert.strictEqual(after.writes - before.writes, 0, "nothing is written while nothing changes")

      // Once the finalizers go, the namespaces go, and their going wakes the Tenants at once.
      const released = Date.now()
      await kubectl.ok([
        "patch",
        "configmap",
        "data",
        "-n",
        "tenant-held-inside",
        "--type",
        "json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]'
      ])
      await kubectl.ok([
        "patch",
        "namespace",
        "tenant-held-namespace",
        "--type",
        "json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]'
      ])
      await kubectl.ok([
        "wait",
        "--for=delete",
        "tenant/held-inside",
        "tenant/held-namespace",
        "--timeout=60s"
      ])
      assert.isAtMost(Date.now() - released, 45_000)
      assert.deepStrictEqual(running().errors(), [])
    },
    5 * 60_000
  )

  it(
    "deletes no tenant namespace while the Tenant CRD is being deleted: every Tenant waits and says why",
    async () => {
      await applyTenants(tenant("keep-plain"), tenant("keep-protected", { deletionProtection: true }))
      for (const name of ["keep-plain", "keep-protected"]) {
        await ready(name)
        await kubectl.apply({ yaml: toYaml([dataIn(`tenant-${name}`)]) })
      }
      const namespaceUids = new Map<string, string | undefined>()
      for (const name of ["keep-plain", "keep-protected"])
        namespaceUids.set(name, (await kubectl.get("namespace", `tenant-${name}`)).metadata.uid)
      const children = async (name: string) =>
        (
          await kubectl.ok([
            "get",
            "resourcequotas,limitranges,rolebindings,networkpolicies,configmaps",
            "-n",
            `tenant-${name}`,
            "-o",
            "name"
          ])
        )
          .trim()
          .split("\n")
          .sort()
      const childrenBefore = await children("keep-plain")

      await kubectl.ok(["delete", crd, "--wait=false"])
      for (const name of ["keep-plain", "keep-protected"]) {
        const object = await eventually(
          `Tenant ${name} to report the CRD deletion`,
          () => kubectl.find("tenant", name),
          (current) => hasCondition(current, "TenantReady", "False", "CustomResourceDefinitionDeleting")
        )
        assert.isDefined(
          object?.metadata.deletionTimestamp,
          "the API server deleted the Tenant, protected or not"
        )
        const message = conditionOf(object, "NamespaceReady")?.message ?? ""
        assert.include(message, "CustomResourceDefinition tenants.kleff.kleff.io is being deleted")
        assert.include(message, `kubectl delete tenant ${name} --cascade=orphan --wait=false`)
        assert.include(message, `tenant-operator adopt ${name}`)
      }
      assert.isTrue(
        running()
          .logs()
          .some(
            (line) =>
              line.level === "WARN" &&
              String(line.message).startsWith(
                "Deletion held, nothing deleted: CustomResourceDefinitionDeleting"
              )
          ),
        "the operator logs why it waits"
      )
      const events = await kubectl.json<{
        items: ReadonlyArray<{ reason?: string; regarding?: { name?: string } }>
      }>(["events.events.k8s.io", "-n", "default"])
      assert.isTrue(
        events.items.some(
          (event) =>
            event.reason === "CustomResourceDefinitionDeleting" && event.regarding?.name === "keep-plain"
        )
      )

      // A while later, still nothing deleted: same namespaces, same children, the data there.
      await sleep(15_000)
      for (const name of ["keep-plain", "keep-protected"]) {
        const namespace = await kubectl.get("namespace", `tenant-${name}`)
        assert.strictEqual(namespace.metadata.uid, namespaceUids.get(name))
        assert.isUndefined(namespace.metadata.deletionTimestamp)
        assert.deepStrictEqual((await kubectl.get("configmap", "data", `tenant-${name}`)).data, {
          precious: "kept"
        })
      }
      assert.deepStrictEqual(await children("keep-plain"), childrenBefore)
      assert.isDefined(
        await kubectl.find("customresourcedefinition", "tenants.kleff.kleff.io"),
        "the CRD waits for its Tenants"
      )
    },
    5 * 60_000
  )

  it(
    "recovers as deploy/README.md says: orphan, let the CRD go, re-create it, re-apply the Tenants, adopt; nothing foreign adopted",
    async () => {
      const names = ["keep-plain", "keep-protected"]
      const namespaceUids = new Map<string, string | undefined>()
      for (const name of names)
        namespaceUids.set(name, (await kubectl.get("namespace", `tenant-${name}`)).metadata.uid)

      // 1. Save the Tenants, with the very command deploy/README.md gives.
      const saveCommand = /^kubectl get tenants -o jsonpath='(.+)' > tenants\.yaml$/m.exec(
        readRepoFile("deploy/README.md")
      )
      const template =
        saveCommand?.[1] ?? assert.fail("deploy/README.md gives no command to save the Tenants")
      const saved = await kubectl.ok(["get", "tenants", "-o", `jsonpath=${template}`])
      assert.include(saved, "name: keep-protected")
      // 2. Orphan them: the garbage collector takes the Tenants' references off their objects, and
      //    the operator lets go of each Tenant once it owns nothing. Protection does not stand in the
      //    way of a Tenant already being deleted.
      await kubectl.ok(["delete", "tenants", "--all", "--cascade=orphan", "--wait=false"])
      // 3. The CRD goes once its Tenants have.
      await kubectl.ok(["wait", "--for=delete", crd, "--timeout=180s"])
      for (const name of names) {
        const namespace = await kubectl.get("namespace", `tenant-${name}`)
        assert.strictEqual(namespace.metadata.uid, namespaceUids.get(name))
        assert.isUndefined(namespace.metadata.deletionTimestamp)
        assert.deepStrictEqual(namespace.metadata.ownerReferences ?? [], [])
      }
      // 4. Re-create the CRD (and the cluster objects), 5. re-apply the saved Tenants.
      await installOperator(kubeconfig())
      await kubectl.ok(["wait", "--for=condition=Established", crd, "--timeout=60s"])
      await kubectl.apply({ yaml: saved })
      for (const name of names) {
        const object = await eventually(
          `re-applied Tenant ${name} to find its orphaned namespace`,
          () => kubectl.find("tenant", name),
          (current) => hasCondition(current, "NamespaceReady", "False", "NamespaceConflict"),
          120_000
        )
        assert.include(conditionOf(object, "NamespaceReady")?.message, `tenant-operator adopt ${name}`)
        const protection = (object?.spec as { deletionProtection?: boolean } | undefined)?.deletionProtection
        assert.strictEqual(protection === true, name === "keep-protected", "the saved spec came back whole")
      }
      // 6. Give each Tenant its objects back.
      for (const name of names) {
        const adopt = await runCommand(process.execPath, [
          operatorBin,
          "adopt",
          name,
          "--kubeconfig",
          kubeconfig()
        ])
        assert.strictEqual(adopt.code, 0, adopt.stderr)
        assert.include(adopt.stdout, `adopted Namespace tenant-${name}`)
      }
      for (const name of names) {
        const object = await ready(name)
        const namespace = await kubectl.get("namespace", `tenant-${name}`)
        assert.strictEqual(
          namespace.metadata.uid,
          namespaceUids.get(name),
          "the same namespace, not a new one"
        )
        assert.strictEqual(namespace.metadata.ownerReferences?.[0]?.uid, object?.metadata.uid)
        assert.deepStrictEqual((await kubectl.get("configmap", "data", `tenant-${name}`)).data, {
          precious: "kept"
        })
      }

      // Nothing foreign: a namespace someone else made at a Tenant's place stays theirs.
      await kubectl.ok(["create", "namespace", "tenant-stranger"])
      await applyTenants(tenant("stranger"))
      await eventually(
        "Tenant stranger to report the conflict",
        () => kubectl.find("tenant", "stranger"),
        (current) => hasCondition(current, "NamespaceReady", "False", "NamespaceConflict")
      )
      const refused = await runCommand(process.execPath, [
        operatorBin,
        "adopt",
        "stranger",
        "--kubeconfig",
        kubeconfig()
      ])
      assert.strictEqual(refused.code, 1, refused.stdout)
      assert.include(refused.stderr, "Namespace tenant-stranger: the tenant operator did not make it")
      assert.isUndefined((await kubectl.get("namespace", "tenant-stranger")).metadata.ownerReferences)
      assert.deepStrictEqual(running().errors(), [])
    },
    10 * 60_000
  )
})
