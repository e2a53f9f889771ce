/**
 * The deploy/ kustomizations as kubectl builds them (`kubectl kustomize`, the kustomize built into
 * kubectl), and the operator's RBAC read from them. Test helpers: no cluster needed, only kubectl.
 */
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import type { KubeObject } from "@kleff/core"
import { parseAllDocuments } from "yaml"
import { repoPath } from "../fixtures.ts"

/** A version-matched kubectl when the control-plane build provides one, else the one on PATH. */
export const kubectlCommand: string = process.env.KLEFF_KUBECTL ?? "kubectl"

/** The operator's namespace and identity, as deploy/ installs them. */
export const operatorNamespace = "kleff-system"
export const serviceAccountName = "tenant-operator"
export const serviceAccountUser = `system:serviceaccount:${operatorNamespace}:${serviceAccountName}`

export interface PolicyRule {
  readonly apiGroups?: ReadonlyArray<string>
  readonly resources?: ReadonlyArray<string>
  readonly resourceNames?: ReadonlyArray<string>
  readonly nonResourceURLs?: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<string>
}

export interface RoleObject extends KubeObject {
  readonly rules?: ReadonlyArray<PolicyRule>
}

export interface BindingObject extends KubeObject {
  readonly roleRef: { readonly kind: string; readonly name: string }
  readonly subjects?: ReadonlyArray<{
    readonly kind: string
    readonly name: string
    readonly namespace?: string
  }>
}

export const parseObjects = (source: string): ReadonlyArray<KubeObject> =>
  parseAllDocuments(source)
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null)

/** `kubectl kustomize <dir>` (a path from the repository root), parsed. */
export const kustomize = (dir: string): ReadonlyArray<KubeObject> => {
  const run = spawnSync(kubectlCommand, ["kustomize", repoPath(dir)], { encoding: "utf8", timeout: 60_000 })
  if (run.error !== undefined) throw run.error
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${run.stderr}`)
  return parseObjects(run.stdout)
}

/**
 * An overlay of deploy/ with `components` (paths under deploy/) enabled, as a user writes one:
 * its directory, and a function that removes it.
 */
export const overlayWith = (
  components: ReadonlyArray<string>
): { readonly path: string; readonly remove: () => void } => {
  const path = mkdtempSync(join(tmpdir(), "kleff-overlay-"))
  const deploy = relative(path, repoPath("deploy"))
  writeFileSync(
    join(path, "kustomization.yaml"),
    [
      "apiVersion: kustomize.config.k8s.io/v1beta1",
      "kind: Kustomization",
      "resources:",
      `  - ${deploy}`,
      "components:",
      ...components.map((component) => `  - ${deploy}/${component}`),
      ""
    ].join("\n")
  )
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** The default kustomization with `components` (paths under deploy/) enabled, built. */
export const kustomizeWithComponents = (components: ReadonlyArray<string>): ReadonlyArray<KubeObject> => {
  const overlay = overlayWith(components)
  try {
    const run = spawnSync(kubectlCommand, ["kustomize", overlay.path], { encoding: "utf8", timeout: 60_000 })
    if (run.error !== undefined) throw run.error
    if (run.status !== 0)
      throw new Error(`kubectl kustomize (with ${components.join(", ")}) failed:\n${run.stderr}`)
    return parseObjects(run.stdout)
  } finally {
    overlay.remove()
  }
}

/** `Kind/name` or `Kind/namespace/name`. */
export const idOf = (object: KubeObject): string =>
  object.metadata.namespace === undefined
    ? `${object.kind}/${object.metadata.name}`
    : `${object.kind}/${object.metadata.namespace}/${object.metadata.name}`

export const find = <A extends KubeObject = KubeObject>(
  objects: ReadonlyArray<KubeObject>,
  kind: string,
  name: string
): A => {
  const object = objects.find((candidate) => candidate.kind === kind && candidate.metadata.name === name)
  if (object === undefined) throw new Error(`no ${kind} ${name} in ${objects.map(idOf).join(", ")}`)
  return object as A
}

/** The bindings whose subjects include the operator's ServiceAccount. */
export const bindingsOfOperator = (objects: ReadonlyArray<KubeObject>): ReadonlyArray<BindingObject> =>
  objects
    .filter((object) => object.kind === "RoleBinding" || object.kind === "ClusterRoleBinding")
    .map((object) => object as BindingObject)
    .filter((binding) =>
      (binding.subjects ?? []).some(
        (subject) =>
          subject.kind === "ServiceAccount" &&
          subject.name === serviceAccountName &&
          subject.namespace === operatorNamespace
      )
    )

/** The Roles and ClusterRoles bound to the operator's ServiceAccount, by `idOf`. */
export const rolesOfOperator = (objects: ReadonlyArray<KubeObject>): ReadonlyMap<string, RoleObject> => {
  const roles = new Map<string, RoleObject>()
  for (const binding of bindingsOfOperator(objects)) {
    const namespace = binding.kind === "RoleBinding" ? binding.metadata.namespace : undefined
    const role = objects.find(
      (object) =>
        object.kind === binding.roleRef.kind &&
        object.metadata.name === binding.roleRef.name &&
        object.metadata.namespace === (binding.roleRef.kind === "Role" ? namespace : undefined)
    )
    if (role === undefined)
      throw new Error(
        `${idOf(binding)} names ${binding.roleRef.kind} ${binding.roleRef.name}, not in deploy/`
      )
    roles.set(idOf(role), role as RoleObject)
  }
  return roles
}

/**
 * One permission: `verb group/resource[/subresource][:name]`, so rule sets compare as sets no
 * matter how the rules are grouped.
 */
export const permissionsOf = (rules: ReadonlyArray<PolicyRule>): ReadonlyArray<string> => {
  const permissions = new Set<string>()
  for (const rule of rules) {
    for (const group of rule.apiGroups ?? [])
      for (const resource of rule.resources ?? [])
        for (const verb of rule.verbs)
          for (const name of rule.resourceNames ?? [undefined])
            permissions.add(
              `${verb} ${group === "" ? "core" : group}/${resource}${name === undefined ? "" : `:${name}`}`
            )
    for (const url of rule.nonResourceURLs ?? [])
      for (const verb of rule.verbs) permissions.add(`${verb} ${url}`)
  }
  return [...permissions].sort()
}

/** The value of `--flag` in `args`, whether written `--flag=value` or `--flag value`. */
export const flagValue = (args: ReadonlyArray<string>, flag: string): string | undefined => {
  for (const [index, arg] of args.entries()) {
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1)
    if (arg === flag) return args[index + 1]
  }
  return undefined
}
