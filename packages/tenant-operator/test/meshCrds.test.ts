/**
 * Istio's and the Gateway API's real CRDs (tools/crds, installed by meshCrds.ts) on the real API
 * server: every one is accepted, Established and served in each version it declares; the objects
 * the mesh controller writes in a tenant namespace pass their schema and CEL rules unchanged
 * (nothing pruned), and a wrong one of each kind is refused. Server-side dry runs only: nothing is
 * left behind but the CRDs and one namespace, deleted at the end.
 */
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster, kubeconfigPath } from "../../k8s/test/cluster.ts"
import { Kubectl, toYaml, uniqueName } from "./e2e/harness.ts"
import { bundleObjects, installMeshCrds, meshBundles } from "./meshCrds.ts"

const username = "alice"
const domain = "apps.example.com"
const tenantHosts = [`${username}.${domain}`, `*.${username}.${domain}`]

/** The objects the mesh controller writes in tenant namespace `namespace`. */
const controllerObjects = (namespace: string): ReadonlyArray<KubeObject> => [
  {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: { name: "tenant-gateway", namespace },
    spec: {
      selector: { istio: "ingressgateway" },
      servers: [
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts: tenantHosts,
          tls: { mode: "SIMPLE", credentialName: `tenant-${username}-tls` }
        },
        {
          port: { number: 80, name: "http", protocol: "HTTP" },
          hosts: tenantHosts,
          tls: { httpsRedirect: true }
        }
      ]
    }
  },
  {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name: "default", namespace },
    spec: { mtls: { mode: "STRICT" } }
  },
  {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: "allow-tenant-and-ingress", namespace },
    spec: {
      action: "ALLOW",
      rules: [
        { from: [{ source: { namespaces: [namespace] } }] },
        { from: [{ source: { principals: ["cluster.local/ns/istio-ingress/sa/istio-ingressgateway"] } }] }
      ]
    }
  },
  {
    apiVersion: "networking.istio.io/v1",
    kind: "Sidecar",
    metadata: { name: "default", namespace },
    spec: { egress: [{ hosts: ["./*", "istio-system/*"] }] }
  }
]

/** A route a tenant writes, through the Gateway API. */
const httpRoute = (namespace: string, hostnames: ReadonlyArray<string>): KubeObject => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name: "web", namespace },
  spec: {
    parentRefs: [{ name: "shared", namespace: "istio-ingress" }],
    hostnames,
    rules: [{ backendRefs: [{ name: "web", port: 8080 }] }]
  }
})

const withSpec = (object: KubeObject, spec: unknown): KubeObject => ({ ...object, spec }) as KubeObject

/** Wrong objects of each kind, and what the server's refusal must name. */
const wrongObjects = (namespace: string): ReadonlyArray<{ object: KubeObject; refusal: RegExp }> => {
  const [gateway, peerAuthentication, authorizationPolicy, sidecar] = controllerObjects(namespace) as [
    KubeObject,
    KubeObject,
    KubeObject,
    KubeObject
  ]
  return [
    {
      object: withSpec(gateway, {
        selector: { istio: "ingressgateway" },
        servers: [{ hosts: tenantHosts, tls: { httpsRedirect: true } }]
      }),
      refusal: /spec\.servers\[0\]\.port: Required value/
    },
    {
      object: withSpec(peerAuthentication, { mtls: { mode: "STRICTLY" } }),
      refusal: /spec\.mtls\.mode: Unsupported value: "STRICTLY"/
    },
    {
      object: withSpec(authorizationPolicy, { action: "PERMIT", rules: [{}] }),
      refusal: /spec\.action: Unsupported value: "PERMIT"/
    },
    {
      object: withSpec(sidecar, { egress: [{ port: { number: 80, protocol: "HTTP", name: "http" } }] }),
      refusal: /spec\.egress\[0\]\.hosts: Required value/
    },
    {
      object: httpRoute(namespace, ["*"]),
      refusal: /spec\.hostnames\[0\]/
    }
  ]
}

describeCluster("Istio's and the Gateway API's CRDs on the real API server", () => {
  const kubectl = (): Kubectl => {
    if (kubeconfigPath === undefined) throw new Error("KLEFF_TEST_KUBECONFIG is not set")
    return new Kubectl(kubeconfigPath)
  }
  const namespace = uniqueName("mesh-crds")
  let crdNames: ReadonlyArray<string> = []

  beforeAll(async () => {
    if (kubeconfigPath === undefined) return
    crdNames = await installMeshCrds(kubeconfigPath)
    await kubectl().ok(["create", "namespace", namespace])
  }, 300_000)

  afterAll(async () => {
    await kubectl().run(["delete", "namespace", namespace, "--ignore-not-found", "--wait=false"])
  })

  /** A server-side dry run of creating `object`. */
  const dryRunCreate = (object: KubeObject) =>
    kubectl().run(["create", "--dry-run=server", "-o", "json", "-f", "-"], toYaml([object]))

  it("every CRD of both bundles is accepted and Established, and the API serves each version it declares", async () => {
    const expected = (await Promise.all(meshBundles.map(bundleObjects)))
      .flat()
      .filter((object) => object.kind === "CustomResourceDefinition")
    assert.strictEqual(expected.filter((crd) => crd.metadata.name.endsWith(".istio.io")).length, 15)
    assert.isAtLeast(
      expected.filter((crd) => crd.metadata.name.endsWith(".gateway.networking.k8s.io")).length,
      5
    )
    assert.sameMembers(
      [...crdNames],
      expected.map((crd) => crd.metadata.name)
    )

    const listed = await kubectl().json<{ items: ReadonlyArray<KubeObject> }>(["customresourcedefinitions"])
    const served = new Map<string, ReadonlySet<string>>()
    for (const crd of expected) {
      const spec = crd.spec as {
        group: string
        names: { plural: string }
        versions: ReadonlyArray<{ name: string; served: boolean }>
      }
      const there = listed.items.find((item) => item.metadata.name === crd.metadata.name)
      const conditions = (there?.status as { conditions?: ReadonlyArray<{ type: string; status: string }> })
        ?.conditions
      for (const type of ["NamesAccepted", "Established"]) {
        assert.isTrue(
          conditions?.some((condition) => condition.type === type && condition.status === "True"),
          `${crd.metadata.name}: ${type} (${JSON.stringify(conditions)})`
        )
      }
      for (const version of spec.versions.filter((candidate) => candidate.served)) {
        const groupVersion = `/apis/${spec.group}/${version.name}`
        const resources =
          served.get(groupVersion) ??
          new Set(
            (
              JSON.parse(await kubectl().ok(["get", "--raw", groupVersion])) as {
                resources: ReadonlyArray<{ name: string }>
              }
            ).resources.map((resource) => resource.name)
          )
        served.set(groupVersion, resources)
        assert.isTrue(resources.has(spec.names.plural), `${groupVersion} serves ${spec.names.plural}`)
      }
    }
  }, 120_000)

  it("admits each object the mesh controller writes as it is: schema and CEL rules pass, nothing pruned", async () => {
    for (const object of [...controllerObjects(namespace), httpRoute(namespace, tenantHosts)]) {
      const run = await dryRunCreate(object)
      assert.strictEqual(run.code, 0, `${object.kind}: ${run.stderr}`)
      const admitted = JSON.parse(run.stdout) as KubeObject
      assert.strictEqual(admitted.kind, object.kind)
      assert.strictEqual(admitted.metadata.namespace, namespace)
      if (object.kind === "HTTPRoute") {
        // The Gateway API's schema fills in defaults (parentRef group and kind, rule matches).
        assert.deepStrictEqual((admitted.spec as { hostnames: unknown }).hostnames, tenantHosts)
      } else {
        assert.deepStrictEqual(admitted.spec, object.spec, `${object.kind}: the server changed the spec`)
      }
    }
  }, 60_000)

  it("refuses a wrong object of each kind, naming the field", async () => {
    for (const { object, refusal } of wrongObjects(namespace)) {
      const run = await dryRunCreate(object)
      assert.notStrictEqual(run.code, 0, `${object.kind} ${JSON.stringify(object.spec)} was admitted`)
      assert.match(run.stderr, refusal, `${object.kind}: ${run.stderr}`)
    }
  }, 60_000)
})
