/**
 * Times functions in alternating rounds of one process: the planner benches' clock. On a machine
 * whose speed drifts by 2× from run to run, the ratio of two functions measured in the same
 * rounds is the figure to compare, not their times from two runs.
 *
 * Reads the clock, so it lives outside src/ (exported as `@kleff/core/bench/Rounds`). Must not
 * know what it times.
 */

/** The median of `samples` (sorted in place). */
export const median = (samples: Array<number>): number => {
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)] ?? Number.NaN
}

/** What `alternating` measured. */
export interface Rounds {
  /** Median µs per call of each function, in the order given. */
  readonly perCall: ReadonlyArray<number>
  /** The median over the rounds of the last function's time to the first's (1 with one function). */
  readonly ratio: number
}

/**
 * Median µs per call of each of `runs` over 9 timed rounds, after warming up for about
 * `budgetMs`; with two or more, their rounds alternate, and `ratio` compares the last to the first.
 */
export const alternating = (runs: ReadonlyArray<() => unknown>, budgetMs = 150): Rounds => {
  let iterations = 1
  for (;;) {
    const start = performance.now()
    for (let i = 0; i < iterations; i++) for (const run of runs) run()
    if (performance.now() - start > budgetMs / 5) break
    iterations *= 2
  }
  for (let i = 0; i < iterations * 2; i++) for (const run of runs) run()
  const samples = runs.map((): Array<number> => [])
  const ratios: Array<number> = []
  for (let round = 0; round < 9; round++) {
    const times = runs.map((run) => {
      const start = performance.now()
      for (let i = 0; i < iterations; i++) run()
      return ((performance.now() - start) * 1000) / iterations
    })
    for (const [i, time] of times.entries()) samples[i]?.push(time)
    ratios.push((times[times.length - 1] ?? Number.NaN) / (times[0] ?? Number.NaN))
  }
  return { perCall: samples.map(median), ratio: median(ratios) }
}

/** A Markdown table of `rows` under `header`, columns padded to their widest cell. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`
  return [
    line(header),
    `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`,
    ...rows.map(line)
  ].join("\n")
}
