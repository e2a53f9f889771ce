/**
 * `tenant-operator crds [--write]`: prints the Tenant and Plan CRDs generated from their schemas,
 * or updates the committed copies in `deploy/crds/`. `crdFiles()` is the pure part (what the files
 * should hold); only the command's handler touches the file system or stdout.
 */
import { writeFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import type { KubeObject } from "@kleff/core"
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { stringify } from "yaml"
import { planCrd, tenantCrd } from "../api/crds.ts"
import { group } from "../api/Group.ts"
import { reportFailure } from "./Logging.ts"

/** The command that regenerates the committed CRDs (quoted in the drift test's failure). */
export const regenerateCommand = "node packages/tenant-operator/src/bin.ts crds --write"

/** The repository's `deploy/crds/` directory. */
export const crdDirectory = fileURLToPath(new URL("../../../../deploy/crds/", import.meta.url))

/** A Kubernetes object as YAML: no line folding (CEL rules and patterns stay on one line). */
export const toYaml = (object: unknown): string =>
  stringify(object, { lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false })

export interface CrdFile {
  /** File name inside `deploy/crds/`. */
  readonly name: string
  readonly content: string
}

const header = `# Generated from packages/tenant-operator/src/api by \`${regenerateCommand}\`. Do not edit.\n`

const crdFile = (crd: KubeObject): CrdFile => {
  const spec = crd.spec as { readonly names: { readonly plural: string } }
  return { name: `${group}_${spec.names.plural}.yaml`, content: header + toYaml(crd) }
}

/** What `deploy/crds/` should hold. */
export const crdFiles = (): ReadonlyArray<CrdFile> => [crdFile(tenantCrd()), crdFile(planCrd())]

/** Both CRDs as one multi-document YAML stream. */
export const crdsYaml = (): string =>
  crdFiles()
    .map((file) => file.content)
    .join("---\n")

const writeCrdFiles = Effect.suspend(() =>
  Effect.forEach(
    crdFiles(),
    (file) => {
      const path = `${crdDirectory}${file.name}`
      return Effect.tryPromise({
        try: () => writeFile(path, file.content),
        catch: (error) => new Error(`cannot write ${path}: ${error instanceof Error ? error.message : error}`)
      }).pipe(Effect.andThen(Console.log(`wrote ${path}`)))
    },
    { discard: true }
  )
)

export const crdsCommand = Command.make(
  "crds",
  {
    write: Flag.Boolean("write").pipe(
      Flag.withDescription(`Write them to ${crdDirectory} instead of printing.`),
      Flag.withDefault(false)
    )
  },
  ({ write }) =>
    reportFailure(write ? writeCrdFiles : Effect.sync(() => void process.stdout.write(crdsYaml())))
).pipe(Command.withDescription("Print the Tenant and Plan CustomResourceDefinitions."))
