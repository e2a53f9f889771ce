// writefloor makes a job's writes and nothing else, through client-go's dynamic client, and says
// how long they took: the floor the operator benchmark compares the operator with. For each
// tenant of its input it creates the Tenant as a user would (a plain POST), then sends that
// tenant's writes in order (the finalizer, the children, the status: whatever the input lists),
// with the Tenant's UID put where the input's placeholder stands. No watch, cache, queue, retry,
// discovery or client-side rate limit: what is left is the cost of the writes themselves, in the
// client most Kubernetes operators are written with.
//
// Hand-written because nothing off the shelf replays a list of server-side applies and patches at
// a chosen concurrency and times them.
//
//	writefloor --input FILE|- [--kubeconfig FILE] [--wait]
//
// On success it prints one JSON object on stdout, {"millis", "tenants", "writes", "creates",
// "pid"}, and exits 0; progress goes to stderr every 10 s. Any failed request is an error: a
// message naming the tenant and the object on stderr, exit 1 (usage: exit 2).
//
// --wait is for a caller that reads the process's CPU time from /proc around the run: after
// reading the input and connecting, writefloor prints "writefloor: ready" on stderr and waits for
// a line on stdin before starting; after printing its result it waits for stdin to close before
// exiting.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"
)

var errUsage = errors.New("usage")

func main() {
	err := run(os.Args[1:])
	if errors.Is(err, errUsage) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "writefloor: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("writefloor", flag.ContinueOnError)
	kubeconfig := flags.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	input := flags.String("input", "", "JSON input file, - for stdin (required)")
	wait := flags.Bool("wait", false, "wait for a line on stdin before starting, and for stdin to close before exiting")
	if err := flags.Parse(args); err != nil {
		return errUsage
	}
	if flags.NArg() > 0 || *input == "" || (*wait && *input == "-") {
		fmt.Fprintln(os.Stderr, "writefloor: usage: writefloor --input FILE|- [--kubeconfig FILE] [--wait] (--wait needs a file input)")
		return errUsage
	}
	j, err := readJob(*input)
	if err != nil {
		return err
	}
	client, err := connect(*kubeconfig)
	if err != nil {
		return err
	}
	stdin := bufio.NewReader(os.Stdin)
	if *wait {
		fmt.Fprintln(os.Stderr, "writefloor: ready")
		if _, err := stdin.ReadString('\n'); err != nil {
			return fmt.Errorf("waiting for the start line on stdin: %w", err)
		}
	}
	out, err := runFloor(context.Background(), client, j)
	if err != nil {
		return err
	}
	if err := encodeResult(out); err != nil {
		return err
	}
	if *wait {
		_, _ = io.Copy(io.Discard, stdin)
	}
	return nil
}

// connect builds a dynamic client from a kubeconfig file (the default loading rules, i.e.
// $KUBECONFIG or ~/.kube/config, when path is empty), with no client-side rate limit: the
// operator under benchmark has none either, so the floor must not wait on one.
func connect(path string) (dynamic.Interface, error) {
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
	config.UserAgent = "kleff-writefloor"
	config.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	return dynamic.NewForConfig(config)
}
