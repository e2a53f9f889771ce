/**
 * Tenant isolation, proven on the policies the operator really writes: the operator process
 * (`--enable-istio`) keeps two Tenants — one on a mesh Plan (basic), one not (free) — on the test
 * cluster, and cyclonus's NetworkPolicy matcher (tools/netpol) computes, from the live
 * NetworkPolicies and namespace labels, which traffic a conformant CNI must let through between
 * synthetic pods: both tenants, a platform namespace (`kleff.io/platform: "true"`), kube-system's
 * DNS and another kube-system pod, istiod, an unlabelled namespace and an address outside the
 * cluster. No pod runs (there is no kubelet here); the pods are described to the matcher.
 *
 * istiod's namespace is one of the test's own (`--mesh-control-plane-namespace`), so the shared
 * cluster is left as found; Istio's real CRDs stay installed (installMeshCrds never removes them).
 */
import { assert, beforeAll, it } from "@effect/vitest"
import { describeCluster, kubeconfigPath } from "../../k8s/test/cluster.ts"
import {
  eventually,
  hasCondition,
  tenantObject,
  tenantStatus,
  toYaml,
  uniqueName,
  useSuite
} from "./e2e/harness.ts"
import { installMeshCrds } from "./meshCrds.ts"
import {
  describeRow,
  type Endpoint,
  grid,
  netpolBinary,
  type Port,
  portLabel,
  type Reachability,
  type Row,
  reachability,
  rowOf
} from "./reachability.ts"

const stepTimeout = 240_000

const tcp = (port: number): Port => ({ port, protocol: "TCP" })
const udp = (port: number): Port => ({ port, protocol: "UDP" })
const web = tcp(80)
const dnsUdp = udp(53)
const dnsTcp = tcp(53)
const xds = tcp(15012)
/** Another of istiod's ports (plaintext xDS): not one a sidecar needs. */
const otherIstiodPort = tcp(15010)
const ports: ReadonlyArray<Port> = [web, dnsUdp, dnsTcp, xds, otherIstiodPort]

/** What an endpoint stands for, as Isolation.ts and Mesh.ts speak of it. */
type Role = "tenant" | "platform" | "dns" | "istiod" | "gateway" | "elsewhere"

interface Probe extends Endpoint {
  readonly role: Role
  /** The tenant whose namespace holds it. */
  readonly tenant?: string
}

describeCluster("Tenant isolation, proven with cyclonus's NetworkPolicy matcher on the live policies", () => {
  const meshTenant = uniqueName("iso-mesh")
  const plainTenant = uniqueName("iso-plain")
  const platformNamespace = uniqueName("iso-platform")
  const otherNamespace = uniqueName("iso-other")
  const istioNamespace = uniqueName("iso-istio")
  const ingressNamespace = uniqueName("iso-ingress")
  const suite = useSuite({
    adminKubeconfig: () => kubeconfigPath ?? "",
    operatorArgs: [
      "--enable-istio",
      "--mesh-apps-domain",
      "apps.example.com",
      "--mesh-control-plane-namespace",
      istioNamespace,
      "--mesh-ingress-namespace",
      ingressNamespace
    ]
  })
  const meshNamespace = `tenant-${meshTenant}`
  const plainNamespace = `tenant-${plainTenant}`
  const inMesh = new Set([meshTenant])

  const inTenant = (name: string, tenant: string, labels: Record<string, string>): Probe => ({
    name,
    namespace: `tenant-${tenant}`,
    labels,
    role: "tenant",
    tenant
  })
  const pod = (name: string, namespace: string, labels: Record<string, string>, role: Role): Probe => ({
    name,
    namespace,
    labels,
    role
  })
  const probes: ReadonlyArray<Probe> = [
    inTenant("mesh-web", meshTenant, { app: "web" }),
    inTenant("mesh-db", meshTenant, { app: "db" }),
    inTenant("plain-web", plainTenant, { app: "web" }),
    // A tenant's pod wearing the DNS label: only kube-system's kube-dns is DNS.
    inTenant("plain-fake-dns", plainTenant, { "k8s-app": "kube-dns" }),
    pod("platform", platformNamespace, { app: "ingress" }, "platform"),
    pod("dns", "kube-system", { "k8s-app": "kube-dns" }, "dns"),
    pod("kube-system-other", "kube-system", { "k8s-app": "metrics-server" }, "elsewhere"),
    pod("istiod", istioNamespace, { app: "istiod" }, "istiod"),
    // The mesh ingress gateway (the default --mesh-ingress-selector), and another pod beside it.
    pod("gateway", ingressNamespace, { istio: "ingressgateway" }, "gateway"),
    pod("gateway-other", ingressNamespace, { app: "web" }, "elsewhere"),
    pod("elsewhere", otherNamespace, { app: "web" }, "elsewhere"),
    { name: "outside", ip: "203.0.113.10", role: "elsewhere" }
  ]
  const endpoints: ReadonlyArray<Endpoint> = probes.map(
    ({ role: _role, tenant: _tenant, ...endpoint }) => endpoint
  )
  const probe = (name: string): Probe => {
    const found = probes.find((p) => p.name === name)
    if (found === undefined) throw new Error(`no probe ${name}`)
    return found
  }

  /**
   * What Isolation.ts and Mesh.ts intend for traffic that enters or leaves a tenant (undefined when
   * it does neither: not the operator's to decide). Inside a tenant everything passes; leaving it,
   * only DNS on 53 to kube-system's kube-dns, and a mesh tenant's sidecars to istiod on 15012;
   * entering it, only from a platform namespace, and a mesh tenant's from the ingress gateway's pods.
   */
  const intended = (from: Probe, to: Probe, port: Port): boolean | undefined => {
    if (from.tenant === undefined && to.tenant === undefined) return undefined
    if (from.tenant !== undefined && from.tenant === to.tenant) return true
    const leaves =
      from.tenant === undefined ||
      (to.role === "dns" && port.port === 53) ||
      (to.role === "istiod" && inMesh.has(from.tenant) && portLabel(port) === portLabel(xds))
    const enters =
      to.tenant === undefined ||
      from.role === "platform" ||
      (from.role === "gateway" && inMesh.has(to.tenant))
    return leaves && enters
  }

  /** The rows that differ from the intent, in words. */
  const departures = (table: Reachability): ReadonlyArray<string> =>
    table.table.flatMap((row) => {
      const want = intended(probe(row.from), probe(row.to), {
        port: row.port,
        protocol: row.protocol as Port["protocol"]
      })
      return want === undefined || want === row.allowed
        ? []
        : [`want ${want ? "allowed" : "denied"}: ${describeRow(row)}`]
    })

  let binary = ""
  const table = () => reachability(binary, suite().kubectl.kubeconfig, endpoints, ports)
  const at = rowOf

  beforeAll(async () => {
    const { kubectl } = suite()
    binary = await netpolBinary()
    await installMeshCrds(kubectl.kubeconfig, ["istio"])
    for (const namespace of [platformNamespace, otherNamespace, istioNamespace, ingressNamespace])
      suite().namespaces.add(namespace)
    await kubectl.apply({
      yaml: toYaml([
        {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: platformNamespace, labels: { "kleff.io/platform": "true" } }
        },
        { apiVersion: "v1", kind: "Namespace", metadata: { name: otherNamespace } },
        { apiVersion: "v1", kind: "Namespace", metadata: { name: istioNamespace } },
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ingressNamespace } }
      ])
    })
    suite().tenants.add(meshTenant)
    suite().tenants.add(plainTenant)
    await kubectl.apply({
      yaml: toYaml([
        tenantObject(meshTenant, { plan: "basic", userId: `user-${meshTenant}`, username: meshTenant }),
        tenantObject(plainTenant, { plan: "free", userId: `user-${plainTenant}`, username: plainTenant })
      ])
    })
    for (const [name, mesh] of [
      [meshTenant, "MeshConfigured"],
      [plainTenant, "NotInMesh"]
    ] as const) {
      const ready = await eventually(
        `Tenant ${name} ready (MeshReady ${mesh})`,
        () => kubectl.get("tenant", name),
        (tenant) =>
          hasCondition(tenant, "TenantReady", "True") && hasCondition(tenant, "MeshReady", "True", mesh),
        180_000
      )
      // The probes' namespaces follow the default template.
      assert.strictEqual(tenantStatus(ready).namespace, `tenant-${name}`)
    }
  }, 20 * 60_000)

  it(
    "the matcher reads the operator's policies: four per tenant, and the mesh controller's two for the mesh tenant only",
    async () => {
      const t = await table()
      const base = ["allow-dns", "allow-platform", "allow-same-namespace", "default-deny"]
      assert.deepStrictEqual(t.policies, [
        ...[...base, "allow-ingress-gateway", "allow-istio-control-plane"]
          .sort()
          .map((name) => `${meshNamespace}/${name}`),
        ...base.map((name) => `${plainNamespace}/${name}`)
      ])
      const platform = t.endpoints.find((endpoint) => endpoint.name === "platform")
      assert.strictEqual(platform?.namespaceLabels?.["kleff.io/platform"], "true")
    },
    stepTimeout
  )

  it(
    "every pair entering or leaving a tenant is as the policies intend; nothing else gets through",
    async () => {
      const t = await table()
      assert.strictEqual(t.table.length, probes.length * (probes.length - 1) * ports.length)
      assert.deepStrictEqual(departures(t), [], grid(t, ports))
    },
    stepTimeout
  )

  it(
    "the cases one by one, with the policy that decides each",
    async () => {
      const t = await table()
      const allowedBy = (row: Row) => [...row.egress.allowedBy, ...row.ingress.allowedBy]
      // Cross-tenant: denied both ways, by both sides (neither tenant's egress nor the other's ingress admits it).
      for (const [from, to] of [
        ["mesh-web", "plain-web"],
        ["plain-web", "mesh-web"]
      ] as const) {
        const row = at(t, from, to, web)
        assert.isFalse(row.allowed, describeRow(row))
        assert.isFalse(row.egress.allowed, describeRow(row))
        assert.isFalse(row.ingress.allowed, describeRow(row))
      }
      // The same namespace: allowed, by allow-same-namespace on both sides.
      const same = at(t, "mesh-web", "mesh-db", web)
      assert.isTrue(same.allowed, describeRow(same))
      assert.deepStrictEqual(allowedBy(same), [
        `${meshNamespace}/allow-same-namespace`,
        `${meshNamespace}/allow-same-namespace`
      ])
      // The platform into a tenant: allowed by allow-platform; a tenant into the platform: denied.
      const platformIn = at(t, "platform", "plain-web", web)
      assert.isTrue(platformIn.allowed, describeRow(platformIn))
      assert.deepStrictEqual(platformIn.ingress.allowedBy, [`${plainNamespace}/allow-platform`])
      assert.isFalse(at(t, "plain-web", "platform", web).allowed)
      // DNS: kube-system's kube-dns on 53, UDP and TCP, by allow-dns; not another port, not another kube-system pod, not a tenant's look-alike.
      for (const port of [dnsUdp, dnsTcp]) {
        const row = at(t, "plain-web", "dns", port)
        assert.isTrue(row.allowed, describeRow(row))
        assert.deepStrictEqual(row.egress.allowedBy, [`${plainNamespace}/allow-dns`])
        assert.isFalse(at(t, "plain-web", "kube-system-other", port).allowed)
        assert.isFalse(at(t, "mesh-web", "plain-fake-dns", port).allowed)
      }
      assert.isFalse(at(t, "plain-web", "dns", web).allowed)
      // Outside the cluster: denied both ways.
      assert.isFalse(at(t, "mesh-web", "outside", web).allowed)
      assert.isFalse(at(t, "outside", "mesh-web", web).allowed)
      // istiod: the mesh tenant on 15012 only, by allow-istio-control-plane; the tenant outside the mesh not at all.
      const xdsRow = at(t, "mesh-web", "istiod", xds)
      assert.isTrue(xdsRow.allowed, describeRow(xdsRow))
      assert.deepStrictEqual(xdsRow.egress.allowedBy, [`${meshNamespace}/allow-istio-control-plane`])
      assert.isFalse(at(t, "mesh-web", "istiod", otherIstiodPort).allowed)
      assert.isFalse(at(t, "plain-web", "istiod", xds).allowed)
    },
    stepTimeout
  )

  it(
    "an edited policy changes the table (the assertions can fail), and the operator puts it back",
    async () => {
      const { kubectl } = suite()
      await suite().runningOperator.stop()
      try {
        // allow-dns on 54 instead of 53: DNS is cut off, and nothing else changes.
        await kubectl.ok([
          "patch",
          "networkpolicy",
          "allow-dns",
          "-n",
          plainNamespace,
          "--type=json",
          "-p",
          JSON.stringify([
            {
              op: "replace",
              path: "/spec/egress/0/ports",
              value: [
                { protocol: "UDP", port: 54 },
                { protocol: "TCP", port: 54 }
              ]
            }
          ])
        ])
        const edited = await table()
        assert.deepStrictEqual(departures(edited), [
          `want allowed: ${describeRow(at(edited, "plain-web", "dns", dnsUdp))}`,
          `want allowed: ${describeRow(at(edited, "plain-web", "dns", dnsTcp))}`,
          `want allowed: ${describeRow(at(edited, "plain-fake-dns", "dns", dnsUdp))}`,
          `want allowed: ${describeRow(at(edited, "plain-fake-dns", "dns", dnsTcp))}`
        ])
      } finally {
        await suite().startOperator()
      }
      const repaired = await eventually(
        "the operator to repair allow-dns",
        table,
        (t) => departures(t).length === 0,
        60_000
      )
      assert.isTrue(at(repaired, "plain-web", "dns", dnsUdp).allowed)
    },
    stepTimeout
  )

  it(
    "a tenant's own extra policy cannot open another tenant: both sides must admit the traffic",
    async () => {
      const { kubectl } = suite()
      const policy = (namespace: string, name: string, spec: object) => ({
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name, namespace },
        spec
      })
      const openEgress = policy(meshNamespace, "open-egress", {
        podSelector: {},
        egress: [{}],
        policyTypes: ["Egress"]
      })
      const admitMesh = policy(plainNamespace, "admit-mesh-tenant", {
        podSelector: { matchLabels: { app: "web" } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kleff.io/tenant": meshTenant } } }] }],
        policyTypes: ["Ingress"]
      })
      try {
        await kubectl.apply({ yaml: toYaml([openEgress]) })
        const oneSide = await table()
        // Its own egress opens the outside and unisolated namespaces, but the other tenant's ingress still holds.
        assert.isTrue(at(oneSide, "mesh-web", "outside", web).allowed)
        assert.isFalse(
          at(oneSide, "mesh-web", "plain-web", web).allowed,
          describeRow(at(oneSide, "mesh-web", "plain-web", web))
        )
        assert.isFalse(at(oneSide, "mesh-web", "plain-web", web).ingress.allowed)

        await kubectl.apply({ yaml: toYaml([admitMesh]) })
        const bothSides = await table()
        const opened = at(bothSides, "mesh-web", "plain-web", web)
        assert.isTrue(opened.allowed, describeRow(opened))
        assert.deepStrictEqual(opened.ingress.allowedBy, [`${plainNamespace}/admit-mesh-tenant`])
        assert.isFalse(at(bothSides, "plain-web", "mesh-web", web).allowed, "the way back stays shut")
        assert.isFalse(
          at(bothSides, "mesh-web", "plain-fake-dns", web).allowed,
          "only the selected pods are opened"
        )
      } finally {
        await kubectl.ok([
          "delete",
          "networkpolicy",
          "open-egress",
          "-n",
          meshNamespace,
          "--ignore-not-found"
        ])
        await kubectl.ok([
          "delete",
          "networkpolicy",
          "admit-mesh-tenant",
          "-n",
          plainNamespace,
          "--ignore-not-found"
        ])
      }
      assert.deepStrictEqual(departures(await table()), [])
    },
    stepTimeout
  )
})
