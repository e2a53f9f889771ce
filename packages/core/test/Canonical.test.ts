import { assert, describe, it } from "@effect/vitest"
import { Canonical, type KubeObject } from "../src/index.ts"

describe("Canonical.canonicalize", () => {
  it("rewrites ResourceQuota hard limits as the API server stores them", () => {
    const quota: KubeObject = {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "q", namespace: "n" },
      spec: {
        hard: { "requests.cpu": "1000m", "requests.memory": "1024Mi", pods: 20, "limits.cpu": " 0.5 " }
      }
    }
    assert.deepStrictEqual(Canonical.canonicalize(quota).spec, {
      hard: { "requests.cpu": "1", "requests.memory": "1Gi", pods: "20", "limits.cpu": "500m" }
    })
  })

  it("rewrites every LimitRange bound in every item", () => {
    const limits: KubeObject = {
      apiVersion: "v1",
      kind: "LimitRange",
      metadata: { name: "l", namespace: "n" },
      spec: {
        limits: [
          {
            type: "Container",
            default: { cpu: "0.5" },
            defaultRequest: { memory: "128Mi" },
            max: { cpu: "1000m" }
          },
          { type: "Pod", min: { memory: "0.5Gi" }, maxLimitRequestRatio: { cpu: "2000m" } }
        ]
      }
    }
    assert.deepStrictEqual(Canonical.canonicalize(limits).spec, {
      limits: [
        {
          type: "Container",
          default: { cpu: "500m" },
          defaultRequest: { memory: "128Mi" },
          max: { cpu: "1" }
        },
        { type: "Pod", min: { memory: "512Mi" }, maxLimitRequestRatio: { cpu: "2" } }
      ]
    })
  })

  it("rewrites container resources in pods and pod templates", () => {
    const deployment: KubeObject = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d", namespace: "n" },
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: "c",
                image: "i",
                resources: { requests: { cpu: "0.25" }, limits: { memory: "1073741824" } }
              }
            ],
            volumes: [{ name: "scratch", emptyDir: { sizeLimit: "1024Mi" } }]
          }
        }
      }
    }
    const canonical = Canonical.canonicalize(deployment)
    assert.deepStrictEqual(canonical.spec, {
      template: {
        spec: {
          containers: [
            {
              name: "c",
              image: "i",
              resources: { requests: { cpu: "250m" }, limits: { memory: "1073741824" } }
            }
          ],
          volumes: [{ name: "scratch", emptyDir: { sizeLimit: "1Gi" } }]
        }
      }
    })
  })

  it("returns the same object when nothing changes, and leaves unknown kinds and non-quantity fields alone", () => {
    const quota: KubeObject = {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "q" },
      spec: { hard: { pods: "10" }, scopes: ["1000m"] }
    }
    assert.strictEqual(Canonical.canonicalize(quota), quota)
    const custom: KubeObject = {
      apiVersion: "example.io/v1",
      kind: "Widget",
      metadata: { name: "w" },
      spec: { size: "1000m" }
    }
    assert.strictEqual(Canonical.canonicalize(custom), custom)
  })

  it("finds the quantity fields the API server would reject", () => {
    const quota: KubeObject = {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "q" },
      spec: { hard: { pods: "ten", cpu: "1" } }
    }
    assert.deepStrictEqual(Canonical.invalidQuantities(quota), [
      { path: ["spec", "hard", "pods"], value: "ten" }
    ])
    assert.strictEqual(Canonical.canonicalize(quota).spec, quota.spec)
  })
})
