/**
 * The tenant's place in the Istio mesh, when the operator manages it: strict mTLS for the
 * namespace (`PeerAuthentication` `default`), an `AuthorizationPolicy` that admits only the
 * namespace itself and the platform's ingress gateway, and a NetworkPolicy that lets sidecars
 * reach istiod through the default-deny policy. No per-tenant Gateway: routes attach to the
 * platform's shared gateway. Nothing here when the mesh is disabled. Pure.
 */
import type { KubeObject } from "@kleff/core"
import type { Tenant } from "../api/Tenant.ts"
import type { TenantOperatorConfig } from "./Config.ts"
import { tenantChildLabels } from "./Namespace.ts"
import { ownedByTenant } from "./Ownership.ts"

export const peerAuthenticationName = "default"
export const authorizationPolicyName = "allow-tenant-and-ingress"
export const allowMeshControlPlanePolicyName = "allow-istio-control-plane"

/** istiod's xDS and CA port (the sidecar's only connection to the control plane). */
export const istiodPort = 15012

export const desiredPeerAuthentication = (tenant: Tenant, namespace: string): KubeObject =>
  ownedByTenant(tenant, {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name: peerAuthenticationName, namespace, labels: tenantChildLabels(tenant) },
    spec: { mtls: { mode: "STRICT" } }
  })

export const desiredAuthorizationPolicy = (
  tenant: Tenant,
  namespace: string,
  config: TenantOperatorConfig
): KubeObject =>
  ownedByTenant(tenant, {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: authorizationPolicyName, namespace, labels: tenantChildLabels(tenant) },
    spec: {
      action: "ALLOW",
      rules: [{ from: [{ source: { namespaces: [namespace, config.mesh.ingressNamespace] } }] }]
    }
  })

export const desiredMeshControlPlanePolicy = (
  tenant: Tenant,
  namespace: string,
  config: TenantOperatorConfig
): KubeObject =>
  ownedByTenant(tenant, {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: allowMeshControlPlanePolicyName, namespace, labels: tenantChildLabels(tenant) },
    spec: {
      podSelector: {},
      egress: [
        {
          to: [
            {
              namespaceSelector: {
                matchLabels: { "kubernetes.io/metadata.name": config.mesh.controlPlaneNamespace }
              },
              podSelector: { matchLabels: { app: "istiod" } }
            }
          ],
          ports: [{ protocol: "TCP", port: istiodPort }]
        }
      ],
      policyTypes: ["Egress"]
    }
  })

export const desiredMesh = (
  tenant: Tenant,
  namespace: string,
  config: TenantOperatorConfig
): ReadonlyArray<KubeObject> =>
  config.mesh.enabled
    ? [
        desiredPeerAuthentication(tenant, namespace),
        desiredAuthorizationPolicy(tenant, namespace, config),
        desiredMeshControlPlanePolicy(tenant, namespace, config)
      ]
    : []
