/**
 * Drift repair, timed: a managed child of a converged tenant is deleted (a NetworkPolicy) or
 * edited (a ResourceQuota's pods limit), then read every 10 ms until the operator has put it back.
 * Owns the drift and its timing only; the operator runs elsewhere.
 */
import type { KubeObject } from "@kleff/core"
import { Client, type Errors } from "@kleff/k8s"
import { Effect } from "effect"
import { defaultDenyPolicyName } from "../src/desired/Isolation.ts"
import { resourceQuotaName } from "../src/desired/Quota.ts"
import { NetworkPolicyType, ResourceQuotaType } from "../src/desired/ResourceTypes.ts"

/** Milliseconds from the drift to its repair, for the tenant named `tenant`. */
export const driftRepair = (
  kind: "delete" | "edit",
  tenant: string
): Effect.Effect<number, Errors.KubeError, Client.Client> =>
  Effect.gen(function* () {
    const client = yield* Client.Client
    const namespace = `tenant-${tenant}`
    if (kind === "delete") {
      const before = yield* client.get(NetworkPolicyType, defaultDenyPolicyName, namespace)
      yield* client.delete(NetworkPolicyType, defaultDenyPolicyName, { namespace })
      const start = performance.now()
      for (;;) {
        const now = yield* client
          .get(NetworkPolicyType, defaultDenyPolicyName, namespace)
          .pipe(Effect.catchTag("NotFound", () => Effect.succeed(undefined)))
        if (now !== undefined && now.metadata.uid !== before.metadata.uid) return performance.now() - start
        yield* Effect.sleep("10 millis")
      }
    }
    const pods = (quota: KubeObject) =>
      (quota.spec as { hard?: Record<string, string> } | undefined)?.hard?.pods
    const before = yield* client.get(ResourceQuotaType, resourceQuotaName, namespace)
    yield* client.patch(
      ResourceQuotaType,
      resourceQuotaName,
      { type: "merge", body: { spec: { hard: { pods: "9999" } } } },
      { namespace, fieldManager: "kleff-bench-drift" }
    )
    const start = performance.now()
    for (;;) {
      const now = yield* client.get(ResourceQuotaType, resourceQuotaName, namespace)
      if (pods(now) === pods(before)) return performance.now() - start
      yield* Effect.sleep("10 millis")
    }
  })
