/**
 * The writes the Go floor makes for one Tenant, rendered by the operator's own code: its pure
 * reconciler runs once through core's Simulator (the one reconcile protocol: the finalizer and the
 * children, then the status from a re-plan over the writes' answers), and the actions it executed
 * go through the operator's `Interpreter` into a client that records what it would send instead of
 * sending it (built with `@kleff/k8s`'s own request builders). So each write is the very request
 * the operator sends: a create is a server-side apply carrying `resourceVersion: "1"`, the
 * finalizer a JSON patch testing the UID, the status a server-side apply to `status`, each under
 * the controller's field manager, with the force the client sets. The Event is left out: the floor
 * has none. The Tenant's UID is unknown until it is created, so the Tenant is rendered with
 * `uidPlaceholder` as its UID and writefloor puts the real one in.
 *
 * Pure apart from the clock; it sends nothing.
 */
import { type Action, type KubeObject, type ResourceType, refOf, Simulator } from "@kleff/core"
import { Client, Interpreter } from "@kleff/k8s"
import { Effect, Stream } from "effect"
import type { Plan } from "../src/api/Plan.ts"
import { TenantType } from "../src/api/Tenant.ts"
import { tenantOwnedTypes } from "../src/desired/Children.ts"
import { defaultConfig } from "../src/desired/Config.ts"
import { makeTenantReconciler } from "../src/TenantReconciler.ts"
import { isTenantReady, tenantObject } from "./BenchTenants.ts"

/** Stands for the created Tenant's UID in the writes' bodies. */
export const uidPlaceholder = "kleff-bench-tenant-uid-placeholder"

/** One write, as tools/writefloor takes it. */
export interface FloorWrite {
  readonly group: string
  readonly version: string
  readonly resource: string
  readonly namespace?: string
  readonly name: string
  readonly subresource?: string
  readonly patchType: "apply" | "json" | "merge"
  readonly body: unknown
  readonly fieldManager: string
  readonly force?: boolean
}

/** One tenant of writefloor's input: the Tenant to create, then its writes in order. */
export interface FloorTenant {
  readonly create: {
    readonly group: string
    readonly version: string
    readonly resource: string
    readonly body: unknown
  }
  readonly writes: ReadonlyArray<FloorWrite>
}

const patchTypes: Readonly<Record<string, FloorWrite["patchType"]>> = {
  "application/apply-patch+yaml": "apply",
  "application/json-patch+json": "json",
  "application/merge-patch+json": "merge"
}

/** The query parameters writefloor sends: anything else the client adds would be lost on the way. */
const modelledQuery = new Set(["fieldManager", "force"])

/** `exchange`, a PATCH to `name` of `type`, as writefloor's write; throws on anything it cannot send alike. */
const toWrite = (
  type: ResourceType,
  name: string,
  namespace: string | undefined,
  subresource: string | undefined,
  exchange: Client.Exchange
): FloorWrite => {
  const patchType = patchTypes[exchange.contentType ?? ""]
  const query = Object.entries(exchange.query ?? {}).filter(([, value]) => value !== undefined)
  const unmodelled = query.filter(([key]) => !modelledQuery.has(key))
  const ns = type.namespaced ? namespace : undefined
  const fieldManager = exchange.query?.fieldManager
  if (
    exchange.method !== "PATCH" ||
    patchType === undefined ||
    unmodelled.length > 0 ||
    fieldManager === undefined ||
    exchange.path !== Client.objectPath(type, name, ns, subresource) ||
    exchange.body === undefined
  )
    throw new Error(`the Go floor cannot send this request alike: ${JSON.stringify(exchange)}`)
  return {
    group: type.group,
    version: type.version,
    resource: type.plural,
    ...(ns === undefined ? {} : { namespace: ns }),
    name,
    ...(subresource === undefined ? {} : { subresource }),
    patchType,
    body: JSON.parse(exchange.body),
    fieldManager,
    ...(patchType === "apply" ? { force: exchange.query?.force === "true" } : {})
  }
}

const notRendered = (verb: string) => () =>
  Effect.die(new Error(`rendering the floor's writes does not ${verb}: the interpreter asked for it`))

/**
 * A client that records, as writefloor's writes, the requests `apply` and `addFinalizer` would send
 * (with the client's own request builders) and answers with the object as sent. Anything else the
 * interpreter asks for is a defect: the floor would not do it.
 */
const recordingClient = (fieldManager: string, writes: Array<FloorWrite>): Client.ClientService => ({
  server: "recording",
  fieldManager,
  apply: (type, object, options = {}) =>
    Effect.map(Client.applyRequest(type, object, fieldManager, options), (exchange) => {
      writes.push(
        toWrite(type, object.metadata.name, object.metadata.namespace, options.subresource, exchange)
      )
      return object as never
    }),
  addFinalizer: (type, observed, finalizer, options = {}) => {
    const patch = Client.addFinalizerPatch(observed, finalizer)
    if (patch === undefined) return Effect.succeed(observed as never)
    const { name, namespace } = observed.metadata
    return Effect.map(
      Client.patchRequest("addFinalizer", type, name, patch, fieldManager, { ...options, namespace }),
      (exchange) => {
        writes.push(toWrite(type, name, namespace, undefined, exchange))
        const finalizers = [...(observed.metadata.finalizers ?? []), finalizer]
        return { ...observed, metadata: { ...observed.metadata, finalizers } } as never
      }
    )
  },
  get: notRendered("get"),
  listPage: notRendered("list"),
  list: notRendered("list"),
  watch: () => Stream.die(new Error("rendering the floor's writes does not watch")),
  create: notRendered("create"),
  patch: notRendered("patch"),
  removeFinalizer: notRendered("remove a finalizer"),
  delete: notRendered("delete"),
  request: notRendered("send raw requests")
})

/** Renders each Tenant's writes. */
export const makeRenderer = (plans: ReadonlyArray<Plan>) => {
  const reconciler = makeTenantReconciler(defaultConfig)
  const types = Interpreter.typeRegistry([TenantType, ...tenantOwnedTypes(defaultConfig)])
  const withPlans = Simulator.insertAll(Simulator.emptyCluster, plans)

  /** Tenant `<prefix>-<index>`: its create and its writes. */
  return (prefix: string, index: number): FloorTenant => {
    const created = tenantObject(prefix, index)
    const tenant = { ...created, metadata: { ...created.metadata, uid: uidPlaceholder } }
    const now = new Date().toISOString()
    const cluster = Simulator.insert(withPlans, tenant, now)
    const step = Simulator.reconcileOnce(cluster, refOf(tenant), reconciler, { now })
    const reconciled = step.reconciled
    if (step.failure !== undefined || reconciled?.plan === undefined)
      throw new Error(`the floor's reconcile of ${tenant.metadata.name} failed: ${String(step.failure)}`)
    const status = reconciled.status.at(-1)
    if (
      reconciled.status.length !== 1 ||
      status?._tag !== "ApplyStatus" ||
      !isTenantReady({ ...tenant, status: status.status })
    )
      throw new Error(`the floor's reconcile of ${tenant.metadata.name} ends without a TenantReady status`)
    const executed: ReadonlyArray<Action> = [
      ...reconciled.plan.actions.filter((action) => action._tag !== "ApplyStatus"),
      ...reconciled.status
    ].filter((action) => action._tag !== "Event" && action._tag !== "Requeue")
    const writes: Array<FloorWrite> = []
    Effect.runSync(
      Interpreter.execute(executed, {
        controller: reconciler.name,
        instance: "kleff-operator-bench",
        types,
        primary: Simulator.get(cluster, refOf(tenant)) as KubeObject,
        now,
        writeThrough: () => Effect.void,
        deleteThrough: () => Effect.void
      }).pipe(Effect.provideService(Client.Client, recordingClient(reconciler.name, writes)))
    )
    return {
      create: {
        group: TenantType.group,
        version: TenantType.version,
        resource: TenantType.plural,
        body: created
      },
      writes
    }
  }
}
