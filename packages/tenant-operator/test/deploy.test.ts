import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { parse } from "yaml"
import { decodePlan } from "../src/api/Plan.ts"
import { decodeTenant } from "../src/api/Tenant.ts"
import { tenantOwnerClusterRole } from "../src/desired/Access.ts"
import { tenantServicesPolicyName, trustedRegistriesPolicyName } from "../src/desired/Isolation.ts"
import { readRepoFile } from "./fixtures.ts"

interface Rule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
}

const clusterRole = parse(readRepoFile("deploy/cluster/tenant-owner-clusterrole.yaml")) as {
  readonly metadata: { readonly name: string }
  readonly rules: ReadonlyArray<Rule>
}

const verbsOn = (group: string, resource: string): ReadonlySet<string> =>
  new Set(
    clusterRole.rules
      .filter((rule) => rule.apiGroups.includes(group) && rule.resources.includes(resource))
      .flatMap((rule) => rule.verbs)
  )

const writes = ["create", "update", "patch", "delete", "deletecollection"]

describe("deploy/cluster", () => {
  it("ships the ClusterRole the RoleBinding names", () => {
    assert.strictEqual(clusterRole.metadata.name, tenantOwnerClusterRole)
  })

  it("lets a tenant run web workloads in its namespace", () => {
    for (const [group, resource] of [
      ["", "pods"],
      ["", "services"],
      ["", "configmaps"],
      ["", "secrets"],
      ["", "persistentvolumeclaims"],
      ["apps", "deployments"],
      ["apps", "statefulsets"],
      ["batch", "jobs"],
      ["batch", "cronjobs"],
      ["networking.k8s.io", "ingresses"],
      ["gateway.networking.k8s.io", "httproutes"],
      // Self-service (MTB PL2 BC-OPS-3/4): the tenant's own access and network rules.
      ["", "serviceaccounts"],
      ["rbac.authorization.k8s.io", "roles"],
      ["rbac.authorization.k8s.io", "rolebindings"],
      ["networking.k8s.io", "networkpolicies"]
    ] as const) {
      assert.includeMembers([...verbsOn(group, resource)], writes, `${group}/${resource}`)
    }
    assert.isTrue(verbsOn("", "pods/exec").has("create"))
    assert.isTrue(verbsOn("", "pods/log").has("get"))
    assert.isTrue(verbsOn("", "events").has("list"))
  })

  // The operator's own RoleBinding and NetworkPolicies are writable kinds now: the
  // kleff-managed-objects policy keeps them (test/deploy/managedObjectsPolicy.test.ts).
  it("never lets a tenant loosen its quota and limits, or escalate", () => {
    for (const [group, resource] of [
      ["", "resourcequotas"],
      ["", "limitranges"],
      ["", "namespaces"],
      ["rbac.authorization.k8s.io", "clusterroles"],
      ["rbac.authorization.k8s.io", "clusterrolebindings"],
      ["apps", "daemonsets"]
    ] as const) {
      const verbs = verbsOn(group, resource)
      assert.isFalse(
        writes.some((verb) => verbs.has(verb)),
        `${group}/${resource}: ${[...verbs].join(",")}`
      )
    }
    for (const rule of clusterRole.rules) {
      assert.notInclude(rule.resources, "*")
      assert.notInclude(rule.verbs, "*")
      assert.notInclude(rule.verbs, "escalate")
      assert.notInclude(rule.verbs, "bind")
      assert.notInclude(rule.verbs, "impersonate")
    }
  })

  it("ships the trusted-registries and tenant-services policies the bindings name, parameterised by the Plan kind", () => {
    for (const [file, name] of [
      ["deploy/cluster/trusted-registries-policy.yaml", trustedRegistriesPolicyName],
      ["deploy/cluster/tenant-services-policy.yaml", tenantServicesPolicyName]
    ] as const) {
      const policy = parse(readRepoFile(file))
      assert.strictEqual(policy.metadata.name, name)
      assert.deepStrictEqual(policy.spec.paramKind, { apiVersion: "kleff.kleff.io/v1", kind: "Plan" })
    }
  })

  it("ships the Gatekeeper template for the K8sAllowedRepos constraints", () => {
    const template = parse(readRepoFile("deploy/cluster/gatekeeper/k8sallowedrepos-template.yaml"))
    assert.strictEqual(template.spec.crd.spec.names.kind, "K8sAllowedRepos")
    assert.include(template.spec.targets[0].rego, "input.parameters.repos")
  })
})

describe("deploy/samples", () => {
  it("hold the original Tenant manifest, unchanged", () => {
    assert.strictEqual(
      readRepoFile("deploy/samples/tenant.yaml"),
      'apiVersion: kleff.kleff.io/v1\nkind: Tenant\nmetadata:\n  name: example-tenant\nspec:\n  plan: "basic"\n  userId: "user-12345"\n  username: "exampleuser"\n'
    )
    assert.isTrue(Result.isSuccess(decodeTenant(parse(readRepoFile("deploy/samples/tenant.yaml")))))
  })

  it("hold the free, basic and pro plans, all valid", () => {
    for (const name of ["free", "basic", "pro"]) {
      const plan = decodePlan(parse(readRepoFile(`deploy/samples/plan-${name}.yaml`)))
      assert.isTrue(Result.isSuccess(plan), name)
      assert.strictEqual(Result.getOrUndefined(plan)?.metadata.name, name)
    }
  })
})
