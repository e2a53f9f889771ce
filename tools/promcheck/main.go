// promcheck checks Prometheus rules and PromQL expressions with Prometheus's own parsers
// (github.com/prometheus/prometheus: model/rulefmt and promql/parser) and says which metrics
// they select, so that tests can hold the operator's alerts and dashboard to metrics that exist.
//
// Hand-written rather than promtool: promtool checks rule files but does not list the metric
// names an expression selects, and it is a much larger build (every service discovery).
//
//	promcheck rules FILE...  each FILE (or - for stdin) is YAML: PrometheusRule objects (their
//	                         spec is the rule file) or plain rule files, several documents allowed
//	promcheck exprs          stdin is a JSON array of PromQL expressions
//
// On success it prints one JSON object on stdout (see report) and exits 0. On any error it
// prints the parsers' messages on stderr, one a line, and exits 1; a usage error exits 2.
// Rules are parsed strictly (unknown fields are errors) with the legacy metric and label name
// rules, so they hold on any Prometheus 2.x or 3.x server.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// checked is one rule or expression that parsed, with the metric names it selects.
type checked struct {
	File    string   `json:"file,omitempty"`
	Group   string   `json:"group,omitempty"`
	Alert   string   `json:"alert,omitempty"`
	Record  string   `json:"record,omitempty"`
	Expr    string   `json:"expr"`
	Metrics []string `json:"metrics"`
	// Unnamed lists selectors whose metric name is not one fixed string (a regular expression
	// on __name__, or no name at all): their metrics cannot be named, so callers can refuse them.
	Unnamed []string `json:"unnamed"`
}

// report is what promcheck prints: every rule or expression, and the union of their metrics.
type report struct {
	Checked []checked `json:"checked"`
	Metrics []string  `json:"metrics"`
}

var promql = parser.NewParser(parser.Options{})

// selected walks an expression's syntax tree and returns the metric names its vector selectors
// (plain, inside range vectors and subqueries) fix with name{…} or {__name__="name"}, and the
// selectors that fix none.
func selected(expr parser.Expr) (names []string, unnamed []string) {
	seen := map[string]bool{}
	names, unnamed = []string{}, []string{}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		selector, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := ""
		for _, matcher := range selector.LabelMatchers {
			if matcher.Name == labels.MetricName && matcher.Type == labels.MatchEqual {
				name = matcher.Value
			}
		}
		if name == "" {
			unnamed = append(unnamed, selector.String())
		} else if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
		return nil
	})
	sort.Strings(names)
	return names, unnamed
}

// ruleFiles splits a YAML stream into rule files: the spec of each PrometheusRule, and each
// document with top-level groups as it is. Other objects (a kustomize build's Deployment, …)
// are skipped.
func ruleFiles(content []byte) ([][]byte, error) {
	decoder := yaml.NewDecoder(bytes.NewReader(content))
	var files [][]byte
	for {
		var document struct {
			Kind   string     `yaml:"kind"`
			Spec   yaml.Node  `yaml:"spec"`
			Groups *yaml.Node `yaml:"groups"`
		}
		var raw yaml.Node
		err := decoder.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if err := raw.Decode(&document); err != nil {
			return nil, err
		}
		switch {
		case document.Kind == "PrometheusRule":
			spec, err := yaml.Marshal(&document.Spec)
			if err != nil {
				return nil, err
			}
			files = append(files, spec)
		case document.Kind == "" && document.Groups != nil:
			file, err := yaml.Marshal(&raw)
			if err != nil {
				return nil, err
			}
			files = append(files, file)
		}
	}
}

// checkRules parses one rule file with rulefmt (all its validation: names, durations, label and
// annotation templates, and every expr) and lists each rule's metrics.
func checkRules(name string, content []byte) ([]checked, []error) {
	groups, errs := rulefmt.Parse(content, false, model.LegacyValidation, promql, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		return nil, errs
	}
	var out []checked
	for _, group := range groups.Groups {
		for _, rule := range group.Rules {
			expr, err := promql.ParseExpr(rule.Expr)
			if err != nil {
				errs = append(errs, fmt.Errorf("group %q, rule %q: %w", group.Name, rule.Alert+rule.Record, err))
				continue
			}
			metrics, unnamed := selected(expr)
			out = append(out, checked{
				File: name, Group: group.Name, Alert: rule.Alert, Record: rule.Record,
				Expr: rule.Expr, Metrics: metrics, Unnamed: unnamed,
			})
		}
	}
	return out, errs
}

func rulesCommand(paths []string) ([]checked, []error) {
	var out []checked
	var errs []error
	for _, path := range paths {
		var content []byte
		var err error
		if path == "-" {
			content, err = io.ReadAll(os.Stdin)
		} else {
			content, err = os.ReadFile(path)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files, err := ruleFiles(content)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		if len(files) == 0 {
			errs = append(errs, fmt.Errorf("%s: no PrometheusRule and no rule file (groups:) in it", path))
		}
		for _, file := range files {
			rules, ruleErrs := checkRules(path, file)
			out = append(out, rules...)
			for _, ruleErr := range ruleErrs {
				errs = append(errs, fmt.Errorf("%s: %w", path, ruleErr))
			}
		}
	}
	return out, errs
}

func exprsCommand() ([]checked, []error) {
	var exprs []string
	if err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {
		return nil, []error{fmt.Errorf("stdin must be a JSON array of strings: %w", err)}
	}
	var out []checked
	var errs []error
	for _, text := range exprs {
		expr, err := promql.ParseExpr(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", text, err))
			continue
		}
		metrics, unnamed := selected(expr)
		out = append(out, checked{Expr: text, Metrics: metrics, Unnamed: unnamed})
	}
	return out, errs
}

const usage = `usage: promcheck rules FILE...   (PrometheusRule objects or rule files; - for stdin)
       promcheck exprs            (a JSON array of PromQL expressions on stdin)`

func main() {
	if len(os.Args) < 2 || (os.Args[1] == "rules" && len(os.Args) < 3) {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var out []checked
	var errs []error
	switch os.Args[1] {
	case "rules":
		out, errs = rulesCommand(os.Args[2:])
	case "exprs":
		out, errs = exprsCommand()
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
	union := map[string]bool{}
	metrics := []string{}
	for _, c := range out {
		for _, name := range c.Metrics {
			if !union[name] {
				union[name] = true
				metrics = append(metrics, name)
			}
		}
	}
	sort.Strings(metrics)
	if out == nil {
		out = []checked{}
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(report{Checked: out, Metrics: metrics}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
