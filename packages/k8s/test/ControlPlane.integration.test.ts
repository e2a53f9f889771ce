// Proves the local control plane is a real one, through our own Client (no kubectl): the namespace,
// resource-quota, service-account and token controllers run; ResourceQuota and PodSecurity
// admission reject what they should; CRDs are established and served with their schema enforced;
// RBAC authorizes (and impersonation, token authentication and self-review go through it) for real.
// Every test works in namespaces (and a CRD group) of its own, and removes them when done.

import { assert, it } from "@effect/vitest"
import { Kinds, type KubeObject, type ResourceType } from "@kleff/core"
import { Effect, type Scope } from "effect"
import { Client, type ClientService, make as makeClient } from "../src/Client.ts"
import type { KubeError } from "../src/Errors.ts"
import { type Connection, KubeConfig } from "../src/KubeConfig.ts"
import {
  ConfigMaps,
  CustomResourceDefinitions,
  clusterLayer,
  configMap,
  describeCluster,
  eventually,
  gadgetCrd,
  gadgetsOf,
  Namespaces,
  ServiceAccounts,
  tokenConnection,
  uniqueName
} from "./cluster.ts"

const Pods: ResourceType = Kinds.Pod
const Secrets: ResourceType = Kinds.Secret
const ResourceQuotas: ResourceType = Kinds.ResourceQuota
const Roles: ResourceType = Kinds.Role
const RoleBindings: ResourceType = Kinds.RoleBinding

type Env = Client | KubeConfig | Scope.Scope

const run = <A, E>(effect: Effect.Effect<A, E, Env>) =>
  effect.pipe(Effect.provide(clusterLayer({ fieldManager: "kleff-test" })))

/** True once `effect` fails with NotFound; other errors fail the poll. */
const isGone = <A>(effect: Effect.Effect<A, KubeError>): Effect.Effect<boolean, KubeError> =>
  effect.pipe(
    Effect.as(false),
    Effect.catchTag("NotFound", () => Effect.succeed(true))
  )

/** A namespace of its own (optionally labelled), deleted when the test's scope closes. */
const namespace = (prefix: string, labels: Readonly<Record<string, string>> = {}) =>
  Effect.gen(function* () {
    const client = yield* Client
    const name = uniqueName(prefix)
    yield* Effect.acquireRelease(
      client.create(Namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } }),
      () => client.delete(Namespaces, name).pipe(Effect.ignore)
    )
    return name
  })

/** The `default` ServiceAccount the serviceaccount controller creates in every new namespace. */
const defaultServiceAccount = (ns: string) =>
  Effect.gen(function* () {
    const client = yield* Client
    return yield* eventually(
      client.get(ServiceAccounts, "default", ns).pipe(
        Effect.map((sa): KubeObject | undefined => sa),
        Effect.catchTag("NotFound", () => Effect.succeed(undefined))
      ),
      (sa) => sa !== undefined,
      30_000,
      `the default ServiceAccount in ${ns}`
    ).pipe(Effect.map((sa) => sa as KubeObject))
  })

const pod = (
  ns: string,
  name: string,
  container: Readonly<Record<string, unknown>>,
  spec = {}
): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: ns },
  spec: {
    automountServiceAccountToken: false,
    containers: [{ name: "c", image: "registry.k8s.io/pause:3.10", ...container }],
    ...spec
  }
})

/** Satisfies the `restricted` Pod Security Standard. */
const restrictedPod = (ns: string, name: string) =>
  pod(
    ns,
    name,
    {
      securityContext: {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        runAsNonRoot: true,
        runAsUser: 65532
      }
    },
    { securityContext: { seccompProfile: { type: "RuntimeDefault" } } }
  )

/** A client over `connection` (another identity than the admin's), closed with the test's scope. */
const clientFor = (connection: Connection): Effect.Effect<ClientService, never, Scope.Scope> =>
  makeClient(connection, { fieldManager: "kleff-test" })

/** The admin connection with its client certificate, but acting as `user` (Impersonate-User). */
const impersonating = (admin: Connection, user: string): Connection => ({
  ...admin,
  headers: Effect.map(admin.headers, (headers) => ({ ...headers, "Impersonate-User": user })),
  source: `${admin.source} as ${user}`
})

interface UserInfo {
  readonly username?: string
  readonly uid?: string
  readonly groups?: ReadonlyArray<string>
}

/** Who the API server says `client` is (SelfSubjectReview). */
const whoAmI = (client: ClientService) =>
  client
    .request({
      method: "POST",
      path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }
    })
    .pipe(
      Effect.map(
        (response) => (JSON.parse(response.body) as { status?: { userInfo?: UserInfo } }).status?.userInfo
      )
    )

/** Whether the API server's authorizer allows `user` to `verb` `resource` in `ns` (SubjectAccessReview). */
const accessReview = (client: ClientService, user: string, verb: string, resource: string, ns: string) =>
  client
    .request({
      method: "POST",
      path: "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user,
          groups: ["system:authenticated"],
          resourceAttributes: { namespace: ns, verb, resource }
        }
      }
    })
    .pipe(
      Effect.map(
        (response) => JSON.parse(response.body) as { status?: { allowed?: boolean; reason?: string } }
      ),
      Effect.map((review) => ({ allowed: review.status?.allowed === true, reason: review.status?.reason }))
    )

const conditionTrue = (object: KubeObject, type: string): boolean =>
  (
    object.status as { conditions?: ReadonlyArray<{ type: string; status: string }> } | undefined
  )?.conditions?.some((c) => c.type === type && c.status === "True") === true

describeCluster("the local control plane is real", () => {
  it.live(
    "the namespace controller empties a deleted namespace and finalises it",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = uniqueName("cp-ns")
          yield* Effect.addFinalizer(() => client.delete(Namespaces, ns).pipe(Effect.ignore))
          const created = yield* client.create(Namespaces, {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: ns }
          })
          // The API server adds the `kubernetes` finalizer: only the namespace controller removes it.
          assert.deepStrictEqual((created.spec as { finalizers?: Array<string> }).finalizers, ["kubernetes"])
          yield* client.create(ConfigMaps, configMap(ns, "content", { a: "1" }))

          yield* client.delete(Namespaces, ns)
          const terminating = yield* client.get(Namespaces, ns).pipe(Effect.option)
          if (terminating._tag === "Some") {
            assert.isString(terminating.value.metadata.deletionTimestamp)
            assert.strictEqual((terminating.value.status as { phase?: string }).phase, "Terminating")
          }
          // A terminating namespace takes no new content (NamespaceLifecycle admission).
          const refused = yield* Effect.flip(client.create(ConfigMaps, configMap(ns, "late")))
          assert.include(["Forbidden", "NotFound"], refused._tag)

          yield* eventually(
            isGone(client.get(Namespaces, ns)),
            (gone) => gone,
            60_000,
            `namespace ${ns} to go`
          )
          const content = yield* Effect.flip(client.get(ConfigMaps, "content", ns))
          assert.strictEqual(content._tag, "NotFound")
          // Recreating the name gives a fresh, empty namespace: the old content went with the old one.
          yield* client.create(Namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
          const listed = yield* client.list(ConfigMaps, { namespace: ns })
          assert.notInclude(
            listed.items.map((o) => o.metadata.name),
            "content"
          )
        })
      ),
    90_000
  )

  it.live(
    "ResourceQuota admission rejects a pod over the quota once the quota controller has computed it",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = yield* namespace("cp-quota")
          yield* defaultServiceAccount(ns)
          // Without a quota the same pod is admitted (dry run: nothing is stored, nothing runs).
          const admitted = yield* client.create(Pods, pod(ns, "before-quota", {}), { dryRun: true })
          assert.strictEqual(admitted.metadata.name, "before-quota")

          yield* client.create(ResourceQuotas, {
            apiVersion: "v1",
            kind: "ResourceQuota",
            metadata: { name: "no-pods", namespace: ns },
            spec: { hard: { pods: "0" } }
          })
          const computed = yield* eventually(
            client.get(ResourceQuotas, "no-pods", ns),
            (quota) => {
              const status = quota.status as
                | { hard?: Record<string, string>; used?: Record<string, string> }
                | undefined
              return status?.hard?.pods !== undefined && status.used?.pods !== undefined
            },
            30_000,
            "the resource-quota controller to compute the quota's status"
          )
          assert.deepStrictEqual((computed.status as { used?: Record<string, string> }).used, { pods: "0" })

          // Quota admission reads quotas through its own informer, which can trail the status the
          // controller just wrote by a moment: ask until it answers, then check what it said.
          const rejected = yield* eventually(
            Effect.flip(client.create(Pods, pod(ns, "over-quota", {}), { dryRun: true })).pipe(
              Effect.catch(() => Effect.succeed(undefined))
            ),
            (error) => error !== undefined,
            30_000,
            "quota admission to reject the pod"
          ).pipe(Effect.map((error) => error as NonNullable<typeof error>))
          assert.strictEqual(rejected._tag, "Forbidden")
          assert.strictEqual(rejected.code, 403)
          assert.match(rejected.message, /exceeded quota: no-pods/)
          assert.match(rejected.message, /limited: pods=0/)
          assert.isTrue(yield* isGone(client.get(Pods, "over-quota", ns)))
        })
      ),
    60_000
  )

  it.live(
    "PodSecurity admission rejects a privileged pod in a restricted namespace and admits a compliant one",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const ns = yield* namespace("cp-psa", {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest"
          })
          yield* defaultServiceAccount(ns)

          const privileged = pod(ns, "privileged", { securityContext: { privileged: true } })
          const rejected = yield* Effect.flip(client.create(Pods, privileged, { dryRun: true }))
          assert.strictEqual(rejected._tag, "Forbidden")
          assert.match(rejected.message, /violates PodSecurity "restricted:latest"/)
          assert.match(
            rejected.message,
            /privileged \(container "c" must not set securityContext\.privileged=true\)/
          )

          const compliant = yield* client.create(Pods, restrictedPod(ns, "compliant"), { dryRun: true })
          assert.strictEqual(compliant.metadata.name, "compliant")
          assert.strictEqual(compliant.metadata.namespace, ns)
          // A dry run stores nothing.
          assert.isTrue(yield* isGone(client.get(Pods, "compliant", ns)))

          // The same privileged pod is admitted where the namespace does not enforce a level.
          const open = yield* namespace("cp-psa-open")
          yield* defaultServiceAccount(open)
          const admitted = yield* client.create(
            Pods,
            { ...privileged, metadata: { name: "privileged", namespace: open } },
            {
              dryRun: true
            }
          )
          assert.strictEqual(admitted.metadata.namespace, open)
        })
      ),
    60_000
  )

  it.live(
    "a CRD is established and serves its kind, with its schema enforced",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const group = `${uniqueName("cp")}.test.kleff.io`
          const crdName = `gadgets.${group}`
          const Gadgets = gadgetsOf(group)
          const ns = yield* namespace("cp-crd")

          yield* Effect.acquireRelease(
            client.create(
              CustomResourceDefinitions,
              gadgetCrd(group, {
                type: "object",
                properties: {
                  spec: {
                    type: "object",
                    required: ["size"],
                    properties: { size: { type: "integer", minimum: 1 }, colour: { type: "string" } }
                  }
                }
              })
            ),
            () => client.delete(CustomResourceDefinitions, crdName).pipe(Effect.ignore)
          )
          const established = yield* eventually(
            client.get(CustomResourceDefinitions, crdName),
            (crd) => conditionTrue(crd, "Established"),
            30_000,
            `CRD ${crdName} to be established`
          )
          assert.isTrue(conditionTrue(established, "NamesAccepted"))

          const gadget = (name: string, spec: object): KubeObject => ({
            apiVersion: `${group}/v1`,
            kind: "Gadget",
            metadata: { name, namespace: ns },
            spec
          })
          // Established can precede the new group's handler by a moment: retry the first create on NotFound.
          const created = yield* eventually(
            client.create(Gadgets, gadget("one", { size: 3, colour: "blue" })).pipe(
              Effect.map((o): KubeObject | undefined => o),
              Effect.catchTag("NotFound", () => Effect.succeed(undefined))
            ),
            (o) => o !== undefined,
            30_000,
            `the Gadget API of ${group} to be served`
          ).pipe(Effect.map((o) => o as KubeObject))
          assert.strictEqual(created.apiVersion, `${group}/v1`)
          assert.isString(created.metadata.uid)

          const read = yield* client.get(Gadgets, "one", ns)
          assert.strictEqual(read.kind, "Gadget")
          assert.strictEqual(read.metadata.uid, created.metadata.uid)
          assert.deepStrictEqual(read.spec, { size: 3, colour: "blue" })
          const listed = yield* client.list(Gadgets, { namespace: ns })
          assert.deepStrictEqual(
            listed.items.map((o) => o.metadata.name),
            ["one"]
          )

          const invalid = yield* Effect.flip(client.create(Gadgets, gadget("bad", { size: "big" })))
          assert.strictEqual(invalid._tag, "Invalid")
          if (invalid._tag === "Invalid") assert.isTrue(invalid.causes.some((c) => c.field === "spec.size"))
          const missing = yield* Effect.flip(client.create(Gadgets, gadget("empty", {})))
          assert.strictEqual(missing._tag, "Invalid")

          yield* client.delete(Gadgets, "one", { namespace: ns })
          yield* eventually(
            isGone(client.get(Gadgets, "one", ns)),
            (gone) => gone,
            10_000,
            "the gadget to go"
          )
        })
      ),
    60_000
  )

  it.live(
    "RBAC: a user without a binding is forbidden, and allowed once a RoleBinding grants it",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const admin = yield* KubeConfig
          const ns = yield* namespace("cp-rbac")
          const other = yield* namespace("cp-rbac-other")
          const user = uniqueName("someone")
          yield* client.create(ConfigMaps, configMap(ns, "secret-ish", { k: "v" }))

          // The admin (system:masters) is who the tests otherwise are.
          const me = yield* whoAmI(client)
          assert.include(me?.groups ?? [], "system:masters")

          const before = yield* accessReview(client, user, "get", "configmaps", ns)
          assert.isFalse(before.allowed)
          const asUser = yield* clientFor(impersonating(admin, user))
          const who = yield* whoAmI(asUser)
          assert.strictEqual(who?.username, user)
          const denied = yield* Effect.flip(asUser.get(ConfigMaps, "secret-ish", ns))
          assert.strictEqual(denied._tag, "Forbidden")
          assert.match(denied.message, new RegExp(`User "${user}" cannot get resource "configmaps"`))

          yield* client.create(Roles, {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "Role",
            metadata: { name: "configmap-reader", namespace: ns },
            rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }]
          })
          yield* client.create(RoleBindings, {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: { name: "someone-reads", namespace: ns },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "configmap-reader" },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }]
          })
          // The authorizer reads RBAC objects through an informer: allow it a moment to see the binding.
          const after = yield* eventually(
            accessReview(client, user, "get", "configmaps", ns),
            (review) => review.allowed,
            15_000,
            "the RoleBinding to take effect"
          )
          assert.match(after.reason ?? "", /RoleBinding "someone-reads/)
          const read = yield* asUser.get(ConfigMaps, "secret-ish", ns)
          assert.deepStrictEqual(read.data, { k: "v" })
          // Only what the Role grants, only where it is bound: elsewhere, and for writes, still refused.
          assert.isFalse((yield* accessReview(client, user, "get", "configmaps", other)).allowed)
          const otherDenied = yield* Effect.flip(asUser.list(ConfigMaps, { namespace: other }))
          assert.strictEqual(otherDenied._tag, "Forbidden")
          const writeDenied = yield* Effect.flip(asUser.create(ConfigMaps, configMap(ns, "mine")))
          assert.strictEqual(writeDenied._tag, "Forbidden")
        })
      ),
    60_000
  )

  it.live(
    "the serviceaccount and token controllers: a default ServiceAccount whose tokens authenticate",
    () =>
      run(
        Effect.gen(function* () {
          const client = yield* Client
          const admin = yield* KubeConfig
          const ns = yield* namespace("cp-sa")
          const sa = yield* defaultServiceAccount(ns)
          const username = `system:serviceaccount:${ns}:default`

          // TokenRequest: a bound token, minted by the API server for the ServiceAccount.
          const response = yield* client.request({
            method: "POST",
            path: `/api/v1/namespaces/${ns}/serviceaccounts/default/token`,
            body: {
              apiVersion: "authentication.k8s.io/v1",
              kind: "TokenRequest",
              spec: { expirationSeconds: 600 }
            }
          })
          const token = (JSON.parse(response.body) as { status?: { token?: string } }).status?.token
          assert.isString(token)
          const asSa = yield* clientFor(tokenConnection(admin, token ?? ""))
          const who = yield* whoAmI(asSa)
          assert.strictEqual(who?.username, username)
          assert.strictEqual(who?.uid, sa.metadata.uid)
          assert.includeMembers(
            [...(who?.groups ?? [])],
            ["system:serviceaccounts", `system:serviceaccounts:${ns}`]
          )
          // Authenticated, yet authorized for nothing by default.
          const denied = yield* Effect.flip(asSa.list(ConfigMaps, { namespace: ns }))
          assert.strictEqual(denied._tag, "Forbidden")
          assert.include(denied.message, username)

          // A legacy token Secret: the serviceaccount-token controller fills in its token.
          yield* client.create(Secrets, {
            apiVersion: "v1",
            kind: "Secret",
            type: "kubernetes.io/service-account-token",
            metadata: {
              name: "default-token",
              namespace: ns,
              annotations: { "kubernetes.io/service-account.name": "default" }
            }
          })
          const filled = yield* eventually(
            client.get(Secrets, "default-token", ns),
            (secret) => (secret.data as Record<string, string> | undefined)?.token !== undefined,
            30_000,
            "the token controller to fill the Secret"
          )
          const legacy = Buffer.from((filled.data as Record<string, string>).token ?? "", "base64").toString(
            "utf8"
          )
          const asLegacy = yield* clientFor(tokenConnection(admin, legacy))
          assert.strictEqual((yield* whoAmI(asLegacy))?.username, username)

          // A token the server did not issue is refused (401).
          const forged = yield* clientFor(tokenConnection(admin, `${(token ?? "").slice(0, -8)}AAAAAAAA`))
          const unauthenticated = yield* Effect.flip(whoAmI(forged))
          assert.strictEqual(unauthenticated.code, 401)
        })
      ),
    60_000
  )
})
