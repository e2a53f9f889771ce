/**
 * The tenant operator as a running process: the Tenant controller (and, with the mesh enabled, the
 * mesh controller, on the same caches) under a Manager that serves health probes and metrics,
 * elects a leader when asked, and stops gracefully on SIGTERM.
 * Wiring only: what to do is the reconcilers', how is `@kleff/k8s`'s.
 */
import { Client, Controller, HealthServer, Informers, KubeConfig, LeaderElection, Manager } from "@kleff/k8s"
import { Effect, Layer } from "effect"
import type { TenantOperatorConfig } from "./desired/Config.ts"
import { makeMeshReconciler } from "./MeshReconciler.ts"
import { makeTenantReconciler, tenantControllerName } from "./TenantReconciler.ts"

export interface OperatorOptions {
  readonly config: TenantOperatorConfig
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
    const tenants = yield* Controller.make({
      reconciler: makeTenantReconciler(options.config),
      concurrency: options.concurrency,
      refusedRetryMillis: options.refusedRetryMillis
    })
    const controllers = options.config.mesh.enabled
      ? [
          tenants,
          yield* Controller.make({
            reconciler: makeMeshReconciler(options.config.mesh),
            concurrency: options.concurrency,
            refusedRetryMillis: options.refusedRetryMillis
          })
        ]
      : [tenants]
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
        metricsBindAddress: options.metricsBindAddress
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
