/**
 * Kubernetes resource quantities (`resource.Quantity`): parsing, exact arithmetic, value equality,
 * and the string the API server stores for a quantity it is sent. Mirrors `ParseQuantity` and
 * `Quantity.String` of k8s.io/apimachinery v0.36.3 (the version our control plane runs), quirks
 * included; `test/Quantity.golden.json` pins this against the Go code itself.
 *
 * Exact: a bigint mantissa and a power-of-ten scale, never a floating-point number. Pure: no I/O;
 * the only state is a bounded memo of parse results (the same input always gives the same answer).
 * Must not throw on bad input: an invalid quantity is an `InvalidQuantity` failure.
 */
import { Result, Schema } from "effect"

/** How the API server writes a quantity back: the suffix family of the string it was parsed from. */
export type QuantityFormat = "DecimalSI" | "BinarySI" | "DecimalExponent"

/** A quantity's exact value, `mantissa × 10^scale`, and the format it is written back in. */
export interface Quantity {
  /** Carries no trailing zeros (they live in `scale`); zero is `0n` at scale 0. */
  readonly mantissa: bigint
  readonly scale: number
  readonly format: QuantityFormat
  /**
   * The input exactly as written, when the API server stores it verbatim: its parser keeps the
   * original string on a fast path for input that looks canonical, so `1.500` stays `1.500` and
   * `+1` stays `+1` (kubernetes/kubernetes#138165). `undefined` for computed quantities.
   */
  readonly verbatim?: string | undefined
}

/** A string that is not a Kubernetes quantity, and why. */
export class InvalidQuantity extends Schema.TaggedError<InvalidQuantity>()("InvalidQuantity", {
  input: Schema.String,
  message: Schema.String
}) {}

// ---------------------------------------------------------------------------------------------
// Construction and normal form

const TEN = 10n
const ZERO: Quantity = { mantissa: 0n, scale: 0, format: "DecimalSI" }

/** Moves the mantissa's trailing zeros into the scale. */
const normalize = (mantissa: bigint, scale: number, format: QuantityFormat): Quantity => {
  if (mantissa === 0n) return { mantissa: 0n, scale: 0, format }
  let m = mantissa
  let s = scale
  while (m % TEN === 0n) {
    m /= TEN
    s += 1
  }
  return { mantissa: m, scale: s, format }
}

/** The quantity `mantissa × 10^scale`, written back in `format` (DecimalSI unless said). */
export const make = (mantissa: bigint, scale = 0, format: QuantityFormat = "DecimalSI"): Quantity =>
  normalize(mantissa, scale, format)

export const zero: Quantity = ZERO

const abs = (n: bigint): bigint => (n < 0n ? -n : n)

const digitCount = (n: bigint): number => (n === 0n ? 1 : abs(n).toString().length)

const pow10Cache: Array<bigint> = []
const pow10 = (n: number): bigint => {
  if (n < 64) {
    const cached = pow10Cache[n]
    if (cached !== undefined) return cached
    const value = TEN ** BigInt(n)
    pow10Cache[n] = value
    return value
  }
  return TEN ** BigInt(n)
}

// ---------------------------------------------------------------------------------------------
// Parsing (ParseQuantity)

const NANO = -9
const MAX_INT64 = (1n << 63n) - 1n
const MAX_INT32 = 2147483647

const isDigit = (code: number): boolean => code >= 48 && code <= 57
const SUFFIX_LETTERS = "eEinumkKMGTP"

const decimalSuffixes: Readonly<Record<string, number>> = {
  "": 0,
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18
}
const binarySuffixes: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 }

interface Scanned {
  readonly positive: boolean
  /** Integer digits without leading zeros; `"0"` when there are none. */
  readonly num: string
  /** Fraction digits as written (may be empty). */
  readonly denom: string
  readonly suffix: string
  /** Whether the number part as written has any digit (`"."` and `"-."` have none). */
  readonly hasDigits: boolean
}

/** `parseQuantityString`: splits sign, integer digits, fraction digits and suffix; `undefined` when malformed. */
const scan = (str: string): Scanned | undefined => {
  const end = str.length
  let positive = true
  let pos = 0
  if (pos < end) {
    const first = str.charCodeAt(0)
    if (first === 45 /* - */) {
      positive = false
      pos++
    } else if (first === 43 /* + */) {
      pos++
    }
  }
  const zerosStart = pos
  while (pos < end && str.charCodeAt(pos) === 48 /* 0 */) pos++
  if (pos >= end) return { positive, num: "0", denom: "", suffix: "", hasDigits: true }
  const numStart = pos
  while (pos < end && isDigit(str.charCodeAt(pos))) pos++
  const num = pos === numStart ? "0" : str.slice(numStart, pos)
  const hasIntegerDigits = pos > zerosStart
  let denom = ""
  if (pos < end && str.charCodeAt(pos) === 46 /* . */) {
    pos++
    const denomStart = pos
    while (pos < end && isDigit(str.charCodeAt(pos))) pos++
    denom = str.slice(denomStart, pos)
  }
  const hasDigits = hasIntegerDigits || denom.length > 0
  const suffixStart = pos
  while (pos < end && SUFFIX_LETTERS.includes(str.charAt(pos))) pos++
  if (pos < end) {
    const code = str.charCodeAt(pos)
    if (code === 45 || code === 43) pos++
  }
  while (pos < end && isDigit(str.charCodeAt(pos))) pos++
  if (pos < end) return undefined
  return { positive, num, denom, suffix: str.slice(suffixStart), hasDigits }
}

interface Suffix {
  readonly base: 2 | 10
  readonly exponent: number
  readonly format: QuantityFormat
}

/** `quantitySuffixer.interpret`. Exponents outside int32 are refused (v0.36.3 would truncate them). */
const interpret = (suffix: string): Suffix | undefined => {
  const decimal = decimalSuffixes[suffix]
  if (decimal !== undefined) return { base: 10, exponent: decimal, format: "DecimalSI" }
  const binary = binarySuffixes[suffix]
  if (binary !== undefined) return { base: 2, exponent: binary, format: "BinarySI" }
  const first = suffix.charAt(0)
  if (suffix.length > 1 && (first === "e" || first === "E")) {
    const text = suffix.slice(1)
    if (!/^[+-]?[0-9]+$/.test(text)) return undefined
    const exponent = Number(text)
    if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > MAX_INT32) return undefined
    return { base: 10, exponent, format: "DecimalExponent" }
  }
  return undefined
}

const invalid = (input: string, message: string): Result.Result<Quantity, InvalidQuantity> =>
  Result.fail(new InvalidQuantity({ input, message }))

/** Rounds a non-zero `mantissa × 10^scale` away from zero to nano precision (`0.9n` → `1n`). */
const roundUpToNano = (mantissa: bigint, scale: number): readonly [bigint, number] => {
  if (scale >= NANO || mantissa === 0n) return [mantissa, scale]
  const shift = NANO - scale
  const magnitude = abs(mantissa)
  const sign = mantissa < 0n ? -1n : 1n
  if (shift > digitCount(magnitude)) return [sign, NANO]
  const divisor = pow10(shift)
  let quotient = magnitude / divisor
  if (magnitude % divisor !== 0n) quotient += 1n
  return [sign * quotient, NANO]
}

/** Whether v0.36.3's parser takes its int64 fast path and keeps the input string verbatim. */
const keepsVerbatim = (scanned: Scanned, suffix: Suffix): boolean => {
  const { num, denom } = scanned
  if (suffix.format === "BinarySI") {
    if (denom.length !== 0) return false
    const precision = 15 - num.length - Math.floor((suffix.exponent * 3) / 10) - 1
    if (precision < 0) return false
    const value = BigInt(num)
    if (value << BigInt(suffix.exponent) > MAX_INT64) return false
    return suffix.exponent % 10 === 0 && value % 8n !== 0n
  }
  const precision = 18 - (num.length + denom.length)
  if (precision < 0) return false
  const scale = suffix.exponent - denom.length
  if (scale < NANO) return false
  const shifted = num + denom
  return scale % 3 === 0 && !shifted.endsWith("000") && shifted.charAt(0) !== "0"
}

const parseUncached = (input: string): Result.Result<Quantity, InvalidQuantity> => {
  if (input.length === 0) return invalid(input, "a quantity must not be empty")
  if (input === "0") return Result.succeed({ ...ZERO, verbatim: "0" })
  const scanned = scan(input)
  if (scanned === undefined) {
    return invalid(
      input,
      `quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`
    )
  }
  const suffix = interpret(scanned.suffix)
  if (suffix === undefined) return invalid(input, "unable to parse quantity's suffix")
  const verbatim = keepsVerbatim(scanned, suffix)
  if (!verbatim && !scanned.hasDigits && !fastPathHandles(scanned, suffix)) {
    return invalid(input, "unable to parse numeric part of quantity")
  }
  let mantissa = BigInt(scanned.num + scanned.denom)
  // `0 - n`, not `-n`: without a fraction `-n` is -0, which is not a small integer, and the
  // optimised code that indexes by the scale (`pow10`) deoptimises on it again and again.
  let scale = 0 - scanned.denom.length
  if (suffix.base === 10) scale += suffix.exponent
  else mantissa <<= BigInt(suffix.exponent)
  if (!scanned.positive) mantissa = -mantissa
  ;[mantissa, scale] = roundUpToNano(mantissa, scale)
  let format = suffix.format
  if (format === "BinarySI" && mantissa !== 0n) {
    const capped = capMagnitude(mantissa, scale)
    mantissa = capped[0]
    scale = capped[1]
    if (compareMagnitudeToOne(mantissa, scale) < 0) format = "DecimalSI"
  }
  const quantity = normalize(mantissa, scale, format)
  return Result.succeed(verbatim ? { ...quantity, verbatim: input } : quantity)
}

/** Whether the int64 fast path parses the number part (so a digit-less `"."` still means zero there). */
const fastPathHandles = (scanned: Scanned, suffix: Suffix): boolean => {
  if (suffix.format === "BinarySI") {
    if (scanned.denom.length !== 0) return false
    const precision = 15 - scanned.num.length - Math.floor((suffix.exponent * 3) / 10) - 1
    return precision >= 0
  }
  const precision = 18 - (scanned.num.length + scanned.denom.length)
  return precision >= 0 && suffix.exponent - scanned.denom.length >= NANO
}

/** BinarySI values are silently capped at 2^63-1 in magnitude. */
const capMagnitude = (mantissa: bigint, scale: number): readonly [bigint, number] => {
  const magnitude = compareMagnitude(abs(mantissa), scale, MAX_INT64, 0)
  if (magnitude <= 0) return [mantissa, scale]
  return [mantissa < 0n ? -MAX_INT64 : MAX_INT64, 0]
}

const compareMagnitudeToOne = (mantissa: bigint, scale: number): number =>
  compareMagnitude(abs(mantissa), scale, 1n, 0)

/** Compares two non-negative `m × 10^s` values without building huge powers when their sizes differ. */
const compareMagnitude = (a: bigint, as: number, b: bigint, bs: number): number => {
  if (a === 0n || b === 0n) return a === b ? 0 : a === 0n ? -1 : 1
  const aOrder = digitCount(a) + as
  const bOrder = digitCount(b) + bs
  if (aOrder !== bOrder) return aOrder < bOrder ? -1 : 1
  const common = Math.min(as, bs)
  const left = a * pow10(as - common)
  const right = b * pow10(bs - common)
  return left === right ? 0 : left < right ? -1 : 1
}

const PARSE_MEMO_LIMIT = 8192
const parseMemo = new Map<string, Result.Result<Quantity, InvalidQuantity>>()

/** Parses a quantity as the API server does. Memoised (bounded): repeated strings parse once. */
export const parse = (input: string): Result.Result<Quantity, InvalidQuantity> => {
  const memo = parseMemo.get(input)
  if (memo !== undefined) return memo
  const result = parseUncached(input)
  if (parseMemo.size >= PARSE_MEMO_LIMIT) parseMemo.clear()
  parseMemo.set(input, result)
  return result
}

// ---------------------------------------------------------------------------------------------
// Writing back (Quantity.String / CanonicalizeBytes)

const decimalSuffixByExponent: Readonly<Record<number, string>> = {
  [-9]: "n",
  [-6]: "u",
  [-3]: "m",
  0: "",
  3: "k",
  6: "M",
  9: "G",
  12: "T",
  15: "P",
  18: "E"
}
const binarySuffixByPower = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"] as const

/** Mantissa and exponent with the exponent lowered to a multiple of three (`1.1e5` → `110`, 3). */
const engineering = (q: Quantity): readonly [bigint, number] => {
  const remainder = q.scale % 3
  if (remainder === 1 || remainder === -2) return [q.mantissa * TEN, q.scale - 1]
  if (remainder === 2 || remainder === -1) return [q.mantissa * 100n, q.scale - 2]
  return [q.mantissa, q.scale]
}

const decimalForm = (q: Quantity, format: QuantityFormat): string => {
  const [mantissa, exponent] = engineering(q)
  if (format === "DecimalSI") {
    const suffix = decimalSuffixByExponent[exponent]
    // Past `E` (or below `n`) DecimalSI has no suffix: write the exponent, as upstream now does
    // (v0.36.3 drops it and corrupts the value, e.g. `1000E` → `1`; see kubernetes#140459).
    return suffix !== undefined ? `${mantissa}${suffix}` : `${mantissa}e${exponent}`
  }
  return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`
}

/** The canonical form of a quantity (`CanonicalizeBytes`), ignoring any verbatim input. */
export const canonicalForm = (q: Quantity): string => {
  if (q.mantissa === 0n) return "0"
  if (q.format !== "BinarySI") return decimalForm(q, q.format)
  // Below 1024 in magnitude, or with a fraction, BinarySI is written as DecimalSI.
  if (q.scale < 0 || compareMagnitude(abs(q.mantissa), q.scale, 1024n, 0) < 0) {
    return decimalForm(q, "DecimalSI")
  }
  let value = q.mantissa * pow10(q.scale)
  let power = 0
  while (power < 6 && value % 1024n === 0n) {
    value /= 1024n
    power++
  }
  if (value % 1024n === 0n) return decimalForm(q, "DecimalSI")
  return `${value}${binarySuffixByPower[power] ?? ""}`
}

/** The string the API server stores for this quantity: the verbatim input when it keeps it, else the canonical form. */
export const serialize = (q: Quantity): string => q.verbatim ?? canonicalForm(q)

/** What the API server stores when sent `input` (`1000m` → `1`, `0.5` → `500m`, `1024Mi` → `1Gi`). */
export const canonical = (input: string): Result.Result<string, InvalidQuantity> =>
  Result.map(parse(input), serialize)

// ---------------------------------------------------------------------------------------------
// Comparison and arithmetic (exact)

export const isZero = (q: Quantity): boolean => q.mantissa === 0n

export const sign = (q: Quantity): -1 | 0 | 1 => (q.mantissa === 0n ? 0 : q.mantissa < 0n ? -1 : 1)

/** Orders two quantities by value (the format does not count). */
export const compare = (a: Quantity, b: Quantity): -1 | 0 | 1 => {
  const sa = sign(a)
  const sb = sign(b)
  if (sa !== sb) return sa < sb ? -1 : 1
  if (sa === 0) return 0
  const magnitude = compareMagnitude(abs(a.mantissa), a.scale, abs(b.mantissa), b.scale)
  const ordered = sa > 0 ? magnitude : -magnitude
  return ordered < 0 ? -1 : ordered > 0 ? 1 : 0
}

/** Equal values, whatever their format: `1Gi` equals `1073741824`, `1000m` equals `1`. */
export const equal = (a: Quantity, b: Quantity): boolean => a.mantissa === b.mantissa && a.scale === b.scale

/**
 * Whether two quantity strings denote the same value. Identical strings are equal without
 * parsing; a string that is not a quantity equals only itself.
 */
export const sameValue = (a: string, b: string): boolean => {
  if (a === b) return true
  const pa = parse(a)
  if (Result.isFailure(pa)) return false
  const pb = parse(b)
  return Result.isSuccess(pb) && equal(pa.success, pb.success)
}

const aligned = (a: Quantity, b: Quantity): readonly [bigint, bigint, number] => {
  const common = Math.min(a.scale, b.scale)
  return [a.mantissa * pow10(a.scale - common), b.mantissa * pow10(b.scale - common), common]
}

/** `a + b`, in `a`'s format (or `b`'s when `a` is zero), as `Quantity.Add`. */
export const add = (a: Quantity, b: Quantity): Quantity => {
  const [ma, mb, scale] = aligned(a, b)
  return normalize(ma + mb, scale, a.mantissa === 0n ? b.format : a.format)
}

/** `a - b`, in `a`'s format (or `b`'s when `a` is zero), as `Quantity.Sub`. */
export const subtract = (a: Quantity, b: Quantity): Quantity => {
  const [ma, mb, scale] = aligned(a, b)
  return normalize(ma - mb, scale, a.mantissa === 0n ? b.format : a.format)
}

export const negate = (q: Quantity): Quantity => ({ mantissa: -q.mantissa, scale: q.scale, format: q.format })

/** `q × factor`, exact. */
export const multiply = (q: Quantity, factor: bigint): Quantity =>
  normalize(q.mantissa * factor, q.scale, q.format)

/**
 * `ceil(q / 10^scale)` rounded away from zero, as `ScaledValue`: `scaledValue(q, -3)` is the
 * milli-value (`1.5` → 1500n, `0.1m` → 1n), `scaledValue(q, 0)` the integer value rounded up.
 */
export const scaledValue = (q: Quantity, scale: number): bigint => {
  if (q.mantissa === 0n) return 0n
  const shift = q.scale - scale
  if (shift >= 0) return q.mantissa * pow10(shift)
  const magnitude = abs(q.mantissa)
  const divisor = pow10(-shift)
  let quotient = magnitude / divisor
  if (magnitude % divisor !== 0n) quotient += 1n
  return q.mantissa < 0n ? -quotient : quotient
}

/**
 * The value as a floating-point number (`250m` → 0.25, `1Gi` → 1073741824): for metrics and
 * display only, where a float is what is wanted; exact work uses `compare` and the arithmetic above.
 */
export const toNumber = (q: Quantity): number =>
  q.scale >= 0 ? Number(q.mantissa) * 10 ** q.scale : Number(q.mantissa) / 10 ** -q.scale
