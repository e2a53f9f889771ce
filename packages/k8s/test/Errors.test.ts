// Classification of API answers and socket failures into typed errors.
import { assert, describe, it } from "@effect/vitest"
import * as Errors from "../src/Errors.ts"

const context = { verb: "apply", resource: "configmaps", name: "cm", namespace: "ns" }

const status = (code: number, reason: string, message: string, details?: object) =>
  JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message, details })

describe("Errors.fromResponse", () => {
  it("maps status codes to tags and keeps the request context and the server's message", () => {
    const notFound = Errors.fromResponse(context, 404, status(404, "NotFound", 'configmaps "cm" not found'))
    assert.strictEqual(notFound._tag, "NotFound")
    assert.strictEqual(notFound.message, 'configmaps "cm" not found')
    assert.strictEqual(notFound.verb, "apply")
    assert.strictEqual(notFound.namespace, "ns")
    assert.strictEqual(notFound.reason, "NotFound")
    assert.strictEqual(notFound.objectName, "cm")
    // What logs and stack traces print first is the error's kind, not the object's name.
    assert.strictEqual(notFound.name, "NotFound")
    assert.strictEqual(
      String(Errors.fromResponse(context, 404, "404 page not found")),
      "NotFound: 404 page not found"
    )
    assert.strictEqual(Errors.fromResponse(context, 409, status(409, "Conflict", "x"))._tag, "Conflict")
    assert.strictEqual(Errors.fromResponse(context, 403, status(403, "Forbidden", "x"))._tag, "Forbidden")
    assert.strictEqual(Errors.fromResponse(context, 410, status(410, "Expired", "x"))._tag, "Gone")
    assert.strictEqual(Errors.fromResponse(context, 504, status(504, "Timeout", "x"))._tag, "Timeout")
    assert.strictEqual(Errors.fromResponse(context, 400, status(400, "BadRequest", "x"))._tag, "ApiError")
    assert.strictEqual(Errors.fromResponse(context, 401, "Unauthorized")._tag, "ApiError")
  })

  it("Invalid carries the causes", () => {
    const error = Errors.fromResponse(
      context,
      422,
      status(422, "Invalid", "ConfigMap is invalid", {
        causes: [{ reason: "FieldValueInvalid", message: "Invalid value", field: "metadata.name" }]
      })
    )
    assert.strictEqual(error._tag, "Invalid")
    if (error._tag === "Invalid") {
      assert.deepStrictEqual(error.causes, [
        { reason: "FieldValueInvalid", message: "Invalid value", field: "metadata.name" }
      ])
    }
  })

  it("a JSON patch that no longer applies (failed test) is a Conflict, but only for JSON patches", () => {
    // What kube-apiserver 1.36 answers for a failed `test` operation: no details at all.
    const bare = status(422, "Invalid", "the server rejected our request due to an error in our request")
    assert.strictEqual(Errors.fromResponse(context, 422, bare, { jsonPatch: true })._tag, "Conflict")
    assert.strictEqual(Errors.fromResponse(context, 422, bare)._tag, "Invalid")
    const described = status(422, "Invalid", "the server rejected our request", {
      causes: [
        { reason: "UnexpectedServerResponse", message: "testing value /metadata/uid failed: test failed" }
      ]
    })
    assert.strictEqual(Errors.fromResponse(context, 422, described, { jsonPatch: true })._tag, "Conflict")
    // A patched object that fails validation stays Invalid.
    const validation = status(422, "Invalid", "ConfigMap is invalid", {
      causes: [{ reason: "FieldValueInvalid", message: "Invalid value", field: "metadata.finalizers[0]" }]
    })
    assert.strictEqual(Errors.fromResponse(context, 422, validation, { jsonPatch: true })._tag, "Invalid")
  })

  it("5xx and 429 are Unavailable with Retry-After", () => {
    const error = Errors.fromResponse(context, 429, status(429, "TooManyRequests", "slow down"), {
      retryAfterHeader: "3"
    })
    assert.strictEqual(error._tag, "Unavailable")
    if (error._tag === "Unavailable") assert.strictEqual(error.retryAfterSeconds, 3)
    const fromDetails = Errors.fromResponse(
      context,
      503,
      status(503, "ServiceUnavailable", "x", { retryAfterSeconds: 1 })
    )
    if (fromDetails._tag === "Unavailable") assert.strictEqual(fromDetails.retryAfterSeconds, 1)
    else assert.fail("expected Unavailable")
    assert.isTrue(Errors.isTransient(error))
  })

  it("tolerates bodies that are not a Status", () => {
    const error = Errors.fromResponse(context, 500, "<html>oops</html>")
    assert.strictEqual(error._tag, "Unavailable")
    assert.strictEqual(error.message, "<html>oops</html>")
    assert.strictEqual(Errors.fromResponse(context, 502, "")._tag, "Unavailable")
  })
})

describe("Errors.fromTransport", () => {
  it("connection failures are Unavailable, deadlines Timeout, the rest ApiError", () => {
    const refused = Errors.fromTransport(
      context,
      Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
    )
    assert.strictEqual(refused._tag, "Unavailable")
    assert.strictEqual(refused.code, 0)
    assert.strictEqual(refused.reason, "ECONNREFUSED")
    assert.strictEqual(Errors.fromTransport(context, new Error("socket hang up"))._tag, "Unavailable")
    const deadline = Errors.fromTransport(context, Object.assign(new Error("x"), { code: "ETIMEDOUT" }))
    assert.strictEqual(deadline._tag, "Timeout")
    const tls = Errors.fromTransport(
      context,
      Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" }),
      "https://kube.example:6443"
    )
    assert.strictEqual(tls._tag, "ApiError")
    assert.strictEqual(tls.reason, "DEPTH_ZERO_SELF_SIGNED_CERT")
    assert.include(tls.message, "https://kube.example:6443")
    assert.include(tls.message, "self-signed certificate")
    assert.isTrue(Errors.isKubeError(tls))
    assert.isFalse(Errors.isKubeError(new Error("x")))
  })
})
