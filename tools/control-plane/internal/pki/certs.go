// Package pki owns the local cluster's public-key infrastructure: a CA, the
// serving and client certificates signed by it, the service-account signing
// key pair, and kubeconfigs that embed them. Everything is generated with the
// Go standard library (ECDSA P-256), written atomically, and generated only
// when missing or close to expiry, so re-running is cheap and idempotent.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 2 * 365 * 24 * time.Hour
	// renewBefore re-issues a leaf certificate that expires sooner than this.
	renewBefore = 7 * 24 * time.Hour
	// clockSkew backdates NotBefore so a slightly late clock still accepts new certificates.
	clockSkew = 5 * time.Minute
)

// keyPair is a certificate with its private key, as loaded from or written to disk.
type keyPair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// certSpec describes one certificate to issue.
type certSpec struct {
	name         string // file stem: <name>.crt and <name>.key
	commonName   string
	organization []string
	dnsNames     []string
	ips          []net.IP
	usages       []x509.ExtKeyUsage
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// ensureCA loads the CA from dir, or creates it when missing. fresh reports a
// newly created CA, in which case every leaf certificate must be re-issued.
func ensureCA(dir, commonName string) (ca keyPair, fresh bool, err error) {
	if existing, err := loadKeyPair(dir, "ca"); err == nil {
		return existing, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return keyPair{}, false, fmt.Errorf("load CA: %w (delete %s to regenerate the whole PKI)", err, dir)
	}
	key, err := newKey()
	if err != nil {
		return keyPair{}, false, err
	}
	serial, err := serialNumber()
	if err != nil {
		return keyPair{}, false, err
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return keyPair{}, false, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return keyPair{}, false, err
	}
	ca = keyPair{cert: cert, key: key}
	return ca, true, writeKeyPair(dir, "ca", ca)
}

// ensureLeaf issues spec signed by ca unless a valid, unexpired certificate
// signed by that CA already exists (or force is set).
func ensureLeaf(dir string, ca keyPair, spec certSpec, force bool) error {
	if !force {
		existing, err := loadKeyPair(dir, spec.name)
		if err == nil && existing.cert.CheckSignatureFrom(ca.cert) == nil &&
			time.Until(existing.cert.NotAfter) > renewBefore {
			return nil
		}
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	serial, err := serialNumber()
	if err != nil {
		return err
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.commonName, Organization: spec.organization},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  spec.usages,
		DNSNames:     spec.dnsNames,
		IPAddresses:  spec.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, key.Public(), ca.key)
	if err != nil {
		return fmt.Errorf("create certificate %s: %w", spec.name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	return writeKeyPair(dir, spec.name, keyPair{cert: cert, key: key})
}

// ensureSigningKey creates the service-account token signing key pair
// (<name>.key private, <name>.pub public) when missing.
func ensureSigningKey(dir, name string) error {
	if _, err := os.Stat(filepath.Join(dir, name+".key")); err == nil {
		if _, err := os.Stat(filepath.Join(dir, name+".pub")); err == nil {
			return nil
		}
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	privateDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	publicDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, name+".key"), pemBlock("PRIVATE KEY", privateDER), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, name+".pub"), pemBlock("PUBLIC KEY", publicDER), 0o644)
}

func loadKeyPair(dir, name string) (keyPair, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, name+".crt"))
	if err != nil {
		return keyPair{}, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, name+".key"))
	if err != nil {
		return keyPair{}, err
	}
	certBlock, _ := pem.Decode(certPEM)
	if certBlock == nil || certBlock.Type != "CERTIFICATE" {
		return keyPair{}, fmt.Errorf("%s.crt: no PEM certificate", name)
	}
	cert, err := x509.ParseCertificate(certBlock.Bytes)
	if err != nil {
		return keyPair{}, fmt.Errorf("%s.crt: %w", name, err)
	}
	keyBlock, _ := pem.Decode(keyPEM)
	if keyBlock == nil {
		return keyPair{}, fmt.Errorf("%s.key: no PEM key", name)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		return keyPair{}, fmt.Errorf("%s.key: %w", name, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return keyPair{}, fmt.Errorf("%s.key: unsupported key type %T", name, parsed)
	}
	return keyPair{cert: cert, key: signer}, nil
}

func writeKeyPair(dir, name string, kp keyPair) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(kp.key)
	if err != nil {
		return err
	}
	// Key first: a pair whose certificate exists is then always complete.
	if err := writeFileAtomic(filepath.Join(dir, name+".key"), pemBlock("PRIVATE KEY", keyDER), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, name+".crt"), pemBlock("CERTIFICATE", kp.cert.Raw), 0o644)
}

func pemBlock(blockType string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// into place, so readers never see a partial file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
