/**
 * `metav1.MicroTime`: RFC 3339 with six fractional digits, as Leases and Events carry it.
 * Formatting only; it reads no clock.
 */
export const formatMicroTime = (epochMillis: number): string =>
  new Date(epochMillis).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z")
