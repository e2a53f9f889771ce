/**
 * The tenant operator as a running process: the Tenant controller (and, on the same caches, the
 * usage controller unless disabled and the mesh controller when the mesh is enabled) under a
 * Manager that serves health probes and metrics (the per-tenant series from the caches, see
 * `TenantMetrics`), elects a leader when asked, and stops gracefully on SIGTERM.
 * Wiring only: what to do is the reconcilers', how is `@kleff/k8s`'s.
 */
import type { Reconciler } from "@kleff/core"
import {
  Client,
  Controller,
  HealthServer,
  Informers,
  KubeConfig,
  LeaderElection,
  Manager,
  Snapshot
} from "@kleff/k8s"
import { Effect, Layer } from "effect"
import { type StoredTenant, TenantType } from "./api/Tenant.ts"
import type { TenantOperatorConfig } from "./desired/Config.ts"
import { ResourceQuotaType } from "./desired/ResourceTypes.ts"
import { makeMeshReconciler } from "./MeshReconciler.ts"
import { tenantMetricsCollector } from "./TenantMetrics.ts"
import { makeTenantReconciler, tenantControllerName } from "./TenantReconciler.ts"
import { makeUsageReconciler } from "./UsageReconciler.ts"

/** The usage controller's settings. */
export interface UsageOptions {
  /** Run it: each Tenant's `status.usage` from its namespace's ResourceQuota. */
  readonly enabled: boolean
  /** A tenant's usage is written at most this often. */
  readonly periodMillis: number
}

export interface OperatorOptions {
  readonly config: TenantOperatorConfig
  readonly usage: UsageOptions
  /** Tenants reconciled at once. */
  readonly concurrency: number
  /** A refused write is tried again after at least this long. */
  readonly refusedRetryMillis?: number | undefined
  readonly healthProbeBindAddress: string
  readonly metricsBindAddress: string
  /** Run the controller only while holding this Lease. */
  readonly leaderElection?: { readonly namespace: string; readonly name: string } | undefined
  /** An explicit kubeconfig file; otherwise `KUBECONFIG`, `~/.kube/config`, or the in-cluster service account. */
  readonly kubeconfig?: string | undefined
}

export const kubeConfigLayer = (kubeconfig: string | undefined) =>
  kubeconfig === undefined
    ? KubeConfig.KubeConfig.layerFromDefault()
    : KubeConfig.KubeConfig.layerFromFile(kubeconfig)

export const clientLayer = (kubeconfig: string | undefined) =>
  Client.Client.layerWith({ fieldManager: tenantControllerName, userAgent: "kleff-tenant-operator" }).pipe(
    Layer.provideMerge(kubeConfigLayer(kubeconfig))
  )

/** Runs the operator until interrupted (SIGTERM/SIGINT through `Manager.runMain`). */
export const runOperator = (options: OperatorOptions) =>
  Effect.gen(function* () {
    const client = yield* Client.Client
    const informers = yield* Informers.Informers
    const tenantReconciler = makeTenantReconciler(options.config)
    const controllerOf = <D>(reconciler: Reconciler<StoredTenant, D>) =>
      Controller.make({
        reconciler,
        concurrency: options.concurrency,
        refusedRetryMillis: options.refusedRetryMillis
      })
    const controllers = [
      yield* controllerOf(tenantReconciler),
      ...(options.usage.enabled
        ? [yield* controllerOf(makeUsageReconciler(options.usage.periodMillis))]
        : []),
      ...(options.config.mesh.enabled ? [yield* controllerOf(makeMeshReconciler(options.config.mesh))] : [])
    ]
    // The caches the tenant controller reads: its Tenants, and the quotas it made (its own children).
    const metrics = tenantMetricsCollector(
      (yield* informers.informer(TenantType, Snapshot.selectionOf(tenantReconciler, TenantType))).cache,
      (yield* informers.informer(
        ResourceQuotaType,
        Snapshot.selectionOf(tenantReconciler, ResourceQuotaType)
      )).cache
    )
    const checks = yield* HealthServer.HealthChecks
    yield* checks.addReadyzCheck(
      "caches",
      Effect.flatMap(
        Effect.forEach(controllers, (controller) => controller.isReady),
        (ready) => (ready.every(Boolean) ? Effect.void : Effect.fail("caches not synced yet"))
      )
    )
    yield* Effect.logInfo("Starting tenant operator").pipe(
      Effect.annotateLogs({
        server: client.server,
        controllers: controllers.map((controller) => controller.name).join(","),
        workers: options.concurrency,
        namespaceTemplate: options.config.namespaceTemplate,
        leaderElection: options.leaderElection === undefined ? "off" : options.leaderElection.name
      })
    )
    const manager = Manager.run(
      {
        healthProbeBindAddress: options.healthProbeBindAddress,
        metricsBindAddress: options.metricsBindAddress,
        collectors: [metrics]
      },
      [Informers.runnable(informers), ...controllers.map((controller) => controller.runnable)]
    )
    return yield* options.leaderElection === undefined
      ? manager
      : manager.pipe(
          Effect.provide(Manager.layerLeaderElection(options.leaderElection)),
          Effect.provide(LeaderElection.LeaseClient.layer)
        )
  }).pipe(
    Effect.scoped,
    Effect.provide(Informers.Informers.layer),
    Effect.provide(HealthServer.HealthChecks.layer),
    Effect.provide(clientLayer(options.kubeconfig))
  )
