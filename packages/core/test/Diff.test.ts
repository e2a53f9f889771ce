import { assert, describe, it } from "@effect/vitest"
import {
  contains,
  controllerReference,
  desiredDigest,
  desiredDigestAnnotation,
  differs,
  firstDifference,
  fnv1a64,
  jsonEqual,
  type KubeObject,
  onlyStatusChanged,
  withDesiredDigest
} from "../src/index.ts"

const owner: KubeObject = {
  apiVersion: "test.kleff.io/v1",
  kind: "Tenant",
  metadata: { name: "acme", uid: "uid-1" }
}

const quota = (hard: Record<string, unknown>, extra: Partial<KubeObject["metadata"]> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ResourceQuota",
  metadata: {
    name: "quota",
    namespace: "t-acme",
    labels: { team: "a" },
    ownerReferences: [controllerReference(owner)],
    ...extra
  },
  spec: { hard }
})

describe("differs: desired ⊆ observed", () => {
  it("ignores what only the server or other managers added", () => {
    const desired = quota({ pods: "10" })
    const observed: KubeObject = {
      ...quota(
        { pods: "10", services: "5" },
        {
          uid: "uid-2",
          resourceVersion: "42",
          labels: { team: "a", "other/label": "x" },
          annotations: { note: "y" },
          ownerReferences: [
            { apiVersion: "v1", kind: "Other", name: "o", uid: "uid-other" },
            controllerReference(owner)
          ]
        }
      ),
      status: { hard: { pods: "10" }, used: { pods: "3" } }
    }
    assert.isFalse(differs(desired, observed))
    assert.isUndefined(firstDifference(desired, observed))
  })

  it("compares quantities by value, as the API server stores them", () => {
    const observed = quota({ "requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "500m" })
    assert.isFalse(
      differs(quota({ "requests.cpu": "1000m", "requests.memory": "1024Mi", "limits.cpu": "0.5" }), observed)
    )
    assert.isFalse(differs(quota({ "requests.memory": 1073741824 }), quota({ "requests.memory": "1Gi" })))
    assert.deepStrictEqual(firstDifference(quota({ "requests.cpu": "2" }), observed), {
      path: 'spec.hard["requests.cpu"]',
      desired: "2",
      observed: "1"
    })
  })

  it("compares quantities inside lists of LimitRange items and pod templates", () => {
    const limitRange = (cpu: string): KubeObject => ({
      apiVersion: "v1",
      kind: "LimitRange",
      metadata: { name: "l", namespace: "n" },
      spec: { limits: [{ type: "Container", default: { cpu }, max: { memory: "1Gi" } }] }
    })
    assert.isFalse(differs(limitRange("1000m"), limitRange("1")))
    assert.strictEqual(firstDifference(limitRange("2"), limitRange("1"))?.path, "spec.limits[0].default.cpu")
    const deployment = (memory: string): KubeObject => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d", namespace: "n" },
      spec: { template: { spec: { containers: [{ name: "c", resources: { limits: { memory } } }] } } }
    })
    assert.isFalse(differs(deployment("0.5Gi"), deployment("512Mi")))
    // Quantity knowledge is per kind: a ConfigMap's "1000m" is just a string.
    const configMap = (value: string): KubeObject => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c" },
      data: { value }
    })
    assert.isTrue(differs(configMap("1000m"), configMap("1")))
  })

  it("lets an empty map or list in desired match an absent one", () => {
    const cm = (data: unknown): KubeObject => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: "n" },
      data
    })
    assert.isFalse(
      differs(cm({}), { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "n" } })
    )
    assert.isFalse(differs({ ...cm(undefined), spec: { list: [], nested: { empty: {} } } }, cm(undefined)))
    assert.isTrue(differs({ ...cm(undefined), spec: { list: ["x"] } }, cm(undefined)))
    assert.isFalse(
      differs({ ...cm(undefined), metadata: { name: "c", namespace: "n", labels: {} } }, cm(undefined))
    )
  })

  it("compares lists element by element, with equal lengths, ignoring defaulted fields inside elements", () => {
    const role = (rules: unknown): KubeObject => ({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "r" },
      rules
    })
    assert.isFalse(differs(role([{ verbs: ["get"] }]), role([{ verbs: ["get"], apiGroups: [""] }])))
    assert.deepStrictEqual(
      firstDifference(role([{ verbs: ["get"] }]), role([{ verbs: ["get"] }, { verbs: ["list"] }]))?.path,
      "rules"
    )
    assert.strictEqual(
      firstDifference(role([{ verbs: ["get"] }]), role([{ verbs: ["list"] }]))?.path,
      "rules[0].verbs[0]"
    )
    assert.isTrue(differs(role([{ verbs: ["get", "list"] }]), role([{ verbs: ["list", "get"] }])))
  })

  it("requires the controller reference by UID and the desired labels, annotations and finalizers", () => {
    const desired = quota({}, { annotations: { a: "1" }, finalizers: ["f"] })
    const full = quota({}, { annotations: { a: "1", b: "2" }, finalizers: ["g", "f"] })
    assert.isFalse(differs(desired, full))
    assert.strictEqual(
      firstDifference(desired, quota({}, { annotations: { a: "2" }, finalizers: ["f"] }))?.path,
      "metadata.annotations.a"
    )
    assert.strictEqual(
      firstDifference(desired, quota({}, { annotations: { a: "1" } }))?.path,
      "metadata.finalizers"
    )
    assert.strictEqual(
      firstDifference(desired, {
        ...full,
        metadata: {
          ...full.metadata,
          ownerReferences: [{ ...controllerReference(owner), controller: false }]
        }
      })?.path,
      "metadata.ownerReferences"
    )
    assert.strictEqual(
      firstDifference(desired, quota({}, { labels: {}, annotations: { a: "1" }, finalizers: ["f"] }))?.path,
      "metadata.labels.team"
    )
  })

  it("compares identity by group, kind, namespace and name, not version", () => {
    const v1: KubeObject = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d", namespace: "n" }
    }
    assert.isFalse(differs(v1, { ...v1, apiVersion: "apps/v1beta2" }))
    assert.strictEqual(
      firstDifference(v1, { ...v1, metadata: { name: "d", namespace: "m" } })?.path,
      "(identity)"
    )
    assert.isTrue(differs(v1, { ...v1, kind: "StatefulSet" }))
  })

  it("never compares status, which apply does not write", () => {
    const ns: KubeObject = {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "n" },
      status: { phase: "Active" }
    }
    assert.isFalse(differs(ns, { ...ns, status: { phase: "Terminating" } }))
  })

  it("tells scalars of different types apart", () => {
    const cm = (value: unknown): KubeObject => ({
      apiVersion: "v1",
      kind: "Thing",
      metadata: { name: "c" },
      spec: { value }
    })
    assert.isTrue(differs(cm(80), cm("80")))
    assert.isTrue(differs(cm(false), cm(undefined)))
    assert.isTrue(differs(cm({ a: 1 }), cm([1])))
    assert.isFalse(differs(cm(null), cm(undefined)))
  })
})

describe("contains and jsonEqual", () => {
  it("contains is the subset rule for plain values", () => {
    assert.isTrue(contains({ a: 1 }, { a: 1, b: 2 }))
    assert.isFalse(contains({ a: 1, b: 2 }, { a: 1 }))
  })

  it("jsonEqual is exact, with undefined-valued keys as absent", () => {
    assert.isTrue(jsonEqual({ a: 1, b: undefined }, { a: 1 }))
    assert.isFalse(jsonEqual({ a: 1 }, { a: 1, b: 2 }))
    assert.isFalse(jsonEqual([1, 2], [2, 1]))
    assert.isFalse(jsonEqual({}, []))
  })
})

describe("onlyStatusChanged", () => {
  it("is true when nothing but the status and the resourceVersion moved, false for any other change", () => {
    const quota = {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "quota", namespace: "t-a", resourceVersion: "10", labels: { a: "1" } },
      spec: { hard: { pods: "10" } },
      status: { used: { pods: "0" } }
    }
    const moved = (change: object) => ({ ...quota, ...change })
    const metadata = (change: object) => moved({ metadata: { ...quota.metadata, ...change } })
    assert.isTrue(onlyStatusChanged(quota, moved({ metadata: { ...quota.metadata, resourceVersion: "11" } })))
    assert.isTrue(
      onlyStatusChanged(
        quota,
        moved({ status: { used: { pods: "1" } }, metadata: { ...quota.metadata, resourceVersion: "11" } })
      )
    )
    assert.isTrue(onlyStatusChanged(quota, { ...quota, status: undefined }))
    assert.isFalse(onlyStatusChanged(quota, moved({ spec: { hard: { pods: "11" } } })))
    assert.isFalse(onlyStatusChanged(quota, moved({ extra: true })))
    assert.isFalse(onlyStatusChanged(moved({ extra: true }), quota))
    assert.isFalse(onlyStatusChanged(quota, metadata({ labels: { a: "2" } })))
    assert.isFalse(onlyStatusChanged(quota, metadata({ deletionTimestamp: "2026-01-01T00:00:00Z" })))
    assert.isFalse(onlyStatusChanged(quota, metadata({ finalizers: ["x"] })))
    assert.isFalse(onlyStatusChanged(metadata({ finalizers: ["x"] }), quota))
  })
})

describe("desiredDigest", () => {
  it("is a double FNV-1a of the lists the desired object holds, stamped as an annotation", () => {
    // The first half is FNV-1a 32, whose reference vectors these are.
    assert.strictEqual(fnv1a64("").slice(0, 8), "811c9dc5")
    assert.strictEqual(fnv1a64("a").slice(0, 8), "e40c292c")
    assert.strictEqual(fnv1a64("foobar").slice(0, 8), "bf9cf968")
    assert.notStrictEqual(fnv1a64("a").slice(8), fnv1a64("b").slice(8))
    const object = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } }
    assert.match(desiredDigest(object), /^[0-9a-f]{16}$/)
    const limits = (max: object) => ({ ...object, spec: { limits: [{ type: "Container", max }] } })
    assert.notStrictEqual(
      desiredDigest(limits({ cpu: "1", memory: "1Gi" })),
      desiredDigest(limits({ cpu: "1" }))
    )
    // The value is stamped on every child in every cluster: a different digest for the same desired
    // object would re-apply every child of every primary on upgrade. These are the values since
    // the digest was introduced.
    const policy = {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "deny", namespace: "t-a", labels: { x: "y" } },
      spec: {
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          {
            from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "istio-system" } } }]
          }
        ],
        egress: [{ ports: [{ port: 53, protocol: "UDP" }] }]
      }
    }
    assert.strictEqual(desiredDigest(policy), "6e0e7bf62b6e5e74")
    const dotted = {
      ...object,
      spec: { limits: [{ type: "Container", max: { cpu: "2" }, "a.b": null }] },
      data: { "x.y": { z: [1] } }
    }
    assert.strictEqual(desiredDigest(dotted), "aa383f296c26b343")
    // Outside lists the managed-fields record judges: no serialisation, the same digest.
    assert.strictEqual(desiredDigest(object), desiredDigest({ ...object, data: { a: "1" } }))
    assert.strictEqual(
      withDesiredDigest(object, "one").metadata.annotations?.[desiredDigestAnnotation("one")],
      desiredDigest(object)
    )
  })
})
