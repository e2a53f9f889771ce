/**
 * Keeps a test cluster's ConfigMap param informer alive for the life of its API server. Test
 * helper, for the test files that create and delete admission policy bindings with ConfigMap
 * params (deploy/components/istio's kleff-tenant-hosts).
 *
 * Why: kube-apiserver (1.36; kubernetes/kubernetes#130887, fix proposed in #141015) stops the
 * informer of a built-in `paramKind` for good, until it restarts, as soon as no
 * ValidatingAdmissionPolicyBinding names that kind for a moment; from then on every binding with
 * ConfigMap params finds none (`no params found for policy binding with \`Deny\`
 * parameterNotFoundAction`), or keeps seeing the values it had. One test file deleting its binding
 * would break every later one on the same cluster. This policy and binding use ConfigMap params,
 * match nothing, and are never deleted, so a binding always names the kind. It cannot revive an
 * informer already stopped: that takes restarting the API server (or a new test cluster).
 */
import type { KubeObject } from "@kleff/core"
import { Kubectl, toYaml } from "./e2e/harness.ts"

export const configMapParamsAnchorName = "kleff-test-configmap-params-anchor"

const anchor: ReadonlyArray<KubeObject> = [
  {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: configMapParamsAnchorName, labels: { "kleff.io/test": "anchor" } },
    spec: {
      failurePolicy: "Ignore",
      paramKind: { apiVersion: "v1", kind: "ConfigMap" },
      // A kind no server serves: the policy never applies to anything.
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: ["anchor.test.kleff.io"],
            apiVersions: ["v1"],
            operations: ["CREATE"],
            resources: ["none"]
          }
        ]
      },
      validations: [{ expression: "true" }]
    }
  },
  {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: configMapParamsAnchorName, labels: { "kleff.io/test": "anchor" } },
    spec: {
      policyName: configMapParamsAnchorName,
      paramRef: { name: configMapParamsAnchorName, namespace: "default", parameterNotFoundAction: "Allow" },
      validationActions: ["Deny"]
    }
  }
]

const anchored = new Map<string, Promise<void>>()

/** Creates the anchor in the cluster of `kubeconfig` unless there (once per process and cluster). */
export const anchorConfigMapParams = (kubeconfig: string): Promise<void> => {
  const existing = anchored.get(kubeconfig)
  if (existing !== undefined) return existing
  const applied = new Kubectl(kubeconfig)
    .ok(["apply", "--server-side", "--field-manager=kleff-test-anchor", "-f", "-"], toYaml(anchor))
    .then(() => undefined)
  anchored.set(kubeconfig, applied)
  applied.catch(() => anchored.delete(kubeconfig))
  return applied
}

/** What a binding with ConfigMap params says once the API server's informer for them is gone. */
export const noParamsFound = "no params found for policy binding with `Deny` parameterNotFoundAction"

/** A hint for a timeout that ended on `noParamsFound` although the ConfigMap is there. */
export const stoppedInformerHint =
  "If the API server keeps saying there are no params although the ConfigMap exists, its ConfigMap " +
  "param informer has stopped (kubernetes/kubernetes#130887: a test deleted the last binding with " +
  "ConfigMap params before anchorConfigMapParams ran); restart the test cluster."
