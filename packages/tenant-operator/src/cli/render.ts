/**
 * `tenant-operator render <tenant.yaml> --plan <plans.yaml>…`: the manifests the operator would
 * create for Tenants, offline, as one multi-document YAML stream (for GitOps review or `kubectl
 * apply --dry-run=server`). `renderTenantFiles` is the pure part and runs the very decision the
 * tenant controller runs, against a cluster that holds nothing but the given Plans, and, with
 * `--enable-istio`, the mesh controller's objects for a mesh Plan; the command's handler only
 * reads the files and prints.
 */
import { readFile } from "node:fs/promises"
import type { KubeObject, ObjectRef, Observed } from "@kleff/core"
import { keyOfRef, observedOf } from "@kleff/core"
import { Effect, Predicate, Result, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { parseAllDocuments } from "yaml"
import { decodePlan, type Plan } from "../api/Plan.ts"
import { decodeTenant, type Tenant } from "../api/Tenant.ts"
import { allChildren } from "../desired/Children.ts"
import { defaultConfig, type TenantOperatorConfig } from "../desired/Config.ts"
import { meshObjectsFor } from "../MeshReconciler.ts"
import { decideTenant, planRef } from "../TenantDecision.ts"
import { toYaml } from "./crds.ts"
import { configFrom, tenantConfigFlags } from "./Flags.ts"
import { reportFailure } from "./Logging.ts"

export class RenderError extends Schema.TaggedError<RenderError>()("RenderError", {
  message: Schema.String
}) {}

/** The YAML documents of `source` as plain values; `file` names it in error messages. */
export const parseManifests = (
  source: string,
  file: string
): Result.Result<ReadonlyArray<unknown>, RenderError> => {
  const documents = parseAllDocuments(source)
  if (!Array.isArray(documents)) return Result.succeed([])
  const values: Array<unknown> = []
  for (const [index, document] of documents.entries()) {
    const error = document.errors[0]
    if (error !== undefined) {
      const where = error.linePos === undefined ? "" : ` (line ${error.linePos[0].line})`
      return Result.fail(new RenderError({ message: `${file}: not valid YAML${where}: ${error.message}` }))
    }
    const value: unknown = document.toJS()
    if (value === null || value === undefined) continue
    if (!Predicate.isObject(value)) {
      return Result.fail(
        new RenderError({ message: `${file}: document ${index + 1} is not a Kubernetes object` })
      )
    }
    values.push(value)
  }
  return Result.succeed(values)
}

const kindOf = (value: unknown): string =>
  Predicate.isObject(value) && Predicate.isString(value.kind) ? value.kind : "an object without a kind"

/** Every document of `values` decoded with `decode`, or the first failure, naming the file and document. */
const decodeAll = <A>(
  values: ReadonlyArray<unknown>,
  file: string,
  kind: string,
  decode: (value: unknown) => Result.Result<A, string>
): Result.Result<ReadonlyArray<A>, RenderError> => {
  const decoded: Array<A> = []
  for (const [index, value] of values.entries()) {
    if (kindOf(value) !== kind) {
      return Result.fail(
        new RenderError({ message: `${file}: document ${index + 1} is ${kindOf(value)}, expected a ${kind}` })
      )
    }
    const result = decode(value)
    if (Result.isFailure(result)) {
      return Result.fail(
        new RenderError({
          message: `${file}: document ${index + 1} is not a valid ${kind}:\n${result.failure}`
        })
      )
    }
    decoded.push(result.success)
  }
  return Result.succeed(decoded)
}

/**
 * The time a render is observed at. What the tenant and mesh controllers decide does not depend on
 * the time, so a render is the same whenever it runs (and stays pure).
 */
const renderedAt = new Date(0).toISOString()

/** A cluster that holds only `plans`: what the controller would see for a new Tenant. */
const offlineObserved = (tenant: Tenant, plans: ReadonlyArray<Plan>): Observed<Tenant> => {
  const byKey = new Map<string, KubeObject>(
    plans.map((plan) => [keyOfRef(planRef(plan.metadata.name)), plan])
  )
  return observedOf(
    { primary: tenant, owned: [], get: (ref: ObjectRef) => byKey.get(keyOfRef(ref)) },
    tenant,
    renderedAt
  )
}

/** Without a UID (a Tenant read from a file, not a cluster) there is nothing to point an owner reference at. */
const withoutEmptyOwnerReferences = (object: KubeObject): KubeObject => {
  const owners = object.metadata.ownerReferences?.filter((owner) => owner.uid !== "")
  const { ownerReferences: _dropped, ...metadata } = object.metadata
  return {
    ...object,
    metadata:
      owners === undefined || owners.length === 0 ? metadata : { ...metadata, ownerReferences: owners }
  }
}

/** The children of one Tenant on the given Plans: the namespace first, its isolation and limits before the RoleBinding that lets the tenant in, the mesh's last. */
export const renderTenantObjects = (
  tenant: Tenant,
  plans: ReadonlyArray<Plan>,
  config: TenantOperatorConfig
): Result.Result<ReadonlyArray<KubeObject>, RenderError> => {
  const decision = decideTenant(offlineObserved(tenant, plans), config)
  const name = tenant.metadata.name
  switch (decision._tag) {
    case "Resolved": {
      const mesh = config.mesh.enabled
        ? meshObjectsFor(tenant, decision.plan, decision.namespace, config.mesh)
        : []
      return Result.succeed([...allChildren(decision.children), ...mesh].map(withoutEmptyOwnerReferences))
    }
    case "InvalidNamespaceName":
      return Result.fail(new RenderError({ message: `Tenant ${name}: ${decision.invalid.message}` }))
    case "NamespaceConflict":
      return Result.fail(
        new RenderError({ message: `Tenant ${name}: namespace ${decision.namespace} is taken` })
      )
    case "PlanUnresolved": {
      const known = plans.map((plan) => plan.metadata.name).join(", ") || "none"
      return Result.fail(
        new RenderError({ message: `Tenant ${name}: ${decision.message} (plans given: ${known})` })
      )
    }
  }
}

/** A YAML file's name (for messages) and contents. */
export interface ManifestFile {
  readonly file: string
  readonly source: string
}

/** The manifests for every Tenant in `tenantFile`, on the Plans in `planFiles`, as one YAML stream. */
export const renderTenantFiles = (
  tenantFile: ManifestFile,
  planFiles: ReadonlyArray<ManifestFile>,
  config: TenantOperatorConfig
): Result.Result<string, RenderError> =>
  Result.gen(function* () {
    const tenants = yield* decodeAll(
      yield* parseManifests(tenantFile.source, tenantFile.file),
      tenantFile.file,
      "Tenant",
      decodeTenant
    )
    if (tenants.length === 0)
      return yield* Result.fail(new RenderError({ message: `${tenantFile.file}: no Tenant in it` }))
    const plans: Array<Plan> = []
    for (const planFile of planFiles) {
      plans.push(
        ...(yield* decodeAll(
          yield* parseManifests(planFile.source, planFile.file),
          planFile.file,
          "Plan",
          decodePlan
        ))
      )
    }
    const objects: Array<KubeObject> = []
    for (const tenant of tenants) objects.push(...(yield* renderTenantObjects(tenant, plans, config)))
    return objects.map(toYaml).join("---\n")
  })

/**
 * The manifests for every Tenant in `tenantYaml`, on the Plans in `planYaml`, as a multi-document
 * YAML stream. Owner references are kept only when the Tenant carries a `metadata.uid`.
 */
export const renderTenant = (
  tenantYaml: string,
  planYaml: string,
  config: TenantOperatorConfig = defaultConfig
): Result.Result<string, RenderError> =>
  renderTenantFiles(
    { file: "tenant file", source: tenantYaml },
    [{ file: "plan file", source: planYaml }],
    config
  )

const readManifestFile = (file: string): Effect.Effect<ManifestFile, RenderError> =>
  Effect.tryPromise({
    try: () => readFile(file, "utf8"),
    catch: (error) =>
      new RenderError({
        message: `cannot read ${file}: ${Predicate.isError(error) ? error.message : String(error)}`
      })
  }).pipe(Effect.map((source) => ({ file, source })))

export const renderCommand = Command.make(
  "render",
  {
    tenantFile: Argument.String("tenant.yaml").pipe(
      Argument.withDescription("File with one or more Tenants.")
    ),
    planFiles: Flag.String("plan").pipe(
      Flag.withDescription("File with the Plans the Tenants use (repeatable)."),
      Flag.atLeast(1)
    ),
    ...tenantConfigFlags
  },
  (input) =>
    Effect.gen(function* () {
      const tenant = yield* readManifestFile(input.tenantFile)
      const plans = yield* Effect.forEach(input.planFiles, readManifestFile)
      const rendered = yield* Effect.fromResult(renderTenantFiles(tenant, plans, configFrom(input)))
      yield* Effect.sync(() => process.stdout.write(rendered))
    }).pipe(reportFailure)
).pipe(Command.withDescription("Print the manifests the operator would create for Tenants, offline."))
