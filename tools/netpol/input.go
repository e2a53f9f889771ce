// input.go owns what netpol is asked: the synthetic endpoints (a namespace and pod labels, or an
// IP outside the cluster), the ports, and the pairs to decide, from a JSON document and from the
// command line, checked before the cluster is read. It must not read the cluster nor decide
// anything about traffic.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/mattfenwick/cyclonus/pkg/kube"
	v1 "k8s.io/api/core/v1"
)

// endpoint is a pod that need not exist: a namespace (which must exist: its labels are read from
// the cluster) and pod labels; or, without a namespace, an address outside the cluster.
type endpoint struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// IP is required outside the cluster; inside, only policies with ipBlock peers look at it.
	IP string `json:"ip,omitempty"`
}

func (e endpoint) external() bool { return e.Namespace == "" }

// port is a destination port: a number, a protocol (TCP when empty) and, for policies that name
// ports, the name the destination's container gives it.
type port struct {
	Port     int    `json:"port"`
	Protocol string `json:"protocol,omitempty"`
	Name     string `json:"name,omitempty"`
}

// pair is one question: may From open a connection to To on Port?
type pair struct {
	From string `json:"from"`
	To   string `json:"to"`
	port
}

// request is the JSON input. Without pairs, every ordered pair of distinct endpoints (not both
// outside the cluster) is decided on every port.
type request struct {
	Endpoints []endpoint `json:"endpoints"`
	Ports     []port     `json:"ports,omitempty"`
	Pairs     []pair     `json:"pairs,omitempty"`
}

// readRequest parses the JSON input from path ("-" for stdin).
func readRequest(path string) (request, error) {
	var in io.Reader = os.Stdin
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return request{}, err
		}
		defer file.Close()
		in = file
	}
	var req request
	decoder := json.NewDecoder(in)
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&req); err != nil {
		return request{}, fmt.Errorf("input %s: %w", path, err)
	}
	return req, nil
}

// parseEndpoint reads NAME=NAMESPACE[:KEY=VALUE,...][@IP] (a pod) or NAME=@IP (outside).
func parseEndpoint(text string) (endpoint, error) {
	name, rest, ok := strings.Cut(text, "=")
	if !ok || name == "" {
		return endpoint{}, fmt.Errorf("--endpoint %q: want NAME=NAMESPACE[:KEY=VALUE,...][@IP] or NAME=@IP", text)
	}
	e := endpoint{Name: name}
	rest, e.IP, _ = strings.Cut(rest, "@")
	namespace, labels, hasLabels := strings.Cut(rest, ":")
	e.Namespace = namespace
	if hasLabels && labels != "" {
		e.Labels = map[string]string{}
		for _, label := range strings.Split(labels, ",") {
			key, value, ok := strings.Cut(label, "=")
			if !ok || key == "" {
				return endpoint{}, fmt.Errorf("--endpoint %q: label %q is not KEY=VALUE", text, label)
			}
			e.Labels[key] = value
		}
	}
	return e, nil
}

// parsePort reads PORT[/PROTOCOL[/NAME]].
func parsePort(text string) (port, error) {
	fields := strings.Split(text, "/")
	number, err := strconv.Atoi(fields[0])
	if err != nil || len(fields) > 3 {
		return port{}, fmt.Errorf("--port %q: want PORT[/PROTOCOL[/NAME]]", text)
	}
	p := port{Port: number}
	if len(fields) > 1 {
		p.Protocol = fields[1]
	}
	if len(fields) > 2 {
		p.Name = fields[2]
	}
	return p, nil
}

// protocol is the port's protocol as Kubernetes spells it (TCP by default).
func (p port) protocol() (v1.Protocol, error) {
	if p.Protocol == "" {
		return v1.ProtocolTCP, nil
	}
	return kube.ParseProtocol(p.Protocol)
}

// validate checks the request on its own and returns the endpoints by name.
func (r request) validate() (map[string]endpoint, error) {
	if len(r.Endpoints) == 0 {
		return nil, fmt.Errorf("no endpoints: give --endpoint or an input with \"endpoints\"")
	}
	byName := map[string]endpoint{}
	for _, e := range r.Endpoints {
		if e.Name == "" {
			return nil, fmt.Errorf("an endpoint has no name")
		}
		if _, seen := byName[e.Name]; seen {
			return nil, fmt.Errorf("endpoint %q is given twice", e.Name)
		}
		if e.external() && e.IP == "" {
			return nil, fmt.Errorf("endpoint %q has neither a namespace nor an ip", e.Name)
		}
		if e.external() && len(e.Labels) > 0 {
			return nil, fmt.Errorf("endpoint %q is outside the cluster (no namespace) but has pod labels", e.Name)
		}
		if e.IP != "" && net.ParseIP(e.IP) == nil {
			return nil, fmt.Errorf("endpoint %q: %q is not an IP address", e.Name, e.IP)
		}
		byName[e.Name] = e
	}
	check := func(p port, where string) error {
		if p.Port < 1 || p.Port > 65535 {
			return fmt.Errorf("%s: port %d is not in 1-65535", where, p.Port)
		}
		_, err := p.protocol()
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		return nil
	}
	for _, p := range r.Ports {
		if err := check(p, "ports"); err != nil {
			return nil, err
		}
	}
	for _, p := range r.Pairs {
		where := fmt.Sprintf("pair %s -> %s", p.From, p.To)
		for _, name := range []string{p.From, p.To} {
			if _, ok := byName[name]; !ok {
				return nil, fmt.Errorf("%s: no endpoint is called %q", where, name)
			}
		}
		if err := check(p.port, where); err != nil {
			return nil, err
		}
	}
	if len(r.Pairs) == 0 && len(r.Ports) == 0 {
		return nil, fmt.Errorf("nothing to decide: give --port (or \"ports\") or \"pairs\"")
	}
	return byName, nil
}

// questions lists the pairs to decide: the given ones, else every ordered pair of distinct
// endpoints, not both outside the cluster, on every port.
func (r request) questions() []pair {
	if len(r.Pairs) > 0 {
		return r.Pairs
	}
	var all []pair
	for _, from := range r.Endpoints {
		for _, to := range r.Endpoints {
			if from.Name == to.Name || (from.external() && to.external()) {
				continue
			}
			for _, p := range r.Ports {
				all = append(all, pair{From: from.Name, To: to.Name, port: p})
			}
		}
	}
	return all
}
