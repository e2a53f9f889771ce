import { assert, describe, it } from "@effect/vitest"
import { Kinds, type Reconciler } from "@kleff/core"
import { kindsOf, selectorsOf } from "../src/Snapshot.ts"

const reconciler = (references: Reconciler["references"]): Reconciler => ({
  name: "test",
  primary: Kinds.ConfigMap,
  owned: [Kinds.Namespace],
  references,
  decide: () => undefined,
  desired: () => ({ objects: [] })
})

const toNothing = () => []

describe("selectorsOf: how a controller watches each kind it reads", () => {
  it("watches a kind it refers to by one name only through that name", () => {
    const r = reconciler([
      { type: Kinds.CustomResourceDefinition, name: "widgets.test.kleff.io", toPrimaries: toNothing }
    ])
    assert.deepStrictEqual(selectorsOf(r, Kinds.CustomResourceDefinition), {
      fieldSelector: "metadata.name=widgets.test.kleff.io"
    })
    assert.include(kindsOf(r), Kinds.CustomResourceDefinition)
  })

  it("watches every object of its primary and owned kinds, and of a kind referred to without a name or by two names", () => {
    const named = (name: string) => ({ type: Kinds.Secret, name, toPrimaries: toNothing })
    assert.deepStrictEqual(selectorsOf(reconciler([]), Kinds.ConfigMap), {})
    assert.deepStrictEqual(selectorsOf(reconciler([]), Kinds.Namespace), {})
    assert.deepStrictEqual(selectorsOf(reconciler([named("a"), named("b")]), Kinds.Secret), {})
    assert.deepStrictEqual(
      selectorsOf(reconciler([named("a"), { type: Kinds.Secret, toPrimaries: toNothing }]), Kinds.Secret),
      {}
    )
    assert.deepStrictEqual(
      selectorsOf(
        reconciler([{ type: Kinds.Namespace, name: "a", toPrimaries: toNothing }]),
        Kinds.Namespace
      ),
      {},
      "an owned kind is watched whole whatever a reference says"
    )
    assert.deepStrictEqual(selectorsOf(reconciler([named("a"), named("a")]), Kinds.Secret), {
      fieldSelector: "metadata.name=a"
    })
  })
})
