/**
 * Two controllers in one Manager over one shared informer cache, on the real API server: the
 * framework's example greeter (a ConfigMap in every labelled Namespace) and the Tenant controller.
 * Proven here: one watch per kind and selection however many controllers read it (the Namespace
 * watch is shared: counted at the client), each controller writes with its own field manager and
 * neither strips the other's fields, and owned kinds are cached through the managed-by label, so
 * RoleBindings and NetworkPolicies the operator does not manage never enter its cache.
 *
 * Holds the cluster's operator lock (an in-process Tenant controller reconciles every Tenant).
 */
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import { Kinds, type KubeObject, managedByLabel } from "@kleff/core"
import { Client, Controller, HealthServer, Informers, Manager } from "@kleff/k8s"
import { Effect, Fiber, Layer } from "effect"
import { greetingLabel, namespaceGreeter } from "../../k8s/examples/NamespaceGreeter.ts"
import {
  clusterLayer,
  describeCluster,
  eventually,
  kubeconfigPath,
  uniqueName
} from "../../k8s/test/cluster.ts"
import { TenantType } from "../src/api/Tenant.ts"
import { makeConfig } from "../src/desired/Config.ts"
import { managedBy } from "../src/desired/Ownership.ts"
import { makeTenantReconciler, tenantControllerName } from "../src/TenantReconciler.ts"
import { hasCondition, installOperator, lockCluster, tenantObject } from "./e2e/harness.ts"

/** Watch requests made by the process, by resource: the client every informer watches through, counting. */
const watches = new Map<string, number>()
const countingClient = Layer.effect(
  Client.Client,
  Effect.map(Client.Client, (client) => ({
    ...client,
    watch: ((type, options) => {
      const resource = Client.resourceName(type)
      watches.set(resource, (watches.get(resource) ?? 0) + 1)
      return client.watch(type, options)
    }) as typeof client.watch
  }))
).pipe(Layer.provide(clusterLayer()))

const namespaceObject = (name: string, labels: Readonly<Record<string, string>> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, labels }
})

const managersOf = (object: KubeObject | undefined): ReadonlyArray<string> =>
  (object?.metadata.managedFields ?? [])
    .filter((entry) => entry.operation === "Apply")
    .map((entry) => entry.manager ?? "")

describeCluster("one Manager, two controllers, one shared cache", () => {
  let release: (() => void) | undefined
  beforeAll(async () => {
    const kubeconfig = kubeconfigPath ?? ""
    release = await lockCluster(kubeconfig)
    await installOperator(kubeconfig)
  }, 20 * 60_000)
  afterAll(() => release?.())

  it.live(
    "the greeter and the Tenant controller share the Namespace watch, write as themselves, and cache only their own children",
    () =>
      Effect.gen(function* () {
        const admin = yield* Client.Client
        const suffix = uniqueName("m").slice(2)
        const unrelated = `unrelated-${suffix}`
        const greeted = `greeted-${suffix}`
        const tenantName = `mgr-${suffix}`

        // Whatever happens, nothing is left behind (the Tenant's finalizer is lifted if no controller runs).
        yield* Effect.addFinalizer(() =>
          Effect.gen(function* () {
            yield* admin
              .patch(TenantType, tenantName, { type: "merge", body: { metadata: { finalizers: null } } })
              .pipe(Effect.ignore)
            yield* admin.delete(TenantType, tenantName).pipe(Effect.ignore)
            for (const name of [unrelated, greeted, `tenant-${tenantName}`])
              yield* admin.delete(Kinds.Namespace, name).pipe(Effect.ignore)
          })
        )

        // Objects the operator does not manage: they must not enter its caches.
        yield* admin.create(Kinds.Namespace, namespaceObject(unrelated))
        for (let i = 0; i < 10; i++) {
          yield* admin.create(Kinds.RoleBinding, {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: { name: `rb-${i}`, namespace: unrelated },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
            subjects: [{ kind: "User", name: `someone-${i}` }]
          })
          yield* admin.create(Kinds.NetworkPolicy, {
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: { name: `np-${i}`, namespace: unrelated },
            spec: { podSelector: {}, policyTypes: ["Ingress"] }
          })
        }
        yield* admin.create(Kinds.Namespace, namespaceObject(greeted, { [greetingLabel]: "hello" }))

        const informers = yield* Informers.Informers
        const greeter = yield* Controller.make({ reconciler: namespaceGreeter, concurrency: 2 })
        const tenants = yield* Controller.make({
          reconciler: makeTenantReconciler(makeConfig()),
          concurrency: 2
        })
        const manager = yield* Effect.forkChild(
          Manager.run({ healthProbeBindAddress: "0", metricsBindAddress: "0" }, [
            Informers.runnable(informers),
            greeter.runnable,
            tenants.runnable
          ])
        )

        yield* admin.create(
          TenantType,
          tenantObject(tenantName, { plan: "basic", userId: suffix, username: tenantName })
        )
        const ready = yield* eventually(
          admin.get(TenantType, tenantName),
          (tenant) => hasCondition(tenant, "TenantReady", "True"),
          60_000,
          "the Tenant to be ready"
        )
        const tenantNamespace = (ready.status as { namespace: string }).namespace
        const greetingIn = (namespace: string) =>
          admin
            .get(Kinds.ConfigMap, "greeting", namespace)
            .pipe(Effect.catchTag("NotFound", () => Effect.succeed(undefined)))
        yield* eventually(greetingIn(greeted), (cm) => cm !== undefined, 30_000, "the greeting")

        // A user greets the tenant's namespace too: both controllers now act on that one Namespace.
        yield* admin.apply(Kinds.Namespace, namespaceObject(tenantNamespace, { [greetingLabel]: "hi" }), {
          fieldManager: "a-user"
        })
        const greeting = yield* eventually(
          greetingIn(tenantNamespace),
          (cm) => cm !== undefined,
          30_000,
          "the tenant's greeting"
        )
        assert.deepStrictEqual(managersOf(greeting), ["namespace-greeter"])
        const namespace = yield* admin.get(Kinds.Namespace, tenantNamespace)
        assert.includeMembers([...managersOf(namespace)], [tenantControllerName, "a-user"])
        assert.notInclude([...managersOf(namespace)], "namespace-greeter")
        assert.strictEqual(namespace.metadata.labels?.[greetingLabel], "hi")
        assert.strictEqual(namespace.metadata.labels?.[managedByLabel], managedBy)
        assert.isTrue(hasCondition(yield* admin.get(TenantType, tenantName), "TenantReady", "True"))

        // One watch per kind and selection: the Namespace watch is shared by both controllers.
        const registered = yield* informers.informers
        const namespaceInformers = registered.filter((informer) => informer.type.kind === "Namespace")
        assert.strictEqual(
          namespaceInformers.length,
          1,
          namespaceInformers.map((i) => i.description).join("; ")
        )
        assert.strictEqual(watches.get("namespaces"), 1, "one Namespace watch for two controllers")
        for (const informer of registered) {
          const resource = Client.resourceName(informer.type)
          assert.isAtLeast(watches.get(resource) ?? 0, 1, informer.description)
        }
        assert.strictEqual(
          registered.length,
          new Set(registered.map((informer) => informer.description)).size,
          "no two informers with the same kind and selection"
        )

        // Owned kinds are cached through the managed-by label: nothing unrelated is held.
        for (const kind of ["RoleBinding", "NetworkPolicy"]) {
          const informer = registered.find((candidate) => candidate.type.kind === kind)
          assert.isDefined(informer, kind)
          const cached = informer?.cache.list() ?? []
          assert.isAbove(cached.length, 0, `${kind}: the tenant's own`)
          for (const object of cached) assert.strictEqual(object.metadata.labels?.[managedByLabel], managedBy)
          assert.isFalse(
            cached.some((object) => object.metadata.namespace === unrelated),
            `${kind}: unrelated ones cached`
          )
        }

        // Clean up through the running controllers (the Tenant's finalizer goes with its namespace).
        yield* admin.delete(TenantType, tenantName)
        yield* eventually(
          admin.get(TenantType, tenantName).pipe(
            Effect.as(false),
            Effect.catchTag("NotFound", () => Effect.succeed(true))
          ),
          (gone) => gone,
          120_000,
          "the Tenant to go"
        )
        yield* Fiber.interrupt(manager)
        for (const name of [unrelated, greeted])
          yield* admin.delete(Kinds.Namespace, name).pipe(Effect.ignore)
      }).pipe(
        Effect.scoped,
        Effect.provide(Informers.Informers.layer),
        Effect.provide(HealthServer.HealthChecks.layer),
        Effect.provide(countingClient)
      ),
    240_000
  )
})
