import { assert, describe, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { matcher } from "../src/Informers.ts"

const object = (namespace: string | undefined, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "a", ...(namespace === undefined ? {} : { namespace }), labels }
})

describe("Informers.matcher: which API answers a write-through may record in an informer", () => {
  it("matches a namespace, equality labels and metadata fields as the API server would", () => {
    const mine = matcher({ namespace: "t", labelSelector: "app.kubernetes.io/managed-by=x, team=a" })
    assert.isTrue(mine(object("t", { "app.kubernetes.io/managed-by": "x", team: "a", other: "b" })))
    assert.isFalse(mine(object("u", { "app.kubernetes.io/managed-by": "x", team: "a" })), "another namespace")
    assert.isFalse(mine(object("t", { "app.kubernetes.io/managed-by": "x" })), "a label missing")
    assert.isFalse(mine(object("t", { "app.kubernetes.io/managed-by": "y", team: "a" })), "a label differs")
    assert.isTrue(matcher({ fieldSelector: "metadata.name=a" })(object(undefined)))
    assert.isFalse(matcher({ fieldSelector: "metadata.name=b" })(object(undefined)))
    assert.isTrue(matcher({ fieldSelector: "metadata.namespace=t,metadata.name=a" })(object("t")))
    assert.isTrue(matcher({})(object("anywhere")))
  })

  it("never matches a selector it does not understand: the watch decides then", () => {
    for (const selection of [
      { labelSelector: "team!=a" },
      { labelSelector: "team in (a,b)" },
      { labelSelector: "team" },
      { fieldSelector: "status.phase=Running" }
    ]) {
      assert.isFalse(matcher(selection)(object("t", { team: "b" })), JSON.stringify(selection))
    }
  })
})
