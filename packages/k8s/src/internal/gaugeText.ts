/**
 * Gauge families in the Prometheus text exposition format (0.0.4), written out in chunks as their
 * series are produced: what `/metrics` serves of the series computed at each scrape (one per
 * object in a cache). Hand-written because Effect's exporter renders a metric registry, and a
 * registry built at each scrape costs a metric object and its state per series: at 10,000 Tenants
 * (300,000 series, 60 MB of text) one scrape allocated more than the operator's whole heap limit
 * under a 1 GiB memory limit, and the process died. Here a scrape holds one chunk of text at a
 * time. Only gauges (all the computed series are).
 *
 * It formats; it must not decide what a series is.
 */

/** One series of a gauge family. */
export interface GaugeSample {
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** A gauge family: its name, help text, and its series, produced when the family is written. */
export interface GaugeFamily {
  readonly name: string
  readonly help: string
  readonly samples: () => Iterable<GaugeSample>
}

/** About 64 KiB of text per chunk. */
const chunkLength = 64 * 1024

const escapeHelp = (text: string): string => text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")

/** Whether a label value holds anything to escape (most, names and quantities, hold nothing). */
const needsEscape = /[\\"\n]/

const escapeLabelValue = (text: string): string =>
  needsEscape.test(text) ? text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n") : text

const formatValue = (value: number): string =>
  Number.isNaN(value)
    ? "NaN"
    : value === Number.POSITIVE_INFINITY
      ? "+Inf"
      : value === Number.NEGATIVE_INFINITY
        ? "-Inf"
        : String(value)

/** The line of one series: `name{label="value",…} value`. */
export const seriesLine = (name: string, sample: GaugeSample): string => {
  let labels = ""
  for (const [key, value] of Object.entries(sample.labels)) {
    labels += `${labels === "" ? "" : ","}${key}="${escapeLabelValue(value)}"`
  }
  return `${name}${labels === "" ? "" : `{${labels}}`} ${formatValue(sample.value)}\n`
}

/**
 * The families as text, in chunks: each family's `# HELP` and `# TYPE` lines, then its series
 * (a family with no series is left out, as Effect's exporter leaves out an empty one).
 */
export function* gaugeText(families: ReadonlyArray<GaugeFamily>): Generator<string> {
  let chunk = ""
  for (const family of families) {
    let header = `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} gauge\n`
    for (const sample of family.samples()) {
      chunk += header + seriesLine(family.name, sample)
      header = ""
      if (chunk.length >= chunkLength) {
        yield chunk
        chunk = ""
      }
    }
  }
  if (chunk !== "") yield chunk
}
