/**
 * The real upstream CRDs of tools/crds (from their Go modules, cached outside the clone): Istio's
 * and the Gateway API's for the mesh, OPA Gatekeeper's for the Gatekeeper test, installed into a
 * test cluster: server-side applied with the version-matched kubectl under one
 * field manager, then waited for until Established. Test helper; it writes nothing but the
 * bundles' own objects, and never deletes them (other test files may be using them). The files
 * come from `node tools/crds/crds.ts <bundle>` (tools/ is not a package the tests can import at
 * run time).
 *
 * Idempotent, and safe when several test files call it at once: within a process each bundle is
 * installed once per cluster; a bundle whose CRDs are already there from the same files (the hash
 * annotation) and Established is not applied again; across processes a server-side apply of the
 * same content by the same manager converges, and an apply that lost a race (two creates of one
 * CRD) is retried.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import type { KubeObject } from "@kleff/core"
import { parseAllDocuments } from "yaml"
import { Kubectl, runCommand, toYaml } from "./e2e/harness.ts"

/** A bundle of tools/crds/versions.ts (the CLI refuses any other name). */
export type Bundle = "istio" | "gateway-api" | "gatekeeper"

/** The bundles the mesh needs: what installMeshCrds installs unless told otherwise. */
export const meshBundles: ReadonlyArray<Bundle> = ["istio", "gateway-api"]

/** The field manager of the test installs (kubectl's own default would be shared with users). */
export const meshCrdFieldManager = "kleff-test-mesh-crds"

const applyAttempts = 4

const files = new Map<Bundle, Promise<ReadonlyArray<string>>>()

/** The bundle's files (tools/crds `crdFiles`: fetched from the Go module proxy once, then cached). */
export const crdFiles = (bundle: Bundle): Promise<ReadonlyArray<string>> => {
  const existing = files.get(bundle)
  if (existing !== undefined) return existing
  const listed = runCommand(process.execPath, ["tools/crds/crds.ts", bundle]).then((run) => {
    if (run.code !== 0)
      throw new Error(`node tools/crds/crds.ts ${bundle} exited ${run.code}:\n${run.stderr}`)
    return run.stdout.split("\n").filter((line) => line !== "")
  })
  files.set(bundle, listed)
  listed.catch(() => files.delete(bundle))
  return listed
}

/** The objects of a bundle, as its files hold them. */
export const bundleObjects = async (bundle: Bundle): Promise<ReadonlyArray<KubeObject>> =>
  (await crdFiles(bundle)).flatMap((file) =>
    parseAllDocuments(readFileSync(file, "utf8"))
      .map((document) => document.toJS() as KubeObject | null)
      .filter((object): object is KubeObject => object !== null)
  )

/** The names (`<plural>.<group>`) of a bundle's CustomResourceDefinitions. */
export const crdNames = async (bundle: Bundle): Promise<ReadonlyArray<string>> =>
  (await bundleObjects(bundle))
    .filter((object) => object.kind === "CustomResourceDefinition")
    .map((object) => object.metadata.name)

/** The annotation the installs add: a hash of the bundle's files, so a later call can see there is nothing to do. */
export const bundleHashAnnotation = "kleff.io/test-bundle-sha256"

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/**
 * Whether every CRD of the bundle is there from these very files (the hash annotation, and the
 * same versions: a test's stand-in CRD of the same name would have kept the annotation), and
 * Established.
 */
const alreadyInstalled = async (
  kubectl: Kubectl,
  crds: ReadonlyArray<KubeObject>,
  hash: string
): Promise<boolean> => {
  const annotation = bundleHashAnnotation.replaceAll(".", "\\.")
  const run = await kubectl.run([
    "get",
    "customresourcedefinitions",
    ...crds.map((crd) => crd.metadata.name),
    "--ignore-not-found",
    "-o",
    `jsonpath={range .items[*]}{.metadata.name}|{.metadata.annotations.${annotation}}|{.spec.versions[*].name}|{.status.conditions[?(@.type=="Established")].status}{"\\n"}{end}`
  ])
  const current = new Set(run.stdout.split("\n"))
  return (
    run.code === 0 &&
    crds.every((crd) => {
      const versions = (crd.spec as { versions: ReadonlyArray<{ name: string }> }).versions
      return current.has(
        `${crd.metadata.name}|${hash}|${versions.map((version) => version.name).join(" ")}|True`
      )
    })
  )
}

const install = async (kubeconfig: string, bundle: Bundle): Promise<ReadonlyArray<string>> => {
  const kubectl = new Kubectl(kubeconfig)
  const hash = createHash("sha256")
  for (const file of await crdFiles(bundle)) hash.update(readFileSync(file))
  const digest = hash.digest("hex").slice(0, 16)
  const objects = await bundleObjects(bundle)
  const crds = objects.filter((object) => object.kind === "CustomResourceDefinition")
  const names = crds.map((crd) => crd.metadata.name)
  if (await alreadyInstalled(kubectl, crds, digest)) return names
  const manifest = toYaml(
    objects.map((object) => ({
      ...object,
      metadata: {
        ...object.metadata,
        annotations: { ...object.metadata.annotations, [bundleHashAnnotation]: digest }
      }
    }))
  )
  const apply = [
    "apply",
    "--server-side",
    "--force-conflicts",
    `--field-manager=${meshCrdFieldManager}`,
    "-f",
    "-"
  ]
  for (let attempt = 1; ; attempt++) {
    const run = await kubectl.run(apply, manifest)
    if (run.code === 0) break
    if (attempt === applyAttempts) {
      throw new Error(
        `kubectl ${apply.join(" ")} (${bundle}) failed ${attempt} times:\n${run.stderr || run.stdout}`
      )
    }
    await sleep(500 * attempt)
  }
  await kubectl.ok([
    "wait",
    "--for=condition=Established",
    ...names.map((name) => `customresourcedefinition/${name}`),
    "--timeout=120s"
  ])
  return names
}

const installed = new Map<string, Promise<ReadonlyArray<string>>>()

/**
 * Installs the bundles (by default the mesh's two) into the cluster of `kubeconfig` and waits until their
 * CRDs are Established; resolves to the CRD names. Once per bundle and cluster in a process (a
 * failed install is tried again on the next call).
 */
export const installMeshCrds = async (
  kubeconfig: string,
  bundles: ReadonlyArray<Bundle> = meshBundles
): Promise<ReadonlyArray<string>> => {
  const names = await Promise.all(
    bundles.map((bundle) => {
      const key = `${kubeconfig}\0${bundle}`
      const existing = installed.get(key)
      if (existing !== undefined) return existing
      const started = install(kubeconfig, bundle)
      installed.set(key, started)
      started.catch(() => installed.delete(key))
      return started
    })
  )
  return names.flat()
}
