/**
 * A mesh tenant's place in the Istio mesh, as the mesh controller keeps it in the tenant's
 * namespace:
 * - a `Gateway` on the platform's ingress gateway serving the tenant's hosts (`{username}.{domain}`
 *   and its subdomains by default): HTTPS with the tenant's certificate, HTTP redirected to HTTPS;
 * - strict mTLS for the namespace (`PeerAuthentication` `default`);
 * - an `AuthorizationPolicy` that admits the namespace itself and the ingress gateway's identity;
 * - a `Sidecar` that limits the namespace's egress to itself and the mesh's control plane;
 * - the NetworkPolicies that let sidecars reach istiod, and the ingress gateway reach the
 *   namespace's pods, through the default-deny policy.
 * Pure: object builders only; whether a tenant is in the mesh is `MeshReconciler`'s.
 */
import type { KubeObject } from "@kleff/core"
import type { Tenant } from "../api/Tenant.ts"
import type { MeshConfig } from "./Config.ts"
import { tenantHosts } from "./Hosts.ts"
import { podsInNamespace, tenantNetworkPolicy } from "./Isolation.ts"
import { tenantChildLabels } from "./Namespace.ts"
import { ownedByMesh } from "./Ownership.ts"

export const gatewayName = "tenant-gateway"
export const peerAuthenticationName = "default"
export const authorizationPolicyName = "allow-tenant-and-ingress"
export const sidecarName = "default"
export const allowMeshControlPlanePolicyName = "allow-istio-control-plane"
export const allowIngressGatewayPolicyName = "allow-ingress-gateway"

/** istiod's xDS and CA port (the sidecar's only connection to the control plane). */
export const istiodPort = 15012

/** The TLS Secret of the tenant's hosts, read by the ingress gateway from its own namespace. */
export const tenantCredentialName = (tenant: Tenant, mesh: MeshConfig): string =>
  mesh.credentialTemplate.replaceAll("{username}", tenant.spec.username)

/** The ingress gateway's SPIFFE identity, as an AuthorizationPolicy names a principal. */
export const ingressPrincipal = (mesh: MeshConfig): string =>
  `${mesh.trustDomain}/ns/${mesh.ingressNamespace}/sa/${mesh.ingressServiceAccount}`

const metadata = (tenant: Tenant, name: string, namespace: string) => ({
  name,
  namespace,
  labels: tenantChildLabels(tenant)
})

export const desiredGateway = (tenant: Tenant, namespace: string, mesh: MeshConfig): KubeObject => {
  const hosts = tenantHosts(tenant, mesh)
  return ownedByMesh(tenant, {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: metadata(tenant, gatewayName, namespace),
    spec: {
      selector: mesh.ingressSelector,
      servers: [
        {
          port: { number: 443, name: "https", protocol: "HTTPS" },
          hosts,
          tls: { mode: "SIMPLE", credentialName: tenantCredentialName(tenant, mesh) }
        },
        {
          port: { number: 80, name: "http", protocol: "HTTP" },
          hosts,
          tls: { httpsRedirect: true }
        }
      ]
    }
  })
}

export const desiredPeerAuthentication = (tenant: Tenant, namespace: string): KubeObject =>
  ownedByMesh(tenant, {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: metadata(tenant, peerAuthenticationName, namespace),
    spec: { mtls: { mode: "STRICT" } }
  })

export const desiredAuthorizationPolicy = (tenant: Tenant, namespace: string, mesh: MeshConfig): KubeObject =>
  ownedByMesh(tenant, {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: metadata(tenant, authorizationPolicyName, namespace),
    spec: {
      action: "ALLOW",
      rules: [
        { from: [{ source: { namespaces: [namespace] } }] },
        { from: [{ source: { principals: [ingressPrincipal(mesh)] } }] }
      ]
    }
  })

export const desiredSidecar = (tenant: Tenant, namespace: string, mesh: MeshConfig): KubeObject =>
  ownedByMesh(tenant, {
    apiVersion: "networking.istio.io/v1",
    kind: "Sidecar",
    metadata: metadata(tenant, sidecarName, namespace),
    spec: { egress: [{ hosts: ["./*", `${mesh.controlPlaneNamespace}/*`] }] }
  })

export const desiredMeshControlPlanePolicy = (
  tenant: Tenant,
  namespace: string,
  mesh: MeshConfig
): KubeObject =>
  ownedByMesh(
    tenant,
    tenantNetworkPolicy(tenant, namespace, allowMeshControlPlanePolicyName, {
      podSelector: {},
      egress: [
        {
          to: [podsInNamespace(mesh.controlPlaneNamespace, { app: "istiod" })],
          ports: [{ protocol: "TCP", port: istiodPort }]
        }
      ],
      policyTypes: ["Egress"]
    })
  )

/** The ingress gateway's pods (by `--mesh-ingress-selector`, in `--mesh-ingress-namespace`) may reach every pod of the namespace. */
export const desiredIngressGatewayPolicy = (
  tenant: Tenant,
  namespace: string,
  mesh: MeshConfig
): KubeObject =>
  ownedByMesh(
    tenant,
    tenantNetworkPolicy(tenant, namespace, allowIngressGatewayPolicyName, {
      podSelector: {},
      ingress: [{ from: [podsInNamespace(mesh.ingressNamespace, mesh.ingressSelector)] }],
      policyTypes: ["Ingress"]
    })
  )

/** Everything a mesh tenant has in `namespace`, in the order it is created. */
export const desiredMesh = (
  tenant: Tenant,
  namespace: string,
  mesh: MeshConfig
): ReadonlyArray<KubeObject> => [
  desiredMeshControlPlanePolicy(tenant, namespace, mesh),
  desiredIngressGatewayPolicy(tenant, namespace, mesh),
  desiredPeerAuthentication(tenant, namespace),
  desiredAuthorizationPolicy(tenant, namespace, mesh),
  desiredSidecar(tenant, namespace, mesh),
  desiredGateway(tenant, namespace, mesh)
]
