// generate.go owns the list of files that make up the cluster PKI and the
// Generate entry point that creates whatever is missing.
package pki

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
)

// File names written into the PKI directory.
const (
	CACert                   = "ca.crt"
	APIServerCert            = "apiserver.crt"
	APIServerKey             = "apiserver.key"
	ControllerManagerTLSCert = "controller-manager-serving.crt"
	ControllerManagerTLSKey  = "controller-manager-serving.key"
	ServiceAccountKey        = "service-account.key"
	ServiceAccountPub        = "service-account.pub"
	AdminKubeconfig          = "admin.kubeconfig"
	ControllerManagerConfig  = "controller-manager.kubeconfig"
)

// Options configures Generate.
type Options struct {
	// Dir receives every file; created if missing.
	Dir string
	// Server is the API server URL written into the kubeconfigs, e.g. https://127.0.0.1:6443.
	Server string
	// ServiceIP is the first IP of the service cluster IP range (the "kubernetes" Service).
	ServiceIP net.IP
	// ClusterName names the cluster, context and CA in kubeconfigs.
	ClusterName string
	// AdminUser is the common name of the admin client certificate (group system:masters).
	AdminUser string
}

// Generate creates the CA, certificates and keys that are missing or expiring
// in opts.Dir, then (re)writes both kubeconfigs for opts.Server.
func Generate(opts Options) error {
	if opts.Dir == "" || opts.Server == "" {
		return fmt.Errorf("pki: directory and server URL are required")
	}
	if u, err := url.Parse(opts.Server); err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("pki: server %q must be an https URL with a host", opts.Server)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}

	ca, freshCA, err := ensureCA(opts.Dir, opts.ClusterName+"-ca")
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	loopback := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	serverUsage := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	clientUsage := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	leaves := []certSpec{
		{
			name:       "apiserver",
			commonName: "kube-apiserver",
			dnsNames: []string{
				"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc.cluster.local",
			},
			ips:    append(loopback, opts.ServiceIP),
			usages: serverUsage,
		},
		{
			name:       "controller-manager-serving",
			commonName: "kube-controller-manager",
			dnsNames:   []string{"localhost"},
			ips:        loopback,
			usages:     serverUsage,
		},
		{
			name:         "admin",
			commonName:   opts.AdminUser,
			organization: []string{"system:masters"},
			usages:       clientUsage,
		},
		{
			name:       "controller-manager",
			commonName: "system:kube-controller-manager",
			usages:     clientUsage,
		},
	}
	for _, leaf := range leaves {
		if err := ensureLeaf(opts.Dir, ca, leaf, freshCA); err != nil {
			return fmt.Errorf("pki: %w", err)
		}
	}
	if err := ensureSigningKey(opts.Dir, "service-account"); err != nil {
		return fmt.Errorf("pki: service-account key: %w", err)
	}

	kubeconfigs := []struct{ file, user, certName string }{
		{AdminKubeconfig, opts.AdminUser, "admin"},
		{ControllerManagerConfig, "system:kube-controller-manager", "controller-manager"},
	}
	for _, kc := range kubeconfigs {
		if err := writeKubeconfig(filepath.Join(opts.Dir, kc.file), opts, kc.user, kc.certName); err != nil {
			return fmt.Errorf("pki: %s: %w", kc.file, err)
		}
	}
	return nil
}
