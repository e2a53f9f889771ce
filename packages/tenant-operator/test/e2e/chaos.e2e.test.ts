/**
 * End to end, sustained faults: on a control plane of its own, two operator replicas with leader
 * election run while Tenants are created, moved between plans and deleted without pause, and
 * faults are injected one after another: the leader is SIGKILLed (its standby must take over,
 * and a new replica replaces it), kube-apiserver is restarted (every watch breaks; resuming from
 * a resourceVersion older than the restarted server's window is a 410, and the watcher relists),
 * then the leader is killed again. Afterwards every live Tenant is `TenantReady` for its current
 * generation with its plan's quota in `status.usage` (the usage controller caught up too), every
 * deleted Tenant is gone with its namespace, no tenant namespace is left without its Tenant, a
 * foreign namespace is untouched, and a fresh operator's resync writes nothing.
 * Leader failover times are measured and printed.
 *
 * Size: `KLEFF_CHAOS_TENANTS` (default 100) Tenants to start with and `KLEFF_CHAOS_SECONDS`
 * (default 45) of churn; e.g. `KLEFF_CHAOS_TENANTS=300 KLEFF_CHAOS_SECONDS=180` for a long run.
 */
import { randomInt } from "node:crypto"
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster } from "../../../k8s/test/cluster.ts"
import * as OwnCluster from "../../../k8s/test/ownCluster.ts"
import {
  eventually,
  hasCondition,
  installOperator,
  Kubectl,
  type OperatorProcess,
  sameEntries,
  samplePlanObject,
  startOperator,
  storedQuota,
  tenantObject,
  toYaml,
  uniqueName
} from "./harness.ts"

const initialTenants = Number(process.env.KLEFF_CHAOS_TENANTS ?? 100)
const churnSeconds = Number(process.env.KLEFF_CHAOS_SECONDS ?? 45)
const leaseNamespace = "default"
const leaseName = "tenant-operator.kleff.io"
const plans = ["free", "basic", "pro"] as const
const runLabel = "chaos.kleff.io/run"

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))
const pick = <A>(items: ReadonlyArray<A>): A => items[randomInt(items.length)] as A

/** What the test expects of each Tenant it touched. */
interface Expected {
  plan: string
  deleted: boolean
}

describeCluster("Chaos: churn under repeated faults, two replicas (own control plane)", () => {
  let cluster: OwnCluster.OwnCluster | undefined
  let kubectl: Kubectl
  const replicas: Array<OperatorProcess> = []
  const run = uniqueName("chaos")

  const startReplica = async (): Promise<OperatorProcess> => {
    const replica = await startOperator({
      kubeconfig: cluster?.kubeconfig ?? "",
      args: [
        "--leader-elect",
        "--leader-election-namespace",
        leaseNamespace,
        "--max-concurrent-reconciles",
        "8"
      ],
      readyTimeoutMillis: 120_000
    })
    replicas.push(replica)
    return replica
  }

  const holder = async (): Promise<string> => {
    const lease = await kubectl.find("lease", leaseName, leaseNamespace)
    return (lease?.spec as { readonly holderIdentity?: string } | undefined)?.holderIdentity ?? ""
  }

  /** The identity a replica leads as, from its log. */
  const identityOf = (replica: OperatorProcess): string | undefined => {
    for (const line of replica.logs()) {
      const annotations = line.annotations as { readonly identity?: unknown } | undefined
      if (line.message === "This process is now the leader" && typeof annotations?.identity === "string")
        return annotations.identity
    }
    return undefined
  }

  /** The Lease, once its holder renewed it within the last 3 s (a leader that is really leading). */
  const renewedLease = () =>
    eventually(
      "the leader to be renewing its Lease",
      () => kubectl.get("lease", leaseName, leaseNamespace),
      (lease) => {
        const renewTime = (lease.spec as { readonly renewTime?: string } | undefined)?.renewTime
        return renewTime !== undefined && Date.now() - Date.parse(renewTime) < 3_000
      },
      120_000
    )

  /**
   * SIGKILLs a leader that is renewing its Lease; resolves with the time until another replica
   * holds it (at least the Lease's duration, since a killed leader never releases it).
   */
  const killLeader = async (): Promise<number> => {
    await renewedLease()
    const current = await holder()
    const leader = replicas.find((replica) => replica.isRunning() && identityOf(replica) === current)
    if (leader === undefined) return assert.fail(`no running replica leads as "${current}"`)
    const killedAt = Date.now()
    await leader.kill()
    const next = await eventually(
      "another replica to take the Lease",
      holder,
      (identity) => identity !== "" && identity !== current,
      60_000
    )
    assert.notStrictEqual(next, current)
    return Date.now() - killedAt
  }

  beforeAll(async () => {
    cluster = OwnCluster.up("kleff-chaos")
    kubectl = new Kubectl(cluster.kubeconfig)
    await installOperator(cluster.kubeconfig)
    await startReplica()
    await startReplica()
    await eventually("a leader", holder, (identity) => identity !== "", 60_000)
  }, 20 * 60_000)

  afterAll(async () => {
    for (const replica of replicas) await replica.kill()
    if (cluster !== undefined) OwnCluster.down(cluster)
  }, 120_000)

  it(
    `converges after ${churnSeconds} s of churn over ${initialTenants}+ Tenants with leader kills, an API server restart and a 410`,
    async () => {
      const foreign = `${run}-foreign`
      await kubectl.apply({
        yaml: toYaml([
          {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: foreign, labels: { team: "someone-else" } }
          }
        ])
      })
      const foreignBefore = await kubectl.get("namespace", foreign)

      const expected = new Map<string, Expected>()
      /** Tenants a change to which failed (the API server was down): what happened is read afterwards. */
      const uncertain = new Set<string>()
      let next = 0
      const newTenant = (): KubeObject => {
        const name = `${run}-${next++}`
        const plan = pick(plans)
        expected.set(name, { plan, deleted: false })
        return tenantObject(name, { plan, userId: `user-${name}`, username: "chaos" }, { [runLabel]: run })
      }
      await kubectl.apply({ yaml: toYaml(Array.from({ length: initialTenants }, newTenant)) })

      // Churn: one change every ~150 ms, retried through the API server's restart.
      let operations = 0
      let stop = false
      const churn = (async () => {
        while (!stop) {
          const live = [...expected].filter(([, tenant]) => !tenant.deleted).map(([name]) => name)
          const roll = randomInt(100)
          let name: string | undefined
          try {
            if (roll < 30 || live.length === 0) {
              const tenant = newTenant()
              name = tenant.metadata.name
              await kubectl.apply({ yaml: toYaml([tenant]) })
            } else if (roll < 70) {
              name = pick(live)
              const plan = pick(plans)
              const tenant = expected.get(name)
              if (tenant !== undefined) tenant.plan = plan
              await kubectl.ok([
                "patch",
                "tenant",
                name,
                "--type=merge",
                "-p",
                JSON.stringify({ spec: { plan } })
              ])
            } else {
              name = pick(live)
              const tenant = expected.get(name)
              if (tenant !== undefined) tenant.deleted = true
              await kubectl.ok(["delete", "tenant", name, "--wait=false"])
            }
            operations++
          } catch {
            // The API server is restarting: whether the change landed is read once it is back.
            if (name !== undefined) uncertain.add(name)
            await sleep(500)
          }
          await sleep(150)
        }
      })()

      // Faults, spread over the churn.
      const churnMillis = churnSeconds * 1000
      const failovers: Array<number> = []
      const started = Date.now()
      const at = async (fraction: number) => {
        const wait = started + churnMillis * fraction - Date.now()
        if (wait > 0) await sleep(wait)
      }
      await at(0.1)
      failovers.push(await killLeader())
      await startReplica()
      await at(0.45)
      const restartedAt = Date.now()
      const own = cluster ?? assert.fail("no cluster")
      await OwnCluster.restartApiServer(own)
      // The next fault waits for the server to serve again (its old process may take 15 s to go).
      await OwnCluster.waitUntilServing(own)
      await at(0.7)
      failovers.push(await killLeader())
      await startReplica()
      await at(1)
      stop = true
      await churn
      for (const name of uncertain) {
        const object = await kubectl.find("tenant", name)
        const gone = object === undefined || object.metadata.deletionTimestamp !== undefined
        expected.set(name, {
          plan: gone ? (expected.get(name)?.plan ?? "") : (object.spec as { readonly plan: string }).plan,
          deleted: gone
        })
      }

      // A watch resumed after the restart from a version the new server no longer had: a 410.
      const gone = replicas.flatMap((replica) =>
        replica.logs().filter((line) => typeof line.message === "string" && /: Gone: /.test(line.message))
      )
      assert.isNotEmpty(gone, "no watch expired (410) after the API server restart")
      // Nothing but the kills stopped a replica.
      assert.strictEqual(replicas.filter((replica) => replica.isRunning()).length, 2)

      // Convergence.
      const convergeStarted = Date.now()
      const live = [...expected].filter(([, tenant]) => !tenant.deleted)
      // What the quota of each plan holds, as the API server writes it (status.usage.hard).
      const quotaOf = new Map(plans.map((plan) => [plan, storedQuota(samplePlanObject(plan))]))
      const usageOnPlan = (object: KubeObject, plan: string): boolean =>
        sameEntries(
          (object.status as { readonly usage?: { readonly hard?: unknown } }).usage?.hard,
          quotaOf.get(plan as (typeof plans)[number])
        )
      const deleted = [...expected].filter(([, tenant]) => tenant.deleted).map(([name]) => name)
      await eventually(
        "every live Tenant TenantReady on its plan with its quota in status.usage, every deleted one gone",
        () =>
          kubectl.json<{ readonly items: ReadonlyArray<KubeObject> }>([
            "tenants",
            "-l",
            `${runLabel}=${run}`
          ]),
        (list) => {
          const byName = new Map(list.items.map((tenant) => [tenant.metadata.name, tenant]))
          return (
            live.every(([name, tenant]) => {
              const object = byName.get(name)
              return (
                object !== undefined &&
                (object.spec as { readonly plan: string }).plan === tenant.plan &&
                hasCondition(object, "TenantReady", "True") &&
                usageOnPlan(object, tenant.plan)
              )
            }) && deleted.every((name) => !byName.has(name))
          )
        },
        10 * 60_000
      )
      const namespaces = await kubectl.json<{ readonly items: ReadonlyArray<KubeObject> }>(["namespaces"])
      const namespaceNames = new Set(namespaces.items.map((namespace) => namespace.metadata.name))
      for (const [name, tenant] of live) {
        assert.isTrue(namespaceNames.has(`tenant-${name}`), `tenant-${name} is missing`)
        const quota = await kubectl.get("resourcequota", "tenant-quota", `tenant-${name}`)
        assert.strictEqual(quota.metadata.labels?.["kleff.io/tenant"], name)
        const namespace = namespaces.items.find((item) => item.metadata.name === `tenant-${name}`)
        assert.strictEqual(namespace?.metadata.labels?.["kleff.io/tenant-plan"], tenant.plan)
      }
      await eventually(
        "every deleted Tenant's namespace to be gone, and no tenant namespace without its Tenant",
        async () => {
          const all = await kubectl.json<{ readonly items: ReadonlyArray<KubeObject> }>(["namespaces"])
          const tenants = await kubectl.json<{ readonly items: ReadonlyArray<KubeObject> }>(["tenants"])
          const tenantNames = new Set(tenants.items.map((tenant) => tenant.metadata.name))
          return all.items.filter((namespace) => {
            const owner = namespace.metadata.labels?.["kleff.io/tenant"]
            return owner !== undefined && !tenantNames.has(owner)
          })
        },
        (orphans) => orphans.length === 0,
        5 * 60_000
      )
      const convergedAfter = Date.now() - convergeStarted
      const foreignAfter = await kubectl.get("namespace", foreign)
      assert.strictEqual(foreignAfter.metadata.resourceVersion, foreignBefore.metadata.resourceVersion)

      // A fresh operator (no leader election, so no Lease writes) resyncs everything: no write.
      for (const replica of replicas) await replica.stop()
      const resync = await startOperator({
        kubeconfig: cluster?.kubeconfig ?? "",
        readyTimeoutMillis: 120_000
      })
      replicas.push(resync)
      const metricsUrl = resync
        .logs()
        .map((line) =>
          typeof line.message === "string" ? /^Serving metrics on (\S+)$/.exec(line.message)?.[1] : undefined
        )
        .find((url) => url !== undefined)
      if (metricsUrl === undefined) return assert.fail("the operator did not say where its metrics are")
      const metric = async (name: string, filter: (labels: string) => boolean): Promise<number> => {
        const text = await (await fetch(metricsUrl)).text()
        let total = 0
        for (const line of text.split("\n")) {
          const match = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`).exec(line)
          if (match?.[1] !== undefined && filter(match[1])) total += Number(match[2])
        }
        return total
      }
      for (const controller of ["tenant-controller", "usage-controller"])
        await eventually(
          `the fresh operator's ${controller} to reconcile every live Tenant`,
          () =>
            metric("controller_runtime_reconcile_total", (labels) =>
              labels.includes(`controller="${controller}"`)
            ),
          (reconciles) => reconciles >= live.length,
          120_000
        )
      await sleep(2_000)
      const writes = await metric(
        "rest_client_requests_total",
        (labels) => !/method="(GET|WATCH)"/.test(labels)
      )
      assert.strictEqual(writes, 0, "the resync of a converged cluster wrote")

      process.stdout.write(
        `\nchaos: ${expected.size} Tenants (${live.length} live, ${deleted.length} deleted), ${operations} changes in ${churnSeconds} s; ` +
          `faults: 2 leader kills (failover ${failovers.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(", ")}), ` +
          `1 kube-apiserver restart (${((Date.now() - restartedAt) / 1000).toFixed(0)} s ago), ${gone.length} watch expiries (410); ` +
          `converged ${(convergedAfter / 1000).toFixed(1)} s after the churn stopped; resync writes: ${writes}\n`
      )
    },
    30 * 60_000
  )
})
