/**
 * `crds`: prints the Tenant and Plan CRDs generated from their schemas, or with `--write` updates
 * the committed copies in `deploy/crds/`. `crdFiles()` is the pure part (what the files should
 * hold); only `main` touches the file system. Run: `node packages/tenant-operator/src/cli/crds.ts [--write]`.
 */
import { writeFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import type { KubeObject } from "@kleff/core"
import { stringify } from "yaml"
import { planCrd, tenantCrd } from "../api/crds.ts"
import { group } from "../api/Group.ts"

/** The command that regenerates the committed CRDs (quoted in the drift test's failure). */
export const regenerateCommand = "node packages/tenant-operator/src/cli/crds.ts --write"

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

export const main = async (argv: ReadonlyArray<string>): Promise<void> => {
  if (argv.includes("--write")) {
    for (const file of crdFiles()) {
      const path = `${crdDirectory}${file.name}`
      await writeFile(path, file.content)
      process.stdout.write(`wrote ${path}\n`)
    }
  } else {
    process.stdout.write(crdsYaml())
  }
}

if (import.meta.main) await main(process.argv.slice(2))
