// components.ts owns what the local control plane runs: the three components
// in start order, their ports, and the exact flags each one is started with.
import { join } from "node:path"
import type { StateLayout } from "./paths.ts"
import { LOOPBACK } from "./ports.ts"

export const COMPONENTS = ["etcd", "kube-apiserver", "kube-controller-manager"] as const
export type ComponentName = (typeof COMPONENTS)[number]

export const PORT_NAMES = ["etcdClient", "etcdPeer", "apiserver", "controllerManager"] as const
export type PortName = (typeof PORT_NAMES)[number]
export type Ports = Record<PortName, number>

export const CLUSTER_NAME = "kleff"
export const SERVICE_CIDR = "10.96.0.0/16"
/** First address of SERVICE_CIDR: the ClusterIP of the default/kubernetes Service. */
export const KUBERNETES_SERVICE_IP = "10.96.0.1"
export const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"

/** Controllers of kube-controller-manager that a control plane without nodes needs (1.36 names). */
export const CONTROLLERS = [
  "namespace-controller", // deletes namespace contents, then the namespace
  "garbage-collector-controller", // ownerReferences cascading deletion
  "resourcequota-controller", // ResourceQuota status.used
  "serviceaccount-controller", // "default" ServiceAccount in every namespace
  "serviceaccount-token-controller", // tokens for kubernetes.io/service-account-token Secrets
  "clusterrole-aggregation-controller", // fills the aggregated admin/edit/view ClusterRoles
  "root-ca-certificate-publisher-controller", // kube-root-ca.crt ConfigMap in every namespace
  "validatingadmissionpolicy-status-controller" // type-checking status of ValidatingAdmissionPolicies
] as const

export const ADMISSION_PLUGINS = [
  "NamespaceLifecycle",
  "LimitRanger",
  "ServiceAccount",
  "NodeRestriction",
  "PodSecurity",
  "MutatingAdmissionWebhook",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionWebhook",
  "ResourceQuota"
] as const

export function apiserverURL(ports: Ports): string {
  return `https://${LOOPBACK}:${ports.apiserver}`
}

/**
 * etcd flags. Only flags that upstream etcd has, with the same meaning, so the
 * same list serves kleff-control-plane etcd and an envtest etcd binary.
 */
export function etcdArgs(layout: StateLayout, ports: Ports): string[] {
  const client = `http://${LOOPBACK}:${ports.etcdClient}`
  const peer = `http://${LOOPBACK}:${ports.etcdPeer}`
  return [
    `--name=${CLUSTER_NAME}`,
    `--data-dir=${layout.etcdDataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${CLUSTER_NAME}=${peer}`,
    "--log-level=warn",
    `--quota-backend-bytes=${2 * 1024 ** 3}`,
    "--auto-compaction-mode=periodic",
    "--auto-compaction-retention=5m",
    // A throwaway cluster: skipping fsync makes API writes much faster.
    "--unsafe-no-fsync=true"
  ]
}

export function kubeApiserverArgs(layout: StateLayout, ports: Ports): string[] {
  const pki = (file: string): string => join(layout.pkiDir, file)
  return [
    `--etcd-servers=http://${LOOPBACK}:${ports.etcdClient}`,
    `--bind-address=${LOOPBACK}`,
    `--advertise-address=${LOOPBACK}`,
    `--secure-port=${ports.apiserver}`,
    `--cert-dir=${layout.pkiDir}`,
    `--tls-cert-file=${pki("apiserver.crt")}`,
    `--tls-private-key-file=${pki("apiserver.key")}`,
    `--client-ca-file=${pki("ca.crt")}`,
    "--authorization-mode=Node,RBAC",
    `--enable-admission-plugins=${ADMISSION_PLUGINS.join(",")}`,
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${pki("service-account.pub")}`,
    `--service-account-signing-key-file=${pki("service-account.key")}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    "--allow-privileged=true",
    // No nodes and a loopback advertise address: nothing to reconcile into
    // the default/kubernetes Endpoints (loopback addresses are invalid there).
    "--endpoint-reconciler-type=none",
    // Off unless asked for: /debug/pprof serves anyone the API server authorises for it.
    `--profiling=${process.env.KLEFF_CLUSTER_PROFILING === "1"}`
  ]
}

export function kubeControllerManagerArgs(layout: StateLayout, ports: Ports): string[] {
  const pki = (file: string): string => join(layout.pkiDir, file)
  const kubeconfig = pki("controller-manager.kubeconfig")
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    `--bind-address=${LOOPBACK}`,
    `--secure-port=${ports.controllerManager}`,
    `--tls-cert-file=${pki("controller-manager-serving.crt")}`,
    `--tls-private-key-file=${pki("controller-manager-serving.key")}`,
    `--client-ca-file=${pki("ca.crt")}`,
    // Trust --client-ca-file only; do not look up the front-proxy (request
    // header) CA in kube-system/extension-apiserver-authentication, which this
    // API server does not configure (the lookup would log errors forever).
    "--authentication-skip-lookup=true",
    `--controllers=${CONTROLLERS.join(",")}`,
    // Each controller acts as its own kube-system ServiceAccount, so RBAC is
    // exercised as in a real cluster.
    "--use-service-account-credentials=true",
    `--root-ca-file=${pki("ca.crt")}`,
    `--service-account-private-key-file=${pki("service-account.key")}`,
    `--cluster-name=${CLUSTER_NAME}`,
    "--leader-elect=false",
    "--profiling=false"
  ]
}
