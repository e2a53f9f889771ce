/**
 * The controller-runtime-compatible metrics the framework reports (`workqueue_*`,
 * `controller_runtime_*`, `leader_election_master_status`) as Effect `Metric`s in Effect's
 * metric registry.
 *
 * Owns names, help texts, label sets and histogram buckets, so that existing Grafana
 * dashboards for controller-runtime operators work unchanged. Must not do I/O or render:
 * Effect's `PrometheusMetrics` renders the registry (text format 0.0.4) and `HealthServer`
 * serves it at `/metrics`; recording values is the caller's.
 *
 * Series are created per label set with the labels fixed at construction (not with
 * `Metric.withAttributes` on a shared metric), so a hot-path update is one registry lookup.
 */
import { Effect, Metric } from "effect"

// ---------------------------------------------------------------------------------------------
// Buckets (identical to controller-runtime's, so histogram_quantile over mixed fleets works)
// ---------------------------------------------------------------------------------------------

/** `prometheus.ExponentialBuckets(10e-9, 10, 12)`: 10 ns … 1000 s. */
export const workqueueDurationBuckets: ReadonlyArray<number> = [
  1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000
]

/** controller-runtime's `controller_runtime_reconcile_time_seconds` buckets. */
export const reconcileTimeBuckets: ReadonlyArray<number> = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
  1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60
]

// ---------------------------------------------------------------------------------------------
// Work queue: workqueue_*{name, controller}
// ---------------------------------------------------------------------------------------------

/** The series of one named work queue. controller-runtime labels them `name` and `controller`, both the controller name. */
export interface WorkqueueMetrics {
  /** `workqueue_depth`: keys waiting (not processing). */
  readonly depth: Metric.Gauge<number>
  /** `workqueue_adds_total`: adds that made a key dirty (duplicates of a waiting key are not counted). */
  readonly adds: Metric.Counter<number>
  /** `workqueue_queue_duration_seconds`: time from add to get. */
  readonly queueDuration: Metric.Histogram<number>
  /** `workqueue_work_duration_seconds`: time from get to done. */
  readonly workDuration: Metric.Histogram<number>
  /** `workqueue_retries_total`: delayed and rate-limited re-adds. */
  readonly retries: Metric.Counter<number>
  /** `workqueue_unfinished_work_seconds`: summed age of in-flight items. */
  readonly unfinishedWork: Metric.Gauge<number>
  /** `workqueue_longest_running_processor_seconds`: age of the oldest in-flight item. */
  readonly longestRunningProcessor: Metric.Gauge<number>
}

export const workqueueMetrics = (name: string): WorkqueueMetrics => {
  const attributes = { name, controller: name }
  return {
    depth: Metric.gauge("workqueue_depth", { description: "Current depth of workqueue", attributes }),
    adds: Metric.counter("workqueue_adds_total", {
      description: "Total number of adds handled by workqueue",
      attributes,
      incremental: true
    }),
    queueDuration: Metric.histogram("workqueue_queue_duration_seconds", {
      description: "How long in seconds an item stays in workqueue before being requested",
      attributes,
      boundaries: workqueueDurationBuckets
    }),
    workDuration: Metric.histogram("workqueue_work_duration_seconds", {
      description: "How long in seconds processing an item from workqueue takes.",
      attributes,
      boundaries: workqueueDurationBuckets
    }),
    retries: Metric.counter("workqueue_retries_total", {
      description: "Total number of retries handled by workqueue",
      attributes,
      incremental: true
    }),
    unfinishedWork: Metric.gauge("workqueue_unfinished_work_seconds", {
      description:
        "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. " +
        "Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate " +
        "at which this increases.",
      attributes
    }),
    longestRunningProcessor: Metric.gauge("workqueue_longest_running_processor_seconds", {
      description: "How many seconds has the longest running processor for workqueue been running.",
      attributes
    })
  }
}

// ---------------------------------------------------------------------------------------------
// Controller: controller_runtime_*{controller}
// ---------------------------------------------------------------------------------------------

/** The `result` label of `controller_runtime_reconcile_total`. */
export type ReconcileResult = "success" | "error" | "requeue" | "requeue_after"

export const reconcileResults: ReadonlyArray<ReconcileResult> = [
  "success",
  "error",
  "requeue",
  "requeue_after"
]

export interface ControllerMetrics {
  /** `controller_runtime_reconcile_total{controller,result}`. */
  readonly reconcileTotal: Readonly<Record<ReconcileResult, Metric.Counter<number>>>
  /** `controller_runtime_reconcile_errors_total{controller}`: failures, defects and terminal errors. */
  readonly reconcileErrors: Metric.Counter<number>
  /** `controller_runtime_terminal_reconcile_errors_total{controller}`: errors the reconciler reported as terminal (retrying soon cannot help). */
  readonly terminalReconcileErrors: Metric.Counter<number>
  /** `controller_runtime_reconcile_panics_total{controller}`: defects (bugs) caught in a reconcile. */
  readonly reconcilePanics: Metric.Counter<number>
  /** `controller_runtime_reconcile_time_seconds{controller}`. */
  readonly reconcileTime: Metric.Histogram<number>
  /** `controller_runtime_active_workers{controller}`. */
  readonly activeWorkers: Metric.Gauge<number>
  /** `controller_runtime_max_concurrent_reconciles{controller}`. */
  readonly maxConcurrentReconciles: Metric.Gauge<number>
}

export const controllerMetrics = (controller: string): ControllerMetrics => {
  const attributes = { controller }
  const total = (result: ReconcileResult) =>
    Metric.counter("controller_runtime_reconcile_total", {
      description: "Total number of reconciliations per controller",
      attributes: { controller, result },
      incremental: true
    })
  return {
    reconcileTotal: {
      success: total("success"),
      error: total("error"),
      requeue: total("requeue"),
      requeue_after: total("requeue_after")
    },
    reconcileErrors: Metric.counter("controller_runtime_reconcile_errors_total", {
      description: "Total number of reconciliation errors per controller",
      attributes,
      incremental: true
    }),
    terminalReconcileErrors: Metric.counter("controller_runtime_terminal_reconcile_errors_total", {
      description: "Total number of terminal reconciliation errors per controller",
      attributes,
      incremental: true
    }),
    reconcilePanics: Metric.counter("controller_runtime_reconcile_panics_total", {
      description: "Total number of reconciliation panics per controller",
      attributes,
      incremental: true
    }),
    reconcileTime: Metric.histogram("controller_runtime_reconcile_time_seconds", {
      description: "Length of time per reconciliation per controller",
      attributes,
      boundaries: reconcileTimeBuckets
    }),
    activeWorkers: Metric.gauge("controller_runtime_active_workers", {
      description: "Number of currently used workers per controller",
      attributes
    }),
    maxConcurrentReconciles: Metric.gauge("controller_runtime_max_concurrent_reconciles", {
      description: "Maximum number of concurrent reconciles per controller",
      attributes
    })
  }
}

/**
 * Registers every series of a controller at zero (as controller-runtime does on start), so
 * dashboards and `rate()` see the series before the first reconcile.
 */
export const initControllerMetrics = Effect.fnUntraced(function* (
  metrics: ControllerMetrics,
  maxConcurrentReconciles: number
) {
  for (const result of reconcileResults) yield* Metric.update(metrics.reconcileTotal[result], 0)
  yield* Metric.update(metrics.reconcileErrors, 0)
  yield* Metric.update(metrics.terminalReconcileErrors, 0)
  yield* Metric.update(metrics.reconcilePanics, 0)
  yield* Metric.value(metrics.reconcileTime)
  yield* Metric.update(metrics.activeWorkers, 0)
  yield* Metric.update(metrics.maxConcurrentReconciles, maxConcurrentReconciles)
})

// ---------------------------------------------------------------------------------------------
// Leader election: leader_election_master_status{name}
// ---------------------------------------------------------------------------------------------

/** `leader_election_master_status{name}`: 1 while this process holds the named lease, else 0. */
export const leaderElectionMasterStatus = (name: string): Metric.Gauge<number> =>
  Metric.gauge("leader_election_master_status", {
    description:
      "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. " +
      "'name' is the string used to identify the lease. Please make sure to group by name.",
    attributes: { name }
  })
