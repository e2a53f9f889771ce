import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import {
  controllerMetrics,
  initControllerMetrics,
  leaderElectionMasterStatus,
  reconcileTimeBuckets,
  workqueueMetrics
} from "../src/Metrics.ts"

const isolated = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Metric.MetricRegistry, new Map())

describe("Metrics", () => {
  it.effect("renders a labelled counter exactly, escaping label values", () =>
    isolated(
      Effect.gen(function* () {
        const ok = controllerMetrics("tenant")
        const odd = controllerMetrics('we"ird\\name\nx')
        yield* Metric.update(ok.reconcileTotal.success, 3)
        yield* Metric.update(odd.reconcileTotal.error, 1)
        assert.strictEqual(
          yield* PrometheusMetrics.format(),
          [
            "# HELP controller_runtime_reconcile_total Total number of reconciliations per controller",
            "# TYPE controller_runtime_reconcile_total counter",
            'controller_runtime_reconcile_total{controller="tenant",result="success"} 3',
            'controller_runtime_reconcile_total{controller="we\\"ird\\\\name\\nx",result="error"} 1',
            ""
          ].join("\n")
        )
      })
    )
  )

  it.effect("renders a histogram as cumulative buckets with +Inf, sum and count", () =>
    isolated(
      Effect.gen(function* () {
        const latency = Metric.histogram("request_seconds", {
          description: "Request latency",
          attributes: { name: "q" },
          boundaries: [0.1, 1]
        })
        yield* Metric.update(latency, 0.05)
        yield* Metric.update(latency, 0.5)
        yield* Metric.update(latency, 2)
        assert.strictEqual(
          yield* PrometheusMetrics.format(),
          [
            "# HELP request_seconds Request latency",
            "# TYPE request_seconds histogram",
            'request_seconds_bucket{name="q",le="0.1"} 1',
            'request_seconds_bucket{name="q",le="1"} 2',
            'request_seconds_bucket{name="q",le="+Inf"} 3',
            'request_seconds_sum{name="q"} 2.55',
            'request_seconds_count{name="q"} 3',
            ""
          ].join("\n")
        )
      })
    )
  )

  it.effect("controller metrics start at zero with controller-runtime names, labels and buckets", () =>
    isolated(
      Effect.gen(function* () {
        const metrics = controllerMetrics("tenant")
        yield* initControllerMetrics(metrics, 4)
        yield* Metric.update(metrics.reconcileTime, 0.2)
        const text = yield* PrometheusMetrics.format()
        for (const result of ["success", "error", "requeue", "requeue_after"]) {
          assert.include(
            text,
            `controller_runtime_reconcile_total{controller="tenant",result="${result}"} 0\n`
          )
        }
        assert.include(text, 'controller_runtime_reconcile_errors_total{controller="tenant"} 0\n')
        assert.include(text, 'controller_runtime_max_concurrent_reconciles{controller="tenant"} 4\n')
        assert.include(text, 'controller_runtime_active_workers{controller="tenant"} 0\n')
        assert.include(text, "# TYPE controller_runtime_reconcile_time_seconds histogram\n")
        const buckets = text
          .split("\n")
          .filter((l) => l.startsWith("controller_runtime_reconcile_time_seconds_bucket"))
        assert.strictEqual(buckets.length, reconcileTimeBuckets.length + 1)
        assert.include(
          text,
          'controller_runtime_reconcile_time_seconds_bucket{controller="tenant",le="0.15"} 0\n'
        )
        assert.include(
          text,
          'controller_runtime_reconcile_time_seconds_bucket{controller="tenant",le="0.2"} 1\n'
        )
        assert.include(text, 'controller_runtime_reconcile_time_seconds_count{controller="tenant"} 1\n')
      })
    )
  )

  it.effect("workqueue and leader election series carry the controller-runtime labels", () =>
    isolated(
      Effect.gen(function* () {
        const queue = workqueueMetrics("tenant")
        yield* Metric.update(queue.depth, 7)
        yield* Metric.update(queue.adds, 2)
        yield* Metric.update(leaderElectionMasterStatus("kleff-operator"), 1)
        const text = yield* PrometheusMetrics.format()
        assert.include(
          text,
          '# TYPE workqueue_depth gauge\nworkqueue_depth{name="tenant",controller="tenant"} 7\n'
        )
        assert.include(text, 'workqueue_adds_total{name="tenant",controller="tenant"} 2\n')
        assert.include(
          text,
          '# TYPE leader_election_master_status gauge\nleader_election_master_status{name="kleff-operator"} 1\n'
        )
      })
    )
  )

  it.effect("every metric in the registry is rendered, including ones defined elsewhere", () =>
    isolated(
      Effect.gen(function* () {
        const restRequests = Metric.counter("rest_client_requests_total", {
          description: "Number of HTTP requests, partitioned by status code, method, and host.",
          attributes: { code: "200", method: "GET", host: "127.0.0.1:6443" },
          incremental: true
        })
        yield* Metric.update(restRequests, 5)
        const text = yield* PrometheusMetrics.format()
        assert.include(text, 'rest_client_requests_total{code="200",method="GET",host="127.0.0.1:6443"} 5\n')
      })
    )
  )
})
