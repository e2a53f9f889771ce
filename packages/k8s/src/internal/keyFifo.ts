/**
 * The first-in-first-out list of waiting keys inside a `WorkQueue` priority: O(1) push and
 * shift over parallel arrays with a moving head, compacted once half of it is consumed. Each
 * entry carries a sequence number; an entry is valid only while it matches the key's current
 * sequence in the queue's dirty set, so promoting or re-queuing a key never searches the list:
 * the old entry simply goes stale and is skipped. Hand-written because no `effect` collection
 * offers a mutable queue with lazy invalidation. It must not know priorities or time.
 */

/** What the FIFO needs to know about a waiting key: its one valid sequence number. */
export interface Current {
  readonly seq: number
}

export class KeyFifo {
  private keys: Array<string> = []
  private seqs: Array<number> = []
  private head = 0

  /** Entries, stale ones included. */
  get size(): number {
    return this.keys.length - this.head
  }

  push(key: string, seq: number): void {
    this.keys.push(key)
    this.seqs.push(seq)
  }

  /** Removes and returns the first entry whose seq is the key's current one, dropping stale entries before it. */
  shiftValid(current: ReadonlyMap<string, Current>): string | undefined {
    while (this.head < this.keys.length) {
      const i = this.head++
      const key = this.keys[i] as string
      const seq = this.seqs[i] as number
      if (this.head > 1024 && this.head * 2 > this.keys.length) this.compact()
      if (current.get(key)?.seq === seq) return key
    }
    return undefined
  }

  clear(): void {
    this.keys = []
    this.seqs = []
    this.head = 0
  }

  private compact(): void {
    this.keys = this.keys.slice(this.head)
    this.seqs = this.seqs.slice(this.head)
    this.head = 0
  }
}
