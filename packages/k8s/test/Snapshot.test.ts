import { assert, describe, it } from "@effect/vitest"
import { Kinds, type Reconciler, type Reference } from "@kleff/core"
import { kindsOf, selectionOf } from "../src/Snapshot.ts"

const reconciler = (references: Reconciler["references"], managedBy?: string): Reconciler => ({
  name: "test",
  managedBy,
  primary: Kinds.ConfigMap,
  owned: [Kinds.Namespace, Kinds.RoleBinding],
  references,
  decide: () => undefined,
  desired: () => ({ objects: [] })
})

const toNothing = () => []
const named = (name: string): Reference => ({ type: Kinds.Secret, name, refersTo: toNothing })

describe("selectionOf: what a controller caches of each kind it reads", () => {
  it("watches a kind it refers to by one name only through that name", () => {
    const r = reconciler([
      { type: Kinds.CustomResourceDefinition, name: "widgets.test.kleff.io", refersTo: toNothing }
    ])
    assert.deepStrictEqual(selectionOf(r, Kinds.CustomResourceDefinition), {
      fieldSelector: "metadata.name=widgets.test.kleff.io"
    })
    assert.include(kindsOf(r), Kinds.CustomResourceDefinition)
  })

  it("watches a kind it only owns through its managed-by label, its primary whole", () => {
    assert.deepStrictEqual(selectionOf(reconciler([]), Kinds.ConfigMap), {})
    assert.deepStrictEqual(selectionOf(reconciler([]), Kinds.RoleBinding), {
      labelSelector: "app.kubernetes.io/managed-by=test"
    })
    assert.deepStrictEqual(selectionOf(reconciler([], "kleff-x"), Kinds.Namespace), {
      labelSelector: "app.kubernetes.io/managed-by=kleff-x"
    })
    assert.deepStrictEqual(
      selectionOf(reconciler([{ type: Kinds.Namespace, name: "a", refersTo: toNothing }]), Kinds.Namespace),
      { labelSelector: "app.kubernetes.io/managed-by=test" },
      "an owned kind referred to by name is still only its own children"
    )
    assert.deepStrictEqual(
      selectionOf(reconciler([{ type: Kinds.Namespace, refersTo: toNothing }]), Kinds.Namespace),
      {},
      "an owned kind it also reads any object of is watched whole"
    )
  })

  it("watches every object of a kind referred to without a name or by two names", () => {
    assert.deepStrictEqual(selectionOf(reconciler([named("a"), named("b")]), Kinds.Secret), {})
    assert.deepStrictEqual(
      selectionOf(reconciler([named("a"), { type: Kinds.Secret, refersTo: toNothing }]), Kinds.Secret),
      {}
    )
    assert.deepStrictEqual(selectionOf(reconciler([named("a"), named("a")]), Kinds.Secret), {
      fieldSelector: "metadata.name=a"
    })
  })

  it("with a namespace scope, caches namespaced kinds in that namespace only", () => {
    const r = reconciler([named("a")])
    assert.deepStrictEqual(selectionOf(r, Kinds.ConfigMap, "team-a"), { namespace: "team-a" })
    assert.deepStrictEqual(selectionOf(r, Kinds.RoleBinding, "team-a"), {
      namespace: "team-a",
      labelSelector: "app.kubernetes.io/managed-by=test"
    })
    assert.deepStrictEqual(selectionOf(r, Kinds.Secret, "team-a"), {
      namespace: "team-a",
      fieldSelector: "metadata.name=a"
    })
    assert.deepStrictEqual(
      selectionOf(r, Kinds.Namespace, "team-a"),
      { labelSelector: "app.kubernetes.io/managed-by=test" },
      "a cluster-scoped kind has no namespace"
    )
  })
})
