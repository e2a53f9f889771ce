// netpol computes which traffic a cluster's live NetworkPolicies allow, with cyclonus's policy
// matcher (github.com/mattfenwick/cyclonus/pkg/matcher), between synthetic endpoints: pods
// described by a namespace (whose labels are read from the cluster) and pod labels, and
// addresses outside the cluster. No pod needs to run and no CNI needs to enforce anything: it
// answers what a conformant NetworkPolicy implementation must do with the policies as stored.
//
// Hand-written rather than cyclonus's own CLI: `cyclonus analyze` reads pods that exist (there
// are none without a kubelet) and prints tables for people; the tests need JSON verdicts for
// endpoints that are only described.
//
//	netpol [--kubeconfig FILE] [--input FILE|-] [--endpoint SPEC]... [--port SPEC]...
//
//	--endpoint NAME=NAMESPACE[:KEY=VALUE,...][@IP]   a pod (labels and IP optional)
//	--endpoint NAME=@IP                              an address outside the cluster
//	--port PORT[/PROTOCOL[/NAME]]                    a destination port (TCP by default)
//	--input FILE                                     JSON {"endpoints", "ports", "pairs"} (see input.go)
//
// Without explicit pairs every ordered pair of distinct endpoints (not both outside) is decided
// on every port. On success it prints one JSON object on stdout and exits 0: the policies read
// (`namespace/name`), the endpoints as matched (with their namespace's labels), and the table
// (see table.go). On an error it prints it on stderr and exits 1; a usage error exits 2.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
)

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return fmt.Sprint(*l) }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// resolvedEndpoint is an endpoint with what the matcher saw of its namespace.
type resolvedEndpoint struct {
	endpoint
	NamespaceLabels map[string]string `json:"namespaceLabels,omitempty"`
	External        bool              `json:"external"`
}

type report struct {
	Policies  []string           `json:"policies"`
	Endpoints []resolvedEndpoint `json:"endpoints"`
	Table     []row              `json:"table"`
}

var errUsage = errors.New("usage")

func main() {
	err := run(os.Args[1:])
	if errors.Is(err, errUsage) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "netpol: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("netpol", flag.ContinueOnError)
	kubeconfig := flags.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	input := flags.String("input", "", "JSON input file, - for stdin")
	var endpointFlags, portFlags listFlag
	flags.Var(&endpointFlags, "endpoint", "NAME=NAMESPACE[:KEY=VALUE,...][@IP] or NAME=@IP (repeatable)")
	flags.Var(&portFlags, "port", "PORT[/PROTOCOL[/NAME]] (repeatable)")
	if err := flags.Parse(args); err != nil {
		return errUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "netpol: unexpected argument %q\n", flags.Arg(0))
		return errUsage
	}

	var req request
	if *input != "" {
		var err error
		if req, err = readRequest(*input); err != nil {
			return err
		}
	}
	for _, text := range endpointFlags {
		e, err := parseEndpoint(text)
		if err != nil {
			return err
		}
		req.Endpoints = append(req.Endpoints, e)
	}
	for _, text := range portFlags {
		p, err := parsePort(text)
		if err != nil {
			return err
		}
		req.Ports = append(req.Ports, p)
	}
	byName, err := req.validate()
	if err != nil {
		return err
	}

	client, err := connect(*kubeconfig)
	if err != nil {
		return err
	}
	state, err := readCluster(client, req.Endpoints)
	if err != nil {
		return err
	}
	table, err := judge(state, byName, req.questions())
	if err != nil {
		return err
	}

	out := report{Policies: []string{}, Table: table}
	for _, policy := range state.policies {
		out.Policies = append(out.Policies, policyName(policy))
	}
	for _, e := range req.Endpoints {
		out.Endpoints = append(out.Endpoints, resolvedEndpoint{
			endpoint:        e,
			NamespaceLabels: state.namespaceLabels[e.Namespace],
			External:        e.external(),
		})
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	return encoder.Encode(out)
}
