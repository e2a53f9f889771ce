// A namespaced controller under a Role-only identity, on the real API server: the example
// `appServiceAccounts` runs as a ServiceAccount whose only grant is a Role in its namespace (no
// ClusterRole at all). Scoped to that namespace, it caches and reconciles there alone; the same
// identity cannot even list ConfigMaps cluster-wide, which an unscoped controller would need.
import { assert, it } from "@effect/vitest"
import { Kinds, type KubeObject } from "@kleff/core"
import { Effect, Layer } from "effect"
import { appLabel, appServiceAccounts, appServiceAccountsRules } from "../examples/AppServiceAccounts.ts"
import { Client, type ClientService, make as makeClient } from "../src/Client.ts"
import { make as makeController } from "../src/Controller.ts"
import { Informers } from "../src/Informers.ts"
import { KubeConfig } from "../src/KubeConfig.ts"
import {
  ConfigMaps,
  clusterLayer,
  configMap,
  describeCluster,
  eventually,
  runUntilStopped,
  ServiceAccounts,
  serviceAccountToken,
  testNamespace,
  tokenConnection
} from "./cluster.ts"

const accountIn = (client: ClientService, namespace: string, name: string) =>
  client
    .get(ServiceAccounts, name, namespace)
    .pipe(Effect.catchTag("NotFound", () => Effect.succeed(undefined)))

const labelled = (namespace: string, name: string, app: string): KubeObject => {
  const object = configMap(namespace, name, { app })
  return { ...object, metadata: { ...object.metadata, labels: { [appLabel]: app } } }
}

describeCluster("a namespaced controller with a Role-only identity", () => {
  it.live(
    "reconciles its namespace and nothing else, with nothing granted beyond a Role there",
    () =>
      Effect.gen(function* () {
        const admin = yield* Client
        const home = yield* testNamespace("scoped")
        const elsewhere = yield* testNamespace("scoped-other")

        // The controller's identity: a ServiceAccount, a Role and a RoleBinding in `home`. Nothing else.
        yield* admin.create(ServiceAccounts, {
          apiVersion: "v1",
          kind: "ServiceAccount",
          metadata: { name: "controller", namespace: home }
        })
        yield* admin.create(Kinds.Role, {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "Role",
          metadata: { name: "app-service-accounts", namespace: home },
          rules: appServiceAccountsRules
        })
        yield* admin.create(Kinds.RoleBinding, {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name: "app-service-accounts", namespace: home },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "app-service-accounts" },
          subjects: [{ kind: "ServiceAccount", name: "controller", namespace: home }]
        })
        const token = yield* serviceAccountToken(home, "controller")
        const connection = tokenConnection(yield* KubeConfig, token)
        const asController = Layer.effect(
          Client,
          makeClient(connection, { fieldManager: "app-service-accounts" })
        )

        // The same identity without a scope would need cluster-wide reads it does not have.
        const clusterWide = yield* Effect.flip(
          Effect.flatMap(Client, (client) => client.list(ConfigMaps)).pipe(Effect.provide(asController))
        )
        assert.strictEqual(clusterWide._tag, "Forbidden")

        yield* admin.create(ConfigMaps, labelled(elsewhere, "web", "web"))
        yield* Effect.gen(function* () {
          const informers = yield* Informers
          const controller = yield* makeController({ reconciler: appServiceAccounts, namespace: home })
          for (const informer of yield* informers.informers) {
            assert.strictEqual(informer.selection.namespace, home, informer.description)
          }
          const stop = yield* runUntilStopped(controller.runnable)
          yield* controller.ready

          const source = yield* admin.create(ConfigMaps, labelled(home, "web", "web"))
          const account = yield* eventually(
            accountIn(admin, home, "web"),
            (found) => found !== undefined,
            20_000,
            "the ServiceAccount in the controller's namespace"
          )
          assert.deepStrictEqual(
            account?.metadata.ownerReferences?.map((ref) => [ref.kind, ref.name, ref.uid, ref.controller]),
            [["ConfigMap", "web", source.metadata.uid, true]]
          )
          assert.includeMembers(
            (account?.metadata.managedFields ?? []).map((entry) => entry.manager),
            ["app-service-accounts"]
          )
          assert.isUndefined(
            yield* accountIn(admin, elsewhere, "web"),
            "a ConfigMap outside its namespace is not its business"
          )

          // The label goes, the ServiceAccount goes.
          yield* admin.patch(
            ConfigMaps,
            "web",
            { type: "merge", body: { metadata: { labels: { [appLabel]: null } } } },
            { namespace: home }
          )
          yield* eventually(
            accountIn(admin, home, "web"),
            (found) => found === undefined,
            20_000,
            "the ServiceAccount to go"
          )

          yield* stop
        }).pipe(Effect.provide(Informers.layer), Effect.provide(asController))
      }).pipe(Effect.scoped, Effect.provide(clusterLayer())),
    60_000
  )
})
