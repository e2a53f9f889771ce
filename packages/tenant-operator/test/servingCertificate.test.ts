/**
 * The loopback webhook's certificate (servingCertificate.ts) as TLS clients see it: Node's own
 * X.509 parser reads it, its signature verifies with its own key, it names exactly the IP it was
 * made for, and a TLS client that trusts it (as its CA bundle) completes a handshake to that IP.
 * The API server (Go's verifier) trusting it is proven by the Gatekeeper end-to-end test.
 */
import { createPrivateKey, X509Certificate } from "node:crypto"
import { once } from "node:events"
import type { AddressInfo } from "node:net"
import { connect, createServer } from "node:tls"
import { assert, describe, it } from "@effect/vitest"
import { servingCertificate } from "./servingCertificate.ts"

describe("servingCertificate", () => {
  const made = servingCertificate("kleff-test-webhook", "127.0.0.1")
  const certificate = new X509Certificate(made.certificate)

  it("is a self-signed CA certificate for the IP, with its key, serving TLS servers, valid now", () => {
    assert.strictEqual(certificate.subject, "CN=kleff-test-webhook")
    assert.strictEqual(certificate.issuer, certificate.subject)
    assert.isTrue(certificate.ca)
    assert.isTrue(certificate.verify(certificate.publicKey))
    assert.isTrue(certificate.checkPrivateKey(createPrivateKey(made.privateKey)))
    assert.strictEqual(certificate.checkIP("127.0.0.1"), "127.0.0.1")
    assert.isUndefined(certificate.checkIP("127.0.0.2"))
    assert.isUndefined(certificate.checkHost("localhost"))
    assert.deepStrictEqual(certificate.keyUsage, ["1.3.6.1.5.5.7.3.1"])
    const now = Date.now()
    assert.isTrue(certificate.validFromDate.getTime() < now && now < certificate.validToDate.getTime())
  })

  it("a fresh key and serial each time", () => {
    const other = new X509Certificate(servingCertificate("kleff-test-webhook", "127.0.0.1").certificate)
    assert.notStrictEqual(other.serialNumber, certificate.serialNumber)
    assert.notStrictEqual(other.fingerprint256, certificate.fingerprint256)
  })

  it("a TLS client trusting it as its CA bundle connects to the IP", async () => {
    const server = createServer({ cert: made.certificate, key: made.privateKey }, (socket) =>
      socket.end("ok")
    )
    server.listen(0, "127.0.0.1")
    await once(server, "listening")
    try {
      const { port } = server.address() as AddressInfo
      const socket = connect({ host: "127.0.0.1", port, ca: made.certificate })
      await once(socket, "secureConnect")
      assert.isTrue(socket.authorized)
      socket.destroy()
    } finally {
      server.close()
    }
  })

  it("refuses addresses that are not IPv4", () => {
    assert.throws(() => servingCertificate("x", "localhost"), /not an IPv4 address/)
  })
})
