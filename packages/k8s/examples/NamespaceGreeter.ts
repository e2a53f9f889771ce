/**
 * Proof that a controller is nothing but a `Reconciler`: every Namespace labelled
 * `example.kleff.io/greeting=<word>` gets a ConfigMap `greeting` holding that word, kept in
 * step with the label, repaired when edited or deleted, and removed when the label goes.
 * No watch, queue, cache or API code here: the framework supplies all of it.
 */
import { Kinds, type KubeObject, ownedBy, type Reconciler, type ResourceType } from "@kleff/core"

export const greetingLabel = "example.kleff.io/greeting"

export const NamespaceType: ResourceType = Kinds.Namespace

export const ConfigMapType: ResourceType = Kinds.ConfigMap

export const desiredGreeting = (namespace: KubeObject, greeting: string): KubeObject =>
  ownedBy(
    namespace,
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "greeting", namespace: namespace.metadata.name },
      data: { greeting }
    },
    "namespace-greeter"
  )

export const namespaceGreeter: Reconciler<KubeObject, KubeObject> = {
  name: "namespace-greeter",
  primary: NamespaceType,
  owned: [ConfigMapType],
  decide: ({ primary }) => primary,
  desired: (namespace) => {
    const greeting = namespace.metadata.labels?.[greetingLabel]
    return { objects: greeting === undefined ? [] : [desiredGreeting(namespace, greeting)] }
  }
}
