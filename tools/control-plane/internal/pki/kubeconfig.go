// kubeconfig.go owns writing kubeconfig files with the CA and client
// certificate embedded, so a kubeconfig works on its own when copied.
package pki

import (
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func writeKubeconfig(path string, opts Options, user, certName string) error {
	caPEM, err := os.ReadFile(filepath.Join(opts.Dir, CACert))
	if err != nil {
		return err
	}
	certPEM, err := os.ReadFile(filepath.Join(opts.Dir, certName+".crt"))
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(filepath.Join(opts.Dir, certName+".key"))
	if err != nil {
		return err
	}
	config := clientcmdapi.NewConfig()
	config.Clusters[opts.ClusterName] = &clientcmdapi.Cluster{
		Server:                   opts.Server,
		CertificateAuthorityData: caPEM,
	}
	config.AuthInfos[user] = &clientcmdapi.AuthInfo{
		ClientCertificateData: certPEM,
		ClientKeyData:         keyPEM,
	}
	config.Contexts[opts.ClusterName] = &clientcmdapi.Context{
		Cluster:  opts.ClusterName,
		AuthInfo: user,
	}
	config.CurrentContext = opts.ClusterName
	data, err := clientcmd.Write(*config)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o600)
}
