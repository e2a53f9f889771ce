/**
 * `render <tenant.yaml> --plan <plans.yaml>`: the manifests the operator would create for a
 * Tenant, offline, as one multi-document YAML stream (for GitOps review or `kubectl apply
 * --dry-run=server`). `renderTenant` is the pure part and runs the very decision the controller
 * runs, against a cluster that holds nothing but the given Plans; `main` only reads files and
 * prints. Run: `node packages/tenant-operator/src/cli/render.ts <tenant.yaml> --plan <plans.yaml>`.
 */
import { readFile } from "node:fs/promises"
import type { KubeObject, ObjectRef, Observed } from "@kleff/core"
import { keyOfRef, observedOf } from "@kleff/core"
import { Predicate, Result, Schema } from "effect"
import { parseAllDocuments } from "yaml"
import { decodePlan, type Plan } from "../api/Plan.ts"
import { decodeTenant, type Tenant } from "../api/Tenant.ts"
import { allChildren } from "../desired/Children.ts"
import { defaultConfig, makeConfig, type TenantOperatorConfig } from "../desired/Config.ts"
import { decideTenant, planRef } from "../TenantReconciler.ts"
import { toYaml } from "./crds.ts"

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

/** A cluster that holds only `plans`: what the controller would see for a new Tenant. */
const offlineObserved = (tenant: Tenant, plans: ReadonlyArray<Plan>): Observed<Tenant> => {
  const byKey = new Map<string, KubeObject>(
    plans.map((plan) => [keyOfRef(planRef(plan.metadata.name)), plan])
  )
  return observedOf({ primary: tenant, owned: [], get: (ref: ObjectRef) => byKey.get(keyOfRef(ref)) }, tenant)
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

/** The children of one Tenant on the given Plans, in creation order. */
export const renderTenantObjects = (
  tenant: Tenant,
  plans: ReadonlyArray<Plan>,
  config: TenantOperatorConfig
): Result.Result<ReadonlyArray<KubeObject>, RenderError> => {
  const decision = decideTenant(offlineObserved(tenant, plans), config)
  const name = tenant.metadata.name
  switch (decision._tag) {
    case "Resolved":
      return Result.succeed(allChildren(decision.children).map(withoutEmptyOwnerReferences))
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

const usage =
  "usage: render <tenant.yaml> --plan <plans.yaml> [--plan <more-plans.yaml>…] [--namespace-template <template>] [--user-prefix <prefix>] [--mesh] [--gatekeeper]"

/** Parses argv (no I/O). */
export const parseRenderArguments = (
  argv: ReadonlyArray<string>
): Result.Result<
  {
    readonly tenantFile: string
    readonly planFiles: ReadonlyArray<string>
    readonly config: TenantOperatorConfig
  },
  RenderError
> => {
  const positional: Array<string> = []
  const planFiles: Array<string> = []
  const options = new Map<string, string>()
  const flags = new Set<string>()
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] ?? ""
    if (argument === "--mesh" || argument === "--gatekeeper") flags.add(argument)
    else if (argument === "--plan" || argument === "--namespace-template" || argument === "--user-prefix") {
      const value = argv[index + 1]
      if (value === undefined)
        return Result.fail(new RenderError({ message: `${argument} needs a value\n${usage}` }))
      if (argument === "--plan") planFiles.push(value)
      else options.set(argument, value)
      index++
    } else if (argument.startsWith("--")) {
      return Result.fail(new RenderError({ message: `unknown option ${argument}\n${usage}` }))
    } else positional.push(argument)
  }
  const tenantFile = positional[0]
  if (tenantFile === undefined || planFiles.length === 0 || positional.length > 1) {
    return Result.fail(new RenderError({ message: usage }))
  }
  const namespaceTemplate = options.get("--namespace-template")
  const userPrefix = options.get("--user-prefix")
  return Result.succeed({
    tenantFile,
    planFiles,
    config: makeConfig({
      ...(namespaceTemplate === undefined ? {} : { namespaceTemplate }),
      ...(userPrefix === undefined ? {} : { userPrefix }),
      mesh: { enabled: flags.has("--mesh") },
      gatekeeper: { enabled: flags.has("--gatekeeper") }
    })
  })
}

const readText = async (path: string): Promise<Result.Result<string, RenderError>> => {
  try {
    return Result.succeed(await readFile(path, "utf8"))
  } catch (error) {
    const reason = Predicate.isError(error) ? error.message : String(error)
    return Result.fail(new RenderError({ message: `cannot read ${path}: ${reason}` }))
  }
}

export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const fail = (error: RenderError) => {
    process.stderr.write(`render: ${error.message}\n`)
    return 1
  }
  const parsed = parseRenderArguments(argv)
  if (Result.isFailure(parsed)) return fail(parsed.failure)
  const { tenantFile, planFiles, config } = parsed.success
  const read = async (file: string): Promise<Result.Result<ManifestFile, RenderError>> =>
    Result.map(await readText(file), (source) => ({ file, source }))
  const tenant = await read(tenantFile)
  if (Result.isFailure(tenant)) return fail(tenant.failure)
  const plans: Array<ManifestFile> = []
  for (const planFile of planFiles) {
    const plan = await read(planFile)
    if (Result.isFailure(plan)) return fail(plan.failure)
    plans.push(plan.success)
  }
  const rendered = renderTenantFiles(tenant.success, plans, config)
  if (Result.isFailure(rendered)) return fail(rendered.failure)
  process.stdout.write(rendered.success)
  return 0
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2))
