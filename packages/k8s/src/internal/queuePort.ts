/**
 * The side door between a `WorkQueue` and the workers that drain it (`workers.ts`): the
 * synchronous steps a worker takes on every key, registered by `WorkQueue.make` per queue. It
 * lives here rather than on the `WorkQueue` interface so the package's public API stays the
 * queue's Effect operations. It must hold no state beyond that registry.
 */
import type { Effect, Option } from "effect"
import type { RateLimiter } from "../RateLimiter.ts"
import type { WorkQueue } from "../WorkQueue.ts"

/** Where a worker records the key it holds, written in the same step the key is taken. */
export interface Slot {
  key: string | undefined
}

export interface QueuePort {
  /** As `WorkQueue.get`, also writing the taken key into `slot` in the same step. */
  readonly getInto: (slot: Slot) => Effect.Effect<Option.Option<string>>
  readonly doneUnsafe: (key: string) => void
  readonly addAfterUnsafe: (key: string, millis: number) => void
  readonly addRateLimitedUnsafe: (key: string) => void
  readonly forgetUnsafe: (key: string) => void
  /** The queue's rate limiter, for delays the workers compute themselves. */
  readonly rateLimiter: RateLimiter
}

const ports = new WeakMap<WorkQueue, QueuePort>()

export const registerPort = (queue: WorkQueue, port: QueuePort): void => {
  ports.set(queue, port)
}

/** The port of a queue made by `WorkQueue.make`, if it is one. */
export const portOf = (queue: WorkQueue): QueuePort | undefined => ports.get(queue)
