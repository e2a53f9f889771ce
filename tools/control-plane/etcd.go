// etcd.go owns the etcd subcommand: a single-member etcd server started with
// go.etcd.io/etcd/server/v3/embed, tuned for a local development and test
// cluster (warn-level logs, bounded quota, TCP listeners only).
//
// Its flags are a subset of upstream etcd's, with the same names and meaning,
// so an orchestrator can pass one argument list either to this subcommand or
// to a stock etcd binary (the envtest KUBEBUILDER_ASSETS convention).
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

const etcdReadyTimeout = 60 * time.Second

func runEtcd(args []string) int {
	cfg := embed.NewConfig()
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	fs.StringVar(&cfg.Name, "name", "default", "member name")
	fs.StringVar(&cfg.Dir, "data-dir", "", "directory for etcd data (required)")
	listenClient := fs.String("listen-client-urls", "http://127.0.0.1:2379", "comma-separated URLs to serve clients on")
	advertiseClient := fs.String("advertise-client-urls", "", "comma-separated client URLs to advertise (default: --listen-client-urls)")
	listenPeer := fs.String("listen-peer-urls", "http://127.0.0.1:2380", "comma-separated URLs to serve peers on")
	advertisePeer := fs.String("initial-advertise-peer-urls", "", "comma-separated peer URLs to advertise (default: --listen-peer-urls)")
	initialCluster := fs.String("initial-cluster", "", "initial cluster configuration (default: this member alone)")
	fs.StringVar(&cfg.LogLevel, "log-level", "warn", "log level: debug, info, warn, error")
	fs.Int64Var(&cfg.QuotaBackendBytes, "quota-backend-bytes", 2<<30, "backend database size quota in bytes")
	fs.BoolVar(&cfg.UnsafeNoFsync, "unsafe-no-fsync", false, "skip fsync: faster, loses data if the machine crashes (fine for throwaway clusters)")
	fs.StringVar(&cfg.AutoCompactionMode, "auto-compaction-mode", "periodic", "periodic or revision")
	fs.StringVar(&cfg.AutoCompactionRetention, "auto-compaction-retention", "5m", "history to keep before compaction (duration for periodic mode)")
	fs.Uint64Var(&cfg.SnapshotCount, "snapshot-count", 10000, "committed transactions that trigger a snapshot to disk")
	// embed.NewConfig leaves this zero (only etcd's own flag parsing sets the
	// default), which would log every request as a warning.
	fs.DurationVar(&cfg.WarningUnaryRequestDuration, "warning-unary-request-duration", embed.DefaultWarningUnaryRequestDuration, "log a warning for unary requests slower than this")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "etcd: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	if cfg.Dir == "" {
		fmt.Fprintln(os.Stderr, "etcd: --data-dir is required")
		return 2
	}

	var err error
	if cfg.ListenClientUrls, err = parseURLs("listen-client-urls", *listenClient); err != nil {
		return usageError(err)
	}
	if cfg.AdvertiseClientUrls, err = parseURLs("advertise-client-urls", orDefault(*advertiseClient, *listenClient)); err != nil {
		return usageError(err)
	}
	if cfg.ListenPeerUrls, err = parseURLs("listen-peer-urls", *listenPeer); err != nil {
		return usageError(err)
	}
	if cfg.AdvertisePeerUrls, err = parseURLs("initial-advertise-peer-urls", orDefault(*advertisePeer, *listenPeer)); err != nil {
		return usageError(err)
	}
	cfg.InitialCluster = orDefault(*initialCluster, cfg.InitialClusterFromName(cfg.Name))

	server, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd: start:", err)
		return 1
	}
	defer server.Close()

	select {
	case <-server.Server.ReadyNotify():
		fmt.Fprintf(os.Stderr, "etcd: ready, serving clients on %s\n", *listenClient)
	case <-time.After(etcdReadyTimeout):
		server.Server.Stop()
		fmt.Fprintf(os.Stderr, "etcd: not ready after %s\n", etcdReadyTimeout)
		return 1
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-signals:
		fmt.Fprintf(os.Stderr, "etcd: received %s, shutting down\n", sig)
		return 0
	case err := <-server.Err():
		fmt.Fprintln(os.Stderr, "etcd: server error:", err)
		return 1
	}
}

func parseURLs(flagName, raw string) ([]url.URL, error) {
	var urls []url.URL
	for _, part := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %w", flagName, part, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("--%s %q: scheme must be http or https", flagName, part)
		}
		urls = append(urls, *u)
	}
	return urls, nil
}

func orDefault(value, fallback string) string {
	if value == "" {
		return fallback
	}
	return value
}

func usageError(err error) int {
	fmt.Fprintln(os.Stderr, "etcd:", err)
	return 2
}
