// version.go owns the version subcommand and the pinned component versions.
package main

import (
	"fmt"
	"runtime"

	etcdversion "go.etcd.io/etcd/api/v3/version"
	k8sversion "k8s.io/component-base/version"
)

func runVersion(_ []string) int {
	fmt.Printf("kubernetes %s\netcd %s\ngo %s\n", k8sversion.Get().GitVersion, etcdversion.Version, runtime.Version())
	return 0
}
