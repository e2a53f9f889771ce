// table.go owns the reachability table: for each question, cyclonus's verdict (its matcher built
// from every policy read, simplified as cyclonus's own analysis does) on the source's egress and
// the destination's ingress, and, to explain it, which policies select each side and which of
// them admit the traffic (each policy alone through the same matcher). It must not read the
// cluster; the semantics are cyclonus's, not re-implemented here.
package main

import (
	"fmt"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	networkingv1 "k8s.io/api/networking/v1"
)

// direction is one side's say: the policies of this direction selecting the pod (none: the pod is
// not isolated that way, everything passes), those whose rules admit the traffic, and the verdict.
// A side outside the cluster has no policies: cyclonus lets it send and receive anything.
type direction struct {
	Allowed   bool     `json:"allowed"`
	Policies  []string `json:"policies"`
	AllowedBy []string `json:"allowedBy"`
}

// row is one line of the table: traffic is allowed when the source's egress and the
// destination's ingress both allow it.
type row struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	Port     int       `json:"port"`
	PortName string    `json:"portName,omitempty"`
	Protocol string    `json:"protocol"`
	Allowed  bool      `json:"allowed"`
	Egress   direction `json:"egress"`
	Ingress  direction `json:"ingress"`
}

// judge decides every question against the policies read.
func judge(state clusterState, byName map[string]endpoint, questions []pair) (rows []row, err error) {
	// cyclonus panics on what it cannot model (an ipBlock peer checked against a pod without an
	// IP, a policy without policyTypes): report it as an error, with the question at hand.
	current := "building the matcher"
	defer func() {
		if recovered := recover(); recovered != nil {
			rows, err = nil, fmt.Errorf("cyclonus refused %s: %v", current, recovered)
		}
	}()
	all := matcher.BuildNetworkPolicies(true, state.policies)
	each := make([]*matcher.Policy, len(state.policies))
	for i, policy := range state.policies {
		each[i] = matcher.BuildNetworkPolicies(false, []*networkingv1.NetworkPolicy{policy})
	}
	for _, q := range questions {
		protocol, err := q.protocol()
		if err != nil {
			return nil, err
		}
		current = fmt.Sprintf("%s -> %s on %d/%s", q.From, q.To, q.Port, protocol)
		traffic := &matcher.Traffic{
			Source:           peer(byName[q.From], state),
			Destination:      peer(byName[q.To], state),
			ResolvedPort:     q.Port,
			ResolvedPortName: q.Name,
			Protocol:         protocol,
		}
		verdict := all.IsTrafficAllowed(traffic)
		r := row{
			From:     q.From,
			To:       q.To,
			Port:     q.Port,
			PortName: q.Name,
			Protocol: string(protocol),
			Allowed:  verdict.IsAllowed(),
			Egress:   explain(verdict.Egress, each, state.policies, traffic, false),
			Ingress:  explain(verdict.Ingress, each, state.policies, traffic, true),
		}
		if err := r.consistent(); err != nil {
			return nil, fmt.Errorf("%s: %w", current, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// peer is the endpoint as cyclonus's matcher sees traffic: a pod with its namespace's labels as
// read from the cluster, or an address outside it.
func peer(e endpoint, state clusterState) *matcher.TrafficPeer {
	if e.external() {
		return &matcher.TrafficPeer{IP: e.IP}
	}
	labels := e.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return &matcher.TrafficPeer{
		IP: e.IP,
		Internal: &matcher.InternalPeer{
			Namespace:       e.Namespace,
			NamespaceLabels: state.namespaceLabels[e.Namespace],
			PodLabels:       labels,
		},
	}
}

// explain names the policies behind one direction's verdict.
func explain(
	verdict *matcher.DirectionResult,
	each []*matcher.Policy,
	policies []*networkingv1.NetworkPolicy,
	traffic *matcher.Traffic,
	isIngress bool,
) direction {
	d := direction{Allowed: verdict.IsAllowed(), Policies: []string{}, AllowedBy: []string{}}
	for i, alone := range each {
		result := alone.IsIngressOrEgressAllowed(traffic, isIngress)
		if len(result.AllowingTargets)+len(result.DenyingTargets) == 0 {
			continue
		}
		d.Policies = append(d.Policies, policyName(policies[i]))
		if len(result.AllowingTargets) > 0 {
			d.AllowedBy = append(d.AllowedBy, policyName(policies[i]))
		}
	}
	return d
}

// consistent checks the explanation against the verdict: a direction allows exactly when no
// policy selects the pod or one of those that do admits the traffic. A mismatch would mean the
// simplified matcher and the policies one by one disagree.
func (r row) consistent() error {
	for name, d := range map[string]direction{"egress": r.Egress, "ingress": r.Ingress} {
		if d.Allowed != (len(d.Policies) == 0 || len(d.AllowedBy) > 0) {
			return fmt.Errorf("%s verdict %t disagrees with the policies one by one (%v selecting, %v admitting)",
				name, d.Allowed, d.Policies, d.AllowedBy)
		}
	}
	if r.Allowed != (r.Egress.Allowed && r.Ingress.Allowed) {
		return fmt.Errorf("verdict %t is not egress %t and ingress %t", r.Allowed, r.Egress.Allowed, r.Ingress.Allowed)
	}
	return nil
}
