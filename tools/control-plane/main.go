// Command kleff-control-plane is a multi-call binary for the local Kubernetes
// control plane used by the Kleff tenant operator's development cluster and
// tests. One binary links etcd, kube-apiserver, kube-controller-manager and a
// version-matched kubectl so that their shared packages compile and link once.
//
// Usage:
//
//	kleff-control-plane etcd [flags]
//	kleff-control-plane kube-apiserver [kube-apiserver flags]
//	kleff-control-plane kube-controller-manager [kube-controller-manager flags]
//	kleff-control-plane kubectl [kubectl arguments]
//	kleff-control-plane pki [flags]
//	kleff-control-plane version
//
// Invoked through a link named like a subcommand (etcd, kube-apiserver, kubectl, …),
// it runs that subcommand with all arguments.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// subcommands maps each subcommand to its entry point. Each entry point gets
// the arguments after the subcommand name and returns a process exit code.
var subcommands = map[string]func(args []string) int{
	"etcd":                    runEtcd,
	"kube-apiserver":          runKubeAPIServer,
	"kube-controller-manager": runKubeControllerManager,
	"kubectl":                 runKubectl,
	"pki":                     runPKI,
	"version":                 runVersion,
}

func main() {
	// Busybox style: a link named after a subcommand (e.g. etcd -> kleff-control-plane) runs it.
	if run, ok := subcommands[filepath.Base(os.Args[0])]; ok {
		os.Exit(run(os.Args[1:]))
	}
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	run, ok := subcommands[os.Args[1]]
	if !ok {
		if os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
			usage()
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "kleff-control-plane: unknown subcommand %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	os.Exit(run(os.Args[2:]))
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: kleff-control-plane <subcommand> [flags]

subcommands:
  etcd                      run a single-member etcd (embedded server)
  kube-apiserver            run kube-apiserver (all upstream flags)
  kube-controller-manager   run kube-controller-manager (all upstream flags)
  kubectl                   run kubectl (same version as the server)
  pki                       generate CA, certificates, keys and kubeconfigs
  version                   print the Kubernetes and etcd versions linked in
`)
}
