// kubectl.go owns the kubectl subcommand: upstream kubectl, run exactly as
// k8s.io/kubernetes cmd/kubectl/kubectl.go does, so the cluster ships a client
// whose version matches the server (kubectl supports only ±1 minor of skew).
package main

import (
	"os"

	"github.com/spf13/pflag"
	_ "k8s.io/client-go/plugin/pkg/client/auth" // client auth plugins (exec, oidc), as upstream kubectl does
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func runKubectl(args []string) int {
	// kubectl reads os.Args itself (plugin lookup, .kuberc preferences, -v
	// pre-parsing, cobra), so present it the command line it would get as a
	// standalone binary: "kubectl" followed by its own arguments.
	os.Args = append([]string{"kubectl"}, args...)
	// Cobra adds pflag.CommandLine to every root command's flags. Server
	// packages linked into this binary register flags there at init
	// (k8s.io/component-base/version/verflag: --version); a standalone kubectl
	// links none of them, so give it the empty set it would have.
	pflag.CommandLine = pflag.NewFlagSet("kubectl", pflag.ExitOnError)
	// Parse the verbosity early, as upstream does, so that klog works while
	// the command is constructed (plugins, .kuberc).
	logs.GlogSetter(cmd.GetLogVerbosity(os.Args)) //nolint:errcheck // as upstream
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		// Pretty-prints the error and exits with kubectl's exit code.
		util.CheckErr(err)
	}
	return 0
}
