/**
 * A tenant's public hosts: its own host (`--mesh-host-template` with its username and the apps
 * domain) and every subdomain of it. The tenant controller records the host on the tenant's
 * namespace (`kleff.io/tenant-host`), where the `kleff-tenant-hosts` admission policy reads it;
 * the mesh controller's Gateway serves the hosts. Pure.
 */
import type { Tenant } from "../api/Tenant.ts"
import type { MeshConfig } from "./Config.ts"

/** The namespace annotation holding the tenant's host, for the hosts admission policy. */
export const tenantHostAnnotation = "kleff.io/tenant-host"

/** The tenant's own host: the host template with its username and the apps domain. */
export const tenantHost = (tenant: Tenant, mesh: MeshConfig): string =>
  mesh.hostTemplate.replaceAll("{username}", tenant.spec.username).replaceAll("{domain}", mesh.appsDomain)

/** The hosts a tenant serves: its own host and every subdomain of it. */
export const tenantHosts = (tenant: Tenant, mesh: MeshConfig): ReadonlyArray<string> => {
  const host = tenantHost(tenant, mesh)
  return [host, `*.${host}`]
}
