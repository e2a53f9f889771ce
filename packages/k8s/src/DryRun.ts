/**
 * What a controller would do for one primary on the live cluster, without writing: every kind
 * the controller reads is listed once into a cache, the primary is observed from those caches
 * exactly as the Controller observes it, and core's `plan` is returned. Reads only.
 */
import { type KubeObject, type ObjectKey, type Plan, plan, type Reconciler } from "@kleff/core"
import { Clock, Effect } from "effect"
import { Client } from "./Client.ts"
import type { KubeError } from "./Errors.ts"
import { caches, kindsOf, observe, selectionOf, typeKey } from "./Snapshot.ts"
import { Cache } from "./Store.ts"

export interface DryRun<D> {
  /** The primary as read, or undefined when there is none at that key. */
  readonly primary: KubeObject | undefined
  readonly plan: Plan<D> | undefined
}

export const planOnce = Effect.fnUntraced(function* <P extends KubeObject, D>(
  reconciler: Reconciler<P, D>,
  key: ObjectKey
): Effect.fn.Return<DryRun<D>, KubeError, Client> {
  const client = yield* Client
  const byType = new Map<string, Cache>()
  yield* Effect.forEach(
    kindsOf(reconciler),
    (type) =>
      Effect.map(client.list(type, selectionOf(reconciler, type)), (list) => {
        // The reconciler's own managed-fields entry is how the plan knows which fields it owns.
        const cache = new Cache({ managers: new Set([reconciler.name]), type })
        cache.apply({ _tag: "Restarted", objects: list.items, resourceVersion: list.resourceVersion })
        byType.set(typeKey(type), cache)
      }),
    { concurrency: 4, discard: true }
  )
  const primary = byType.get(typeKey(reconciler.primary))?.get(key)
  if (primary === undefined) return { primary, plan: undefined }
  const now = new Date(yield* Clock.currentTimeMillis).toISOString()
  return { primary, plan: plan(reconciler, observe(primary, caches(byType, reconciler)), now) }
})
