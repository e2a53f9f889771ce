/**
 * A namespaced controller, deployable with a Role alone: every ConfigMap labelled
 * `example.kleff.io/app=<name>` gets a ServiceAccount `<name>` in its namespace, owned by the
 * ConfigMap, removed when the label goes. Run it with `namespace` set (`Controller.make`), and it
 * lists and watches ConfigMaps and its own ServiceAccounts in that one namespace only, so a Role
 * there (`appServiceAccountsRules`) is all the access it needs.
 */
import { Kinds, type KubeObject, ownedBy, type Reconciler } from "@kleff/core"

export const appLabel = "example.kleff.io/app"

export const appServiceAccounts: Reconciler<KubeObject, string | undefined> = {
  name: "app-service-accounts",
  primary: Kinds.ConfigMap,
  owned: [Kinds.ServiceAccount],
  decide: ({ primary }) => primary.metadata.labels?.[appLabel],
  desired: (app, { object }) => ({
    objects:
      app === undefined
        ? []
        : [
            ownedBy(
              object,
              {
                apiVersion: "v1",
                kind: "ServiceAccount",
                metadata: { name: app, namespace: object.metadata.namespace, labels: { [appLabel]: app } }
              },
              "app-service-accounts"
            )
          ]
  })
}

/** The Role the controller needs in its namespace: read ConfigMaps, own ServiceAccounts, record Events. */
export const appServiceAccountsRules = [
  { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] },
  {
    apiGroups: [""],
    resources: ["serviceaccounts"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"]
  },
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create"] }
]
