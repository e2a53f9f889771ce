/**
 * The kleff-tenant-hosts admission policy (deploy/components/istio/tenant-hosts-policy.yaml) on
 * the real API server, with Istio's and the Gateway API's real CRDs: in a tenant namespace an Istio
 * Gateway, a VirtualService, an HTTPRoute or a GRPCRoute may name only the tenant's hosts (and, for
 * the latter three, the namespace's own services); everything else is refused with a message that
 * names the host and the tenant's domains. Namespaces that are not tenants' are not touched.
 *
 * The policy is the deployed one, under a name of this run's, with a binding confined to this
 * run's namespaces, whose `kleff.io/tenant-host` annotations hold the tenants' hosts as the
 * operator writes them, so no other test's namespaces are affected. Server-side dry runs, except
 * where an update is tested.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import { eventually, Kubectl, readRepoFile, toYaml, uniqueName } from "../e2e/harness.ts"
import { installMeshCrds } from "../meshCrds.ts"
import { parseObjects } from "./manifests.ts"

const domain = "apps.example.com"
const run = uniqueName("hosts")
const policyName = `kleff-tenant-hosts-${run}`
const namespaces = { alice: `${run}-alice`, bob: `${run}-bob`, plain: `${run}-plain` } as const
type Place = keyof typeof namespaces

/** The deployed policy and binding, renamed for this run; the binding sees only this run's namespaces. */
const policyObjects = (): ReadonlyArray<KubeObject> => {
  const [policy, binding] = parseObjects(readRepoFile("deploy/components/istio/tenant-hosts-policy.yaml"))
  if (policy?.kind !== "ValidatingAdmissionPolicy" || binding?.kind !== "ValidatingAdmissionPolicyBinding") {
    throw new Error("tenant-hosts-policy.yaml: expected a ValidatingAdmissionPolicy, then its binding")
  }
  const spec = binding.spec as Record<string, unknown>
  return [
    { ...policy, metadata: { ...policy.metadata, name: policyName } },
    {
      ...binding,
      metadata: { ...binding.metadata, name: policyName },
      spec: {
        ...spec,
        policyName,
        matchResources: { namespaceSelector: { matchLabels: { "kleff.io/test-run": run } } }
      }
    }
  ] as ReadonlyArray<KubeObject>
}

/** A run's namespace: a tenant's carries its username label and its host, as the operator writes them. */
const namespaceObject = (place: Place, tenantHost = `${place}.${domain}`): KubeObject => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: {
    name: namespaces[place],
    labels: {
      "kleff.io/test-run": run,
      ...(place === "plain" ? {} : { "kleff.io/tenant-username": place })
    },
    ...(place === "plain" ? {} : { annotations: { "kleff.io/tenant-host": tenantHost } })
  }
})

const gateway = (place: Place, hosts: ReadonlyArray<string>, version = "v1"): KubeObject => ({
  apiVersion: `networking.istio.io/${version}`,
  kind: "Gateway",
  metadata: { name: "tenant-gateway", namespace: namespaces[place] },
  spec: {
    selector: { istio: "ingressgateway" },
    servers: [
      {
        port: { number: 443, name: "https", protocol: "HTTPS" },
        hosts,
        tls: { mode: "SIMPLE", credentialName: `tenant-${place}-tls` }
      },
      { port: { number: 80, name: "http", protocol: "HTTP" }, hosts, tls: { httpsRedirect: true } }
    ]
  }
})

const virtualService = (place: Place, hosts: ReadonlyArray<string>, version = "v1"): KubeObject => ({
  apiVersion: `networking.istio.io/${version}`,
  kind: "VirtualService",
  metadata: { name: "web", namespace: namespaces[place] },
  spec: {
    hosts,
    gateways: ["tenant-gateway"],
    http: [{ route: [{ destination: { host: "web" } }] }]
  }
})

const toSharedGateway = [{ name: "shared", namespace: "istio-ingress" }]
const toService = [{ group: "", kind: "Service", name: "web" }]

const route = (
  kind: "HTTPRoute" | "GRPCRoute",
  place: Place,
  hostnames: ReadonlyArray<string>,
  options: { readonly parentRefs?: ReadonlyArray<unknown>; readonly version?: string } = {}
): KubeObject => ({
  apiVersion: `gateway.networking.k8s.io/${options.version ?? "v1"}`,
  kind,
  metadata: { name: "web", namespace: namespaces[place] },
  spec: {
    parentRefs: options.parentRefs ?? toSharedGateway,
    ...(hostnames.length === 0 ? {} : { hostnames }),
    rules: [{ backendRefs: [{ name: "web", port: 8080 }] }]
  }
})

const host = (tenant: string): string => `${tenant}.${domain}`
const alice = host("alice")
const bob = host("bob")

/** What a refusal in `place` says of the tenant's hosts. */
const allowedHosts = (place: "alice" | "bob"): string =>
  `tenant ${place}'s hosts are ${host(place)} and its subdomains (*.${host(place)})`

describeCluster("deploy/components/istio: the kleff-tenant-hosts admission policy", () => {
  const kubectl = (): Kubectl => {
    if (kubeconfigPath === undefined) throw new Error("KLEFF_TEST_KUBECONFIG is not set")
    return new Kubectl(kubeconfigPath)
  }
  const dryRun = (object: KubeObject) =>
    kubectl().run(["create", "--dry-run=server", "-o", "name", "-f", "-"], toYaml([object]))

  const admits = async (object: KubeObject): Promise<void> => {
    const result = await dryRun(object)
    assert.strictEqual(result.code, 0, `${object.kind} ${JSON.stringify(object.spec)}: ${result.stderr}`)
  }

  /** Refused by this run's policy, the message naming each of `refused` and none of `kept`. */
  const refuses = async (
    object: KubeObject,
    refused: ReadonlyArray<string>,
    says: string,
    kept: ReadonlyArray<string> = []
  ): Promise<void> => {
    const result = await dryRun(object)
    const what = `${object.kind} ${JSON.stringify(object.spec)}`
    assert.notStrictEqual(result.code, 0, `${what} was admitted`)
    assert.include(result.stderr, `ValidatingAdmissionPolicy '${policyName}'`, what)
    assert.include(result.stderr, says, what)
    const message = result.stderr.slice(result.stderr.indexOf("denied request: "))
    for (const name of refused) assert.include(message, `"${name}"`, what)
    for (const name of kept) assert.notInclude(message, `"${name}"`, what)
  }

  /** Polls until the policy (or a change to its params) is in effect: the API server's informers lag. */
  const untilRefused = (object: KubeObject, says: string) =>
    eventually(
      `${object.kind} refused with "${says}"`,
      () => dryRun(object),
      (result) => result.code !== 0 && result.stderr.includes(says),
      60_000
    )

  beforeAll(async () => {
    if (kubeconfigPath === undefined) return
    await installMeshCrds(kubeconfigPath)
    await kubectl().ok(
      ["apply", "-f", "-"],
      toYaml([
        ...(["alice", "bob", "plain"] as const).map((place) => namespaceObject(place)),
        ...policyObjects()
      ])
    )
    await untilRefused(gateway("alice", ["*"]), `"*" are not for this namespace`)
  }, 300_000)

  afterAll(async () => {
    await kubectl().run(["delete", "-f", "-", "--ignore-not-found"], toYaml(policyObjects()))
    await kubectl().run([
      "delete",
      "namespace",
      ...Object.values(namespaces),
      "--ignore-not-found",
      "--wait=false"
    ])
  })

  describe("Istio Gateway", () => {
    it("admits the tenant's own hosts: exactly, subdomains, wildcards, allowed namespace prefixes, any served version", async () => {
      await admits(gateway("alice", [alice, `*.${alice}`]))
      await admits(gateway("alice", [`a.b.${alice}`, `*.b.${alice}`, "ALICE.APPS.example.com"]))
      await admits(gateway("alice", [`./${alice}`, `*/*.${alice}`, `${namespaces.alice}/www.${alice}`]))
      await admits(gateway("bob", [bob, `*.${bob}`]))
      for (const version of ["v1beta1", "v1alpha3"]) await admits(gateway("alice", [alice], version))
    }, 60_000)

    it("refuses another tenant's host, in any served version, naming it and the tenant's domains", async () => {
      await refuses(gateway("alice", [alice, bob]), [bob], allowedHosts("alice"), [alice])
      await refuses(gateway("bob", [alice]), [alice], allowedHosts("bob"))
      for (const version of ["v1beta1", "v1alpha3"]) {
        await refuses(gateway("alice", [`*.${bob}`], version), [`*.${bob}`], allowedHosts("alice"))
      }
    }, 60_000)

    it("refuses `*`, wildcards above the tenant's host, lookalikes, other namespaces' prefixes and service names", async () => {
      for (const hosts of [
        ["*"],
        ["*/*"],
        [`*.${domain}`],
        [domain],
        [`evilalice.${domain}`],
        [`alice.${domain}.evil.com`],
        [`alice-${domain}`],
        [`x.*.${alice}`],
        [`${alice}.`],
        [`${namespaces.bob}/${alice}`],
        [`./${bob}`],
        ["web"],
        [`web.${namespaces.alice}.svc.cluster.local`]
      ]) {
        await refuses(gateway("alice", hosts), hosts, allowedHosts("alice"))
      }
    }, 120_000)

    it("refuses an update that moves a Gateway to another tenant's host", async () => {
      const object = gateway("alice", [alice])
      await kubectl().ok(["create", "-f", "-"], toYaml([object]))
      try {
        const moved = toYaml([gateway("alice", [bob])])
        const result = await kubectl().run(
          ["apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-"],
          moved
        )
        assert.notStrictEqual(result.code, 0, "the update was admitted")
        assert.include(result.stderr, `ValidatingAdmissionPolicy '${policyName}'`)
        // Both servers name the host: the message names it for each.
        assert.include(
          result.stderr,
          `hosts "${bob}", "${bob}" are not for this namespace: ${allowedHosts("alice")}`
        )
      } finally {
        await kubectl().run(["delete", "-f", "-", "--ignore-not-found"], toYaml([object]))
      }
    }, 60_000)
  })

  describe("Istio VirtualService", () => {
    it("admits the tenant's hosts and the namespace's own services, by short or qualified name", async () => {
      const own = namespaces.alice
      await admits(virtualService("alice", [alice, `api.${alice}`, `*.${alice}`]))
      await admits(
        virtualService("alice", ["web", `web.${own}`, `web.${own}.svc`, `web.${own}.svc.cluster.local`])
      )
      await admits(virtualService("alice", [alice], "v1beta1"))
    }, 60_000)

    it("refuses other tenants' hosts, `*`, lookalikes and other namespaces' services", async () => {
      const services = `, and services of namespace ${namespaces.alice}`
      for (const hosts of [
        [bob],
        ["*"],
        [`*.${domain}`],
        [`evilalice.${domain}`],
        [`alice.${domain}.evil.com`],
        [`web.${namespaces.bob}`],
        [`web.${namespaces.bob}.svc.cluster.local`],
        ["kubernetes.default.svc"]
      ]) {
        await refuses(virtualService("alice", hosts), hosts, `${allowedHosts("alice")}${services}`)
      }
      await refuses(virtualService("alice", [bob], "v1alpha3"), [bob], allowedHosts("alice"))
    }, 120_000)
  })

  describe("Gateway API routes", () => {
    it("admit the tenant's hosts and the namespace's services, and a route for a Service without hostnames", async () => {
      await admits(route("HTTPRoute", "alice", [alice, `*.${alice}`]))
      await admits(route("HTTPRoute", "alice", ["web", `web.${namespaces.alice}.svc.cluster.local`]))
      await admits(route("HTTPRoute", "alice", [`*.${alice}`], { version: "v1beta1" }))
      await admits(route("HTTPRoute", "alice", [], { parentRefs: toService }))
      await admits(route("GRPCRoute", "alice", [`grpc.${alice}`]))
    }, 60_000)

    it("refuse other tenants' hosts, wildcards above the tenant's, lookalikes, in any served version", async () => {
      const says = `${allowedHosts("alice")}, and services of namespace ${namespaces.alice}`
      for (const hostnames of [[bob], [`*.${domain}`], [`evilalice.${domain}`], [`web.${namespaces.bob}`]]) {
        await refuses(route("HTTPRoute", "alice", hostnames), hostnames, says)
      }
      await refuses(route("HTTPRoute", "alice", [bob], { version: "v1beta1" }), [bob], says)
      await refuses(route("GRPCRoute", "alice", [alice, `*.${bob}`]), [`*.${bob}`], says, [alice])
      await refuses(route("HTTPRoute", "bob", [alice]), [alice], allowedHosts("bob"))
    }, 60_000)

    it("refuse a route attached to a Gateway without hostnames: it would take every host of the Gateway", async () => {
      await refuses(
        route("HTTPRoute", "alice", []),
        [],
        `a route attached to a Gateway must name its spec.hostnames (without them it takes every host of the Gateway): ${allowedHosts("alice")}`
      )
      await refuses(
        route("HTTPRoute", "alice", [], { parentRefs: [...toService, ...toSharedGateway] }),
        [],
        "must name its spec.hostnames"
      )
    }, 60_000)
  })

  describe("outside tenant namespaces, and without the tenant's host", () => {
    it("leaves a namespace without kleff.io/tenant-username alone", async () => {
      await admits(gateway("plain", ["*"]))
      await admits(virtualService("plain", ["*"]))
      await admits(route("HTTPRoute", "plain", [bob]))
      await admits(route("HTTPRoute", "plain", []))
    }, 60_000)

    it("follows the namespace's kleff.io/tenant-host, and admits no host in a tenant namespace without it", async () => {
      await kubectl().ok(
        ["apply", "-f", "-"],
        toYaml([namespaceObject("alice", "alice.tenants.example.org")])
      )
      await untilRefused(gateway("alice", [alice]), "tenant alice's hosts are alice.tenants.example.org")
      await admits(gateway("alice", ["alice.tenants.example.org"]))

      await kubectl().ok(["annotate", "namespace", namespaces.alice, "kleff.io/tenant-host-"])
      await untilRefused(
        gateway("alice", ["alice.tenants.example.org"]),
        "has no kleff.io/tenant-host annotation"
      )
      await untilRefused(virtualService("alice", ["web"]), "no host is admitted here")
      await admits(gateway("bob", [bob]))
      await admits(gateway("plain", ["*"]))
    }, 120_000)
  })
})
