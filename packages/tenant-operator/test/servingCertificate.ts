/**
 * A self-signed serving certificate for a loopback admission webhook: a new P-256 key and an
 * X.509 v3 certificate for one IP address (serverAuth, valid for a day), which is also the CA
 * bundle the API server is given to trust it. Test helper; it writes no files.
 *
 * Hand-written DER because Node.js can read certificates (`X509Certificate`) and sign, but has no
 * way to make one, and the alternatives are a new dependency or `openssl`, which the project does
 * not require. Only the few ASN.1 types a certificate needs are encoded here.
 */
import { generateKeyPairSync, randomBytes, sign } from "node:crypto"

export interface ServingCertificate {
  /** PEM certificate: the server's `tls.crt`, and the CA bundle of the webhook configuration. */
  readonly certificate: string
  /** PEM PKCS#8 private key: the server's `tls.key`. */
  readonly privateKey: string
}

const tlv = (tag: number, content: Buffer): Buffer => {
  const length = content.length
  if (length < 0x80) return Buffer.concat([Buffer.from([tag, length]), content])
  const bytes: Array<number> = []
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256)
  return Buffer.concat([Buffer.from([tag, 0x80 | bytes.length, ...bytes]), content])
}

const sequence = (...items: ReadonlyArray<Buffer>) => tlv(0x30, Buffer.concat(items))
const set = (...items: ReadonlyArray<Buffer>) => tlv(0x31, Buffer.concat(items))
const explicit = (tagNumber: number, content: Buffer) => tlv(0xa0 + tagNumber, content)
const octetString = (content: Buffer) => tlv(0x04, content)
const bitString = (content: Buffer, unusedBits = 0) =>
  tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), content]))
const booleanTrue = tlv(0x01, Buffer.from([0xff]))
const utf8String = (text: string) => tlv(0x0c, Buffer.from(text, "utf8"))

const objectIdentifier = (dotted: string): Buffer => {
  const [first = 0, second = 0, ...rest] = dotted.split(".").map(Number)
  const bytes: Array<number> = [first * 40 + second]
  for (const arc of rest) {
    const chunk: Array<number> = [arc & 0x7f]
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128))
      chunk.unshift(0x80 | (value & 0x7f))
    bytes.push(...chunk)
  }
  return tlv(0x06, Buffer.from(bytes))
}

/** UTCTime, `YYMMDDHHMMSSZ` (certificates use it for years before 2050). */
const utcTime = (date: Date) =>
  tlv(0x17, Buffer.from(`${date.toISOString().slice(2, 19).replace(/[-T:]/g, "")}Z`, "ascii"))

const commonName = (name: string) => sequence(set(sequence(objectIdentifier("2.5.4.3"), utf8String(name))))

const extension = (oid: string, critical: boolean, value: Buffer) =>
  sequence(objectIdentifier(oid), ...(critical ? [booleanTrue] : []), octetString(value))

const ipv4 = (address: string): Buffer => {
  const parts = address.split(".").map(Number)
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) {
    throw new Error(`not an IPv4 address: ${address}`)
  }
  return Buffer.from(parts)
}

const pem = (label: string, der: Buffer): string =>
  `-----BEGIN ${label}-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END ${label}-----\n`

const ecdsaWithSha256 = sequence(objectIdentifier("1.2.840.10045.4.3.2"))

/** A new key and a self-signed certificate for `ip` (an IPv4 address), named `name`. */
export const servingCertificate = (name: string, ip: string): ServingCertificate => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" })
  const now = Date.now()
  // A positive INTEGER: a first byte without its top bit, then random bytes.
  const serial = Buffer.concat([Buffer.from([0x01]), randomBytes(15)])
  const extensions = [
    // A CA (it signs itself, and is the bundle the client trusts) that may also serve.
    extension("2.5.29.19", true, sequence(booleanTrue)),
    // keyUsage: digitalSignature (bit 0) and keyCertSign (bit 5); bits 6 and 7 unused.
    extension("2.5.29.15", true, bitString(Buffer.from([0x84]), 2)),
    extension("2.5.29.37", false, sequence(objectIdentifier("1.3.6.1.5.5.7.3.1"))),
    // subjectAltName: one iPAddress ([7], implicitly an OCTET STRING).
    extension("2.5.29.17", false, sequence(tlv(0x87, ipv4(ip))))
  ]
  const toBeSigned = sequence(
    explicit(0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serial),
    ecdsaWithSha256,
    commonName(name),
    sequence(utcTime(new Date(now - 60 * 60_000)), utcTime(new Date(now + 24 * 60 * 60_000))),
    commonName(name),
    publicKey.export({ type: "spki", format: "der" }),
    explicit(3, sequence(...extensions))
  )
  const signature = sign("sha256", toBeSigned, privateKey)
  const certificate = sequence(toBeSigned, ecdsaWithSha256, bitString(signature))
  return {
    certificate: pem("CERTIFICATE", certificate),
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString()
  }
}
