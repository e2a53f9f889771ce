// pki.go owns the pki subcommand: flag parsing around internal/pki.Generate.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"

	"kleff.io/tools/control-plane/internal/pki"
)

func runPKI(args []string) int {
	fs := flag.NewFlagSet("pki", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: kleff-control-plane pki --dir DIR --server https://127.0.0.1:PORT [flags]

Creates in DIR whatever is missing of: a CA (ca.crt/key), the kube-apiserver
and kube-controller-manager serving certificates, the service-account signing
key pair (service-account.key/.pub), client certificates for the admin user
(group system:masters) and system:kube-controller-manager; then (re)writes
admin.kubeconfig and controller-manager.kubeconfig pointing at --server.
Idempotent: existing valid files are kept.

flags:
`)
		fs.PrintDefaults()
	}
	dir := fs.String("dir", "", "directory to write the PKI into (required)")
	server := fs.String("server", "", "API server URL for the kubeconfigs, e.g. https://127.0.0.1:6443 (required)")
	serviceIP := fs.String("service-ip", "10.96.0.1", "first IP of the service cluster IP range (the kubernetes Service), added to the apiserver certificate")
	clusterName := fs.String("cluster-name", "kleff", "cluster, context and CA name")
	adminUser := fs.String("admin-user", "kleff-admin", "common name of the admin client certificate")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" || *server == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	ip := net.ParseIP(*serviceIP)
	if ip == nil {
		fmt.Fprintf(os.Stderr, "pki: --service-ip %q is not an IP address\n", *serviceIP)
		return 2
	}
	err := pki.Generate(pki.Options{
		Dir:         *dir,
		Server:      *server,
		ServiceIP:   ip,
		ClusterName: *clusterName,
		AdminUser:   *adminUser,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
