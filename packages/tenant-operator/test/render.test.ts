import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { parseAllDocuments } from "yaml"
import { renderTenant, renderTenantFiles } from "../src/cli/render.ts"
import { makeConfig } from "../src/desired/Config.ts"
import { readRepoFile } from "./fixtures.ts"

const tenantYaml = readRepoFile("deploy/samples/tenant.yaml")
const planFiles = ["free", "basic", "pro"].map((name) => ({
  file: `plan-${name}.yaml`,
  source: readRepoFile(`deploy/samples/plan-${name}.yaml`)
}))

interface Manifest {
  readonly kind: string
  readonly metadata: { readonly name: string; readonly labels: Readonly<Record<string, string>> }
}

const documents = (stream: string) => parseAllDocuments(stream) as ReadonlyArray<{ toJS: () => Manifest }>

const rendered = (result: Result.Result<string, { readonly message: string }>): string => {
  if (Result.isFailure(result)) return assert.fail(result.failure.message)
  return result.success
}

const renderError = (result: Result.Result<string, { readonly message: string }>): string => {
  if (Result.isSuccess(result)) return assert.fail("expected a render error")
  return result.failure.message
}

describe("renderTenant", () => {
  it("prints the sample tenant's children as a YAML stream, namespace first, the owner binding last", () => {
    const stream = rendered(renderTenant(tenantYaml, readRepoFile("deploy/samples/plan-basic.yaml")))
    const objects = documents(stream).map((document) => document.toJS())
    assert.deepStrictEqual(
      objects.map((object) => `${object.kind}/${object.metadata.name}`),
      [
        "Namespace/tenant-example-tenant",
        "NetworkPolicy/default-deny",
        "NetworkPolicy/allow-same-namespace",
        "NetworkPolicy/allow-platform",
        "NetworkPolicy/allow-dns",
        "ValidatingAdmissionPolicyBinding/kleff-trusted-registries-example-tenant",
        "ValidatingAdmissionPolicyBinding/kleff-tenant-services-example-tenant",
        "LimitRange/tenant-limits",
        "ResourceQuota/tenant-quota",
        "RoleBinding/tenant-owner"
      ]
    )
    assert.notInclude(stream, "&a")
    assert.notInclude(stream, "ownerReferences", "a Tenant read from a file has no UID to point at")
  })

  it("picks the tenant's plan from several plan files, and honours the operator's options", () => {
    const stream = rendered(
      renderTenantFiles(
        { file: "tenant.yaml", source: tenantYaml.replace('plan: "basic"', 'plan: "pro"') },
        planFiles,
        makeConfig({ namespaceTemplate: "{username}", mesh: { enabled: true } })
      )
    )
    const objects = documents(stream).map((document) => document.toJS())
    assert.strictEqual(objects[0]?.metadata.name, "exampleuser")
    assert.strictEqual(objects[0]?.metadata.labels["pod-security.kubernetes.io/enforce"], "baseline")
    assert.isTrue(objects.some((object) => object.kind === "PeerAuthentication"))
  })

  it("keeps owner references when the Tenant carries a UID (read back from a cluster)", () => {
    const withUid = tenantYaml.replace("name: example-tenant", "name: example-tenant\n  uid: 0f0e-uid")
    const stream = rendered(renderTenant(withUid, readRepoFile("deploy/samples/plan-basic.yaml")))
    assert.include(stream, "uid: 0f0e-uid")
  })

  it("explains a missing plan, listing the plans it was given", () => {
    const message = renderError(renderTenant(tenantYaml, readRepoFile("deploy/samples/plan-free.yaml")))
    assert.include(message, `Plan "basic" does not exist`)
    assert.include(message, "plans given: free")
  })

  it("explains invalid input files", () => {
    assert.include(renderError(renderTenant("apiVersion: [", "")), "not valid YAML")
    assert.include(
      renderError(renderTenant(readRepoFile("deploy/samples/plan-basic.yaml"), "")),
      "document 1 is Plan, expected a Tenant"
    )
    const bad = renderError(renderTenant(tenantYaml.replace('"exampleuser"', '"Bad_Name"'), ""))
    assert.include(bad, "not a valid Tenant")
    assert.include(bad, `["spec"]["username"]`)
    assert.include(renderError(renderTenant("", "")), "no Tenant")
    assert.include(
      renderError(
        renderTenant(
          tenantYaml,
          "apiVersion: kleff.kleff.io/v1\nkind: Plan\nmetadata: {name: basic}\nspec: {}"
        )
      ),
      "not a valid Plan"
    )
  })

  it("refuses a template that gives an invalid namespace name", () => {
    const message = renderError(
      renderTenantFiles(
        { file: "t", source: tenantYaml },
        planFiles,
        makeConfig({ namespaceTemplate: "{name}_x" })
      )
    )
    assert.include(message, "not a valid namespace name")
  })
})
