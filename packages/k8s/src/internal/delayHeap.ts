/**
 * The delayed keys of a `WorkQueue`: a binary min-heap on the time a key is due, with each
 * entry's position tracked so a key can be moved earlier or removed in O(log n). One heap
 * served by one timer fiber is what lets 10,000 delayed keys cost 10,000 entries, not 10,000
 * fibers. Hand-written because `effect` has no mutable indexed priority queue. It must not
 * sleep or read the clock: the queue's timer loop does.
 */

export interface Delayed {
  readonly key: string
  /** When the key is due (ms, the queue's clock). */
  readyAt: number
  index: number
}

export class DelayHeap {
  private readonly items: Array<Delayed> = []
  private readonly byKey = new Map<string, Delayed>()

  get size(): number {
    return this.items.length
  }

  peek(): Delayed | undefined {
    return this.items[0]
  }

  /** Schedules `key` at `readyAt`, or moves it earlier (never later); returns true if the head changed. */
  schedule(key: string, readyAt: number): boolean {
    const existing = this.byKey.get(key)
    if (existing !== undefined) {
      if (readyAt >= existing.readyAt) return false
      existing.readyAt = readyAt
      this.up(existing.index)
      return existing.index === 0
    }
    const entry: Delayed = { key, readyAt, index: this.items.length }
    this.items.push(entry)
    this.byKey.set(key, entry)
    this.up(entry.index)
    return entry.index === 0
  }

  pop(): Delayed | undefined {
    const top = this.items[0]
    if (top !== undefined) this.removeAt(0)
    return top
  }

  remove(key: string): void {
    const entry = this.byKey.get(key)
    if (entry !== undefined) this.removeAt(entry.index)
  }

  clear(): void {
    this.items.length = 0
    this.byKey.clear()
  }

  private removeAt(index: number): void {
    const entry = this.items[index] as Delayed
    this.byKey.delete(entry.key)
    const last = this.items.pop() as Delayed
    if (index < this.items.length) {
      this.items[index] = last
      last.index = index
      this.down(index)
      this.up(last.index)
    }
  }

  private up(index: number): void {
    const entry = this.items[index] as Delayed
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = this.items[parentIndex] as Delayed
      if (parent.readyAt <= entry.readyAt) break
      this.items[index] = parent
      parent.index = index
      index = parentIndex
    }
    this.items[index] = entry
    entry.index = index
  }

  private down(index: number): void {
    const n = this.items.length
    const entry = this.items[index] as Delayed
    for (;;) {
      const left = 2 * index + 1
      if (left >= n) break
      const right = left + 1
      let child = left
      if (right < n && (this.items[right] as Delayed).readyAt < (this.items[left] as Delayed).readyAt)
        child = right
      const childEntry = this.items[child] as Delayed
      if (childEntry.readyAt >= entry.readyAt) break
      this.items[index] = childEntry
      childEntry.index = index
      index = child
    }
    this.items[index] = entry
    entry.index = index
  }
}
