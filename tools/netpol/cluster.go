// cluster.go owns what netpol reads from the cluster, through cyclonus's kube client (client-go
// underneath): the labels of the endpoints' namespaces and the NetworkPolicies in them, as the
// API server stores them. Only policies in an endpoint's namespace can select that endpoint, so
// no other namespace is read. It must not write anything, nor decide about traffic.
package main

import (
	"fmt"
	"sort"
	"time"

	"github.com/mattfenwick/cyclonus/pkg/kube"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// clusterState is what was read: each endpoint namespace's labels, and their policies.
type clusterState struct {
	namespaceLabels map[string]map[string]string
	policies        []*networkingv1.NetworkPolicy
}

// connect builds cyclonus's client from a kubeconfig file (the default loading rules, i.e.
// $KUBECONFIG or ~/.kube/config, when path is empty).
func connect(path string) (*kube.Kubernetes, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).
		ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	config.Timeout = 30 * time.Second
	config.UserAgent = "kleff-netpol"
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	return &kube.Kubernetes{ClientSet: clientset, RestConfig: config}, nil
}

// readCluster reads the namespaces the endpoints name (each must exist) and their policies.
func readCluster(client *kube.Kubernetes, endpoints []endpoint) (clusterState, error) {
	state := clusterState{namespaceLabels: map[string]map[string]string{}}
	var namespaces []string
	for _, e := range endpoints {
		if e.external() {
			continue
		}
		if _, done := state.namespaceLabels[e.Namespace]; done {
			continue
		}
		namespace, err := client.GetNamespace(e.Namespace)
		if apierrors.IsNotFound(err) {
			return state, fmt.Errorf("endpoint %q: namespace %q does not exist (its labels decide what selects it)",
				e.Name, e.Namespace)
		}
		if err != nil {
			return state, err
		}
		state.namespaceLabels[e.Namespace] = namespace.Labels
		namespaces = append(namespaces, e.Namespace)
	}
	sort.Strings(namespaces)
	policies, err := kube.ReadNetworkPoliciesFromKube(client, namespaces)
	if err != nil {
		return state, err
	}
	sort.Slice(policies, func(i, j int) bool { return policyName(policies[i]) < policyName(policies[j]) })
	state.policies = policies
	return state, nil
}

// policyName is `namespace/name`.
func policyName(policy *networkingv1.NetworkPolicy) string {
	return policy.Namespace + "/" + policy.Name
}
