// versions.ts owns which upstream CRDs the project is tested against: each bundle's Go module, its
// version, the checksum go.sum would record for it, and where in the module its files are.
// Constants only: crds.ts fetches and caches them. To move to a new version, change `version` and
// `sum` together (`go mod download -json <module>@<version>` prints the new `Sum`).

/** The bundles of CRDs the tests install: Istio's, the Gateway API's standard channel, OPA Gatekeeper's. */
export type Bundle = "istio" | "gateway-api" | "gatekeeper"

export const bundleNames: ReadonlyArray<Bundle> = ["istio", "gateway-api", "gatekeeper"]

export interface BundleSource {
  /** The Go module that ships the files. */
  readonly module: string
  readonly version: string
  /** The module zip's `h1:` hash (go.sum's): what the proxy serves must match it. */
  readonly sum: string
  /** The directory inside the module holding the files; its files are cached whole. */
  readonly dir: string
  /** Which of dir's files make up the bundle (applied in name order). */
  readonly files: RegExp
}

export const bundles: Readonly<Record<Bundle, BundleSource>> = {
  // Every Istio CRD (networking, security, telemetry, extensions) in one generated file.
  istio: {
    module: "istio.io/api",
    version: "v1.32.0",
    sum: "h1:37mJvg9I0biYZAEQF+MATs4FNeCpXEIVO3LFpVb6iNM=",
    dir: "kubernetes",
    files: /^customresourcedefinitions\.gen\.yaml$/
  },
  // The standard channel as upstream's standard-install.yaml concatenates it
  // (hack/build-install-yaml.sh: config/crd/standard/gateway*.yaml): the CRDs and the
  // `safe-upgrades.gateway.networking.k8s.io` ValidatingAdmissionPolicy with its binding.
  "gateway-api": {
    module: "sigs.k8s.io/gateway-api",
    version: "v1.6.3",
    sum: "h1:lKpJa5bGlraC/QeACvCpsHLdmO6y0iKfzVl6gzaFEYc=",
    dir: "config/crd/standard",
    files: /^gateway.*\.yaml$/
  },
  // Gatekeeper's CRDs as its Helm chart installs them (one file each, the same objects as the
  // release's deploy/gatekeeper.yaml); the same module version tools/gatekeeper builds the
  // manager from (its go.mod: change both together).
  gatekeeper: {
    module: "github.com/open-policy-agent/gatekeeper/v3",
    version: "v3.23.1",
    sum: "h1:njHTm0SJ6ZEhhEgmQTpJKTGQbc99fSs4hGiEp1OIKck=",
    dir: "charts/gatekeeper/crds",
    files: /-customresourcedefinition\.yaml$/
  }
}
