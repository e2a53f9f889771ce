// generate_test.go checks that Generate produces a consistent PKI (every
// certificate chains to the CA with the right identity and usages), keeps
// existing files on re-runs, and rewrites kubeconfigs for a new server URL.
package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, Server: "https://127.0.0.1:6443", ServiceIP: net.ParseIP("10.96.0.1"), ClusterName: "kleff", AdminUser: "kleff-admin"}
	if err := Generate(opts); err != nil {
		t.Fatal(err)
	}

	ca := readCert(t, filepath.Join(dir, CACert))
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	verify := func(name string, usage x509.ExtKeyUsage, dnsName string) *x509.Certificate {
		t.Helper()
		cert := readCert(t, filepath.Join(dir, name))
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: dnsName}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return cert
	}
	apiserver := verify(APIServerCert, x509.ExtKeyUsageServerAuth, "kubernetes.default.svc")
	if err := apiserver.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("apiserver certificate: %v", err)
	}
	if err := apiserver.VerifyHostname("10.96.0.1"); err != nil {
		t.Errorf("apiserver certificate: %v", err)
	}
	verify(ControllerManagerTLSCert, x509.ExtKeyUsageServerAuth, "localhost")
	admin := verify("admin.crt", x509.ExtKeyUsageClientAuth, "")
	if admin.Subject.CommonName != "kleff-admin" || len(admin.Subject.Organization) != 1 || admin.Subject.Organization[0] != "system:masters" {
		t.Errorf("admin subject = %v", admin.Subject)
	}
	kcm := verify("controller-manager.crt", x509.ExtKeyUsageClientAuth, "")
	if kcm.Subject.CommonName != "system:kube-controller-manager" {
		t.Errorf("controller-manager subject = %v", kcm.Subject)
	}
	for _, name := range []string{ServiceAccountKey, ServiceAccountPub} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("ca.key mode: %v %v", info, err)
	}

	// A second run with a new server keeps every key and certificate and
	// only rewrites the kubeconfigs.
	before, _ := os.ReadFile(filepath.Join(dir, "admin.crt"))
	opts.Server = "https://127.0.0.1:7443"
	if err := Generate(opts); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "admin.crt"))
	if !bytes.Equal(before, after) {
		t.Error("admin.crt was re-issued on an idempotent run")
	}
	for _, file := range []string{AdminKubeconfig, ControllerManagerConfig} {
		config, err := clientcmd.LoadFromFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		cluster := config.Clusters[config.Contexts[config.CurrentContext].Cluster]
		if cluster.Server != "https://127.0.0.1:7443" {
			t.Errorf("%s server = %s", file, cluster.Server)
		}
		if len(cluster.CertificateAuthorityData) == 0 {
			t.Errorf("%s: CA not embedded", file)
		}
	}
}

func TestGenerateRejectsBadServer(t *testing.T) {
	err := Generate(Options{Dir: t.TempDir(), Server: "http://127.0.0.1:6443", ServiceIP: net.ParseIP("10.96.0.1"), ClusterName: "kleff", AdminUser: "a"})
	if err == nil {
		t.Fatal("expected an error for a non-https server URL")
	}
}
