/**
 * What a controller would do for one primary on the live cluster, without writing: every kind
 * the controller reads is listed once into a cache, the primary is observed from those caches
 * exactly as the Controller observes it, and core's `plan` is returned. Reads only.
 */
import { type KubeObject, type ObjectKey, type Plan, plan, type Reconciler } from "@kleff/core"
import { Clock, Effect } from "effect"
import { Client } from "./Client.ts"
import type { KubeError } from "./Errors.ts"
import { caches, kindsOf, observe, typeKey } from "./Snapshot.ts"
import { Cache } from "./Store.ts"

export interface DryRun<P extends KubeObject> {
  /** The primary as read, or undefined when there is none at that key. */
  readonly primary: P | undefined
  readonly plan: Plan<P> | undefined
}

export const planOnce = Effect.fnUntraced(function* <P extends KubeObject>(
  reconciler: Reconciler<P>,
  key: ObjectKey
): Effect.fn.Return<DryRun<P>, KubeError, Client> {
  const client = yield* Client
  const byType = new Map<string, Cache>()
  yield* Effect.forEach(
    kindsOf(reconciler),
    (type) =>
      Effect.map(client.list(type), (list) => {
        const cache = new Cache()
        cache.apply({ _tag: "Restarted", objects: list.items, resourceVersion: list.resourceVersion })
        byType.set(typeKey(type), cache)
      }),
    { concurrency: 4, discard: true }
  )
  const primary = byType.get(typeKey(reconciler.primary))?.get(key) as P | undefined
  if (primary === undefined) return { primary, plan: undefined }
  const now = new Date(yield* Clock.currentTimeMillis).toISOString()
  return { primary, plan: plan(reconciler, observe(primary, caches(byType, reconciler)), now) }
})
