/**
 * The kleff-tenant-services admission policy (deploy/cluster/tenant-services-policy.yaml) on the
 * real API server, bound by the operator's own binding (desired/Isolation.ts) to three namespaces
 * of this run, each a tenant on a Plan of its own: one that allows nothing beyond the cluster (the
 * default), one that allows load balancers only, one that allows everything. NodePort and
 * LoadBalancer Services and external IPs are refused where the Plan does not allow them, with a
 * message naming the Plan field; an update is refused only for what it brings in.
 */
import { assert, it } from "@effect/vitest"
import type { KubeObject } from "@kleff/core"
import { describeCluster } from "../../../k8s/test/cluster.ts"
import type { Plan, PlanServices } from "../../src/api/Plan.ts"
import { desiredTenantServicesBinding } from "../../src/desired/Isolation.ts"
import { toYaml, uniqueName } from "../e2e/harness.ts"
import {
  admission,
  assertAdmitted,
  assertRefused,
  committedPolicy,
  adminKubectl as kubectl,
  operatorBinding,
  renamedPolicy,
  tenantNamespace,
  typeCheckWarnings,
  untilRefusedBy,
  usePolicyUnderTest
} from "./policyUnderTest.ts"

const run = uniqueName("services")
const policyName = `kleff-test-${run}`
const tenants = { closed: `${run}-closed`, balanced: `${run}-lb`, open: `${run}-open` } as const
type Place = keyof typeof tenants
const allowed: Readonly<Record<Place, PlanServices | undefined>> = {
  closed: undefined,
  balanced: { loadBalancers: true },
  open: { nodePorts: true, loadBalancers: true, externalIPs: true }
}

const plan = (place: Place, services: PlanServices | undefined = allowed[place]): Plan => ({
  apiVersion: "kleff.kleff.io/v1",
  kind: "Plan",
  metadata: { name: tenants[place] },
  spec: {
    quota: {},
    podSecurity: "baseline",
    istioInjection: false,
    allowedRegistries: [],
    ...(services === undefined ? {} : { services })
  }
})

const places: ReadonlyArray<Place> = ["closed", "balanced", "open"]

/** The Plans, the tenants' namespaces, the shipped policy, then the three bindings (the open one last). */
const policyObjects = (): ReadonlyArray<KubeObject> => [
  ...places.map((place) => plan(place)),
  ...places.map((place) => tenantNamespace(tenants[place])),
  renamedPolicy(committedPolicy("deploy/cluster/tenant-services-policy.yaml").policy, policyName),
  ...places.map((place) =>
    operatorBinding(
      desiredTenantServicesBinding,
      tenants[place],
      plan(place),
      `${policyName}-${place}`,
      policyName
    )
  )
]

const service = (place: Place, name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace: tenants[place] },
  spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }], ...spec }
})
const nodePort = { type: "NodePort" }
const loadBalancer = { type: "LoadBalancer" }
const loadBalancerWithoutNodePorts = { type: "LoadBalancer", allocateLoadBalancerNodePorts: false }
const externalIPs = { externalIPs: ["203.0.113.10", "203.0.113.11"] }

/** The start of every refusal in `place`. */
const refusing = (place: Place, name: string) =>
  `Service ${name} in ${tenants[place]} is refused: plan ${tenants[place]} does not allow`

describeCluster("deploy/cluster: the kleff-tenant-services admission policy", () => {
  usePolicyUnderTest(policyObjects, async (kubectl) => {
    await untilRefusedBy(
      kubectl,
      service("closed", "probe", nodePort),
      policyName,
      refusing("closed", "probe")
    )
    await untilRefusedBy(
      kubectl,
      service("balanced", "probe", nodePort),
      policyName,
      refusing("balanced", "probe")
    )
  })

  it("type-checks against the Plan (its spec.services) and Services without a warning", async () => {
    assert.deepStrictEqual(await typeCheckWarnings(kubectl(), policyName), [])
  })

  it("admits Services that stay inside the cluster, on every plan", async () => {
    const inside = places.flatMap((place) => [
      service(place, "plain", {}),
      service(place, "headless", { clusterIP: "None" }),
      { ...service(place, "external-name", { type: "ExternalName", externalName: "db.example.com" }) }
    ])
    assertAdmitted(await admission(kubectl(), inside), inside)
  }, 60_000)

  it("refuses NodePort, LoadBalancer and external IPs on a plan that leaves spec.services out", async () => {
    const np = service("closed", "np", nodePort)
    const lb = service("closed", "lb", loadBalancer)
    const lbWithout = service("closed", "lb-without", loadBalancerWithoutNodePorts)
    const ips = service("closed", "ips", externalIPs)
    const outcomes = await admission(kubectl(), [np, lb, lbWithout, ips])
    const says = (suffix: string) => (object: KubeObject) =>
      `${refusing("closed", object.metadata.name)} ${suffix}`
    assertRefused(outcomes, [np], policyName, says("node ports (spec.services.nodePorts)"))
    assertRefused(
      outcomes,
      [lb, lbWithout],
      policyName,
      says("LoadBalancer Services (spec.services.loadBalancers)")
    )
    assertRefused(
      outcomes,
      [ips],
      policyName,
      says("external IPs (spec.services.externalIPs): 203.0.113.10, 203.0.113.11")
    )
  }, 60_000)

  it("with loadBalancers only, admits a load balancer without node ports and refuses one that opens them", async () => {
    const without = service("balanced", "lb-without", loadBalancerWithoutNodePorts)
    const withNodePorts = service("balanced", "lb", loadBalancer)
    const np = service("balanced", "np", nodePort)
    const outcomes = await admission(kubectl(), [without, withNodePorts, np])
    assertAdmitted(outcomes, [without])
    assertRefused(
      outcomes,
      [withNodePorts],
      policyName,
      () =>
        `${refusing("balanced", "lb")} node ports (spec.services.nodePorts): set allocateLoadBalancerNodePorts: false on a LoadBalancer Service`
    )
    assertRefused(
      outcomes,
      [np],
      policyName,
      () => `${refusing("balanced", "np")} node ports (spec.services.nodePorts)`
    )
  }, 60_000)

  it("admits everything a plan allows", async () => {
    const open = [
      service("open", "np", nodePort),
      service("open", "lb", loadBalancer),
      service("open", "ips", externalIPs),
      service("open", "lb-ips", { ...loadBalancer, ...externalIPs })
    ]
    assertAdmitted(await admission(kubectl(), open), open)
  }, 60_000)

  it("refuses an update only for what it brings in, after the Plan stops allowing it", async () => {
    const kept = service("open", "kept", { ...nodePort, externalIPs: ["203.0.113.10"] })
    const inside = service("open", "inside", {})
    await kubectl().ok(["create", "-f", "-"], toYaml([kept, inside]))
    await kubectl().ok(["apply", "-f", "-"], toYaml([plan("open", {})]))
    try {
      await untilRefusedBy(
        kubectl(),
        service("open", "probe", nodePort),
        policyName,
        refusing("open", "probe")
      )
      const namespace = ["-n", tenants.open, "--dry-run=server"]
      const label = await kubectl().run(["label", "service", "kept", "touched=yes", ...namespace])
      assert.strictEqual(label.code, 0, label.stderr)
      const more = await kubectl().run([
        "patch",
        "service",
        "kept",
        "--type=merge",
        "-p",
        '{"spec":{"externalIPs":["203.0.113.10","203.0.113.99"]}}',
        ...namespace
      ])
      assert.notStrictEqual(more.code, 0, "a new external IP was admitted in an update")
      assert.include(
        more.stderr,
        `${refusing("open", "kept")} external IPs (spec.services.externalIPs): 203.0.113.99`
      )
      const opened = await kubectl().run([
        "patch",
        "service",
        "inside",
        "--type=merge",
        "-p",
        '{"spec":{"type":"NodePort"}}',
        ...namespace
      ])
      assert.notStrictEqual(opened.code, 0, "turning a Service into a NodePort was admitted")
      assert.include(opened.stderr, `${refusing("open", "inside")} node ports (spec.services.nodePorts)`)
    } finally {
      await kubectl().ok(["apply", "-f", "-"], toYaml([plan("open")]))
    }
  }, 120_000)
})
