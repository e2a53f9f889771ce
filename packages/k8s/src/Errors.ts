/**
 * The typed errors of the Kubernetes API client, and the one place that turns an HTTP status, a
 * `metav1.Status` body or a socket error into one of them. Pure: no I/O, no retries, no logging.
 *
 * Every error carries what was attempted (`verb`, `resource`, `objectName`, `namespace`), the HTTP
 * `code` (0 when no response arrived), the server's `reason` and its `message`, so a log line or a
 * condition can say exactly which call failed and why.
 */
import { Predicate, Schema } from "effect"

/** One entry of `Status.details.causes`: which field was rejected and why. */
export const StatusCause = Schema.Struct({
  reason: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  field: Schema.optional(Schema.String)
})
export type StatusCause = typeof StatusCause.Type

const fields = {
  /** What was attempted: `get`, `list`, `watch`, `create`, `apply`, `patch`, `delete`, `request`. */
  verb: Schema.String,
  /** The REST resource, `plural` or `plural.group` (`configmaps`, `tenants.kleff.io`), or a raw path. */
  resource: Schema.String,
  /**
   * The object's name; empty for collection calls (list, watch, create with generateName). Not
   * `name`: that is the error's own (`Error.name`), which logs and stack traces print first.
   */
  objectName: Schema.String,
  namespace: Schema.optional(Schema.String),
  /** HTTP status; 0 when the request never got a response (connection refused, reset, timeout). */
  code: Schema.Number,
  /** `Status.reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Expired`, …), or the socket error code. */
  reason: Schema.String,
  message: Schema.String
}

/** 404: the object (or its namespace, or the resource type) does not exist. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields) {}

/**
 * 409: `AlreadyExists`, an update conflict, a failed UID/resourceVersion precondition, or a JSON
 * patch that no longer applies (a failed `test` operation: the server answers those with a bare 422;
 * they are preconditions, so they are reported here). Safe to requeue and retry from a fresh read.
 */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", fields) {}

/** 403: RBAC or an admission webhook denied the request. Retrying will not help until policy changes. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", fields) {}

/** 422 (and 400 from validation): the object was rejected; `causes` lists the fields and reasons. */
export class Invalid extends Schema.TaggedError<Invalid>()("Invalid", {
  ...fields,
  causes: Schema.Array(StatusCause)
}) {}

/** 410: the resourceVersion (of a watch, or a list's continue token) is too old: relist. */
export class Gone extends Schema.TaggedError<Gone>()("Gone", fields) {}

/** 5xx, 429, connection refused/reset: the server is (temporarily) not serving. Retry with backoff. */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {
  ...fields,
  /** The server's `Retry-After`, when it sent one. */
  retryAfterSeconds: Schema.optional(Schema.Number)
}) {}

/** The client's per-request deadline (or a watch's idle deadline) passed, or the server answered 504. */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", fields) {}

/** Anything else: 400, 401, 405, 415, a TLS failure, a body that is not JSON. */
export class ApiError extends Schema.TaggedError<ApiError>()("ApiError", fields) {}

/** Every error the client fails with. */
export type KubeError = NotFound | Conflict | Forbidden | Invalid | Gone | Unavailable | Timeout | ApiError

const kubeErrorTags: ReadonlySet<string> = new Set([
  "NotFound",
  "Conflict",
  "Forbidden",
  "Invalid",
  "Gone",
  "Unavailable",
  "Timeout",
  "ApiError"
])

export const isKubeError = (u: unknown): u is KubeError =>
  Predicate.hasProperty(u, "_tag") && Predicate.isString(u._tag) && kubeErrorTags.has(u._tag)

/** Worth retrying the same request after a delay: the server was not reachable or not ready. */
export const isTransient = (error: KubeError): boolean =>
  error._tag === "Unavailable" || error._tag === "Timeout"

/** What a request was about, for error messages. */
export interface RequestContext {
  readonly verb: string
  readonly resource: string
  readonly name: string
  readonly namespace?: string | undefined
}

const contextFields = (context: RequestContext) => ({
  verb: context.verb,
  resource: context.resource,
  objectName: context.name,
  ...(context.namespace === undefined ? {} : { namespace: context.namespace })
})

/** The parts of a `metav1.Status` body the classifier reads. */
interface StatusBody {
  readonly message: string | undefined
  readonly reason: string | undefined
  readonly causes: ReadonlyArray<StatusCause>
  readonly retryAfterSeconds: number | undefined
}

const optionalString = (u: unknown): string | undefined => (Predicate.isString(u) ? u : undefined)

const parseCauses = (u: unknown): ReadonlyArray<StatusCause> => {
  if (!Array.isArray(u)) return []
  const causes: Array<StatusCause> = []
  for (const c of u) {
    if (!Predicate.isObject(c)) continue
    const reason = optionalString(Predicate.hasProperty(c, "reason") ? c.reason : undefined)
    const message = optionalString(Predicate.hasProperty(c, "message") ? c.message : undefined)
    const field = optionalString(Predicate.hasProperty(c, "field") ? c.field : undefined)
    causes.push({
      ...(reason === undefined ? {} : { reason }),
      ...(message === undefined ? {} : { message }),
      ...(field === undefined ? {} : { field })
    })
  }
  return causes
}

/** Reads a `metav1.Status` from a response body; tolerant of bodies that are not JSON or not a Status. */
export const parseStatus = (body: string): StatusBody => {
  let parsed: unknown
  try {
    parsed = body.length === 0 ? undefined : JSON.parse(body)
  } catch {
    parsed = undefined
  }
  if (!Predicate.isObject(parsed)) {
    const text = body.trim()
    return {
      message: text.length === 0 ? undefined : text.slice(0, 500),
      reason: undefined,
      causes: [],
      retryAfterSeconds: undefined
    }
  }
  return statusFromObject(parsed)
}

/** Reads the interesting parts of an already-parsed `metav1.Status` (e.g. a watch ERROR event's object). */
export const statusFromObject = (status: object): StatusBody => {
  const details = Predicate.hasProperty(status, "details") ? status.details : undefined
  const causes = Predicate.hasProperty(details, "causes") ? parseCauses(details.causes) : []
  const retry = Predicate.hasProperty(details, "retryAfterSeconds") ? details.retryAfterSeconds : undefined
  return {
    message: optionalString(Predicate.hasProperty(status, "message") ? status.message : undefined),
    reason: optionalString(Predicate.hasProperty(status, "reason") ? status.reason : undefined),
    causes,
    retryAfterSeconds: Predicate.isNumber(retry) && retry > 0 ? retry : undefined
  }
}

/**
 * True when a 422 answers a JSON patch that could not be applied (a `test` operation failed, or a
 * path it removes no longer exists), as opposed to a patched object that failed validation. The
 * server reports the former with a generic message and no causes (`NewGenericServerResponse`),
 * the latter with `details.causes` naming fields.
 */
const isPatchNotApplicable = (status: StatusBody): boolean => {
  const mentions = (text: string | undefined) =>
    text !== undefined && /test(ing value .*)? failed/i.test(text)
  return (
    status.causes.every((cause) => cause.field === undefined) &&
    (status.causes.length === 0 || mentions(status.message) || status.causes.some((c) => mentions(c.message)))
  )
}

/**
 * Classifies a non-2xx HTTP answer. `jsonPatch` says the request was a JSON patch, whose failed
 * `test` operations are preconditions (Conflict) rather than invalid input.
 */
export const fromResponse = (
  context: RequestContext,
  code: number,
  body: string,
  options?: { readonly retryAfterHeader?: string | undefined; readonly jsonPatch?: boolean | undefined }
): KubeError => {
  const status = parseStatus(body)
  const base = {
    ...contextFields(context),
    code,
    reason: status.reason ?? `HTTP${code}`,
    message: status.message ?? `${context.verb} ${context.resource} ${context.name}: HTTP ${code}`
  }
  switch (code) {
    case 404:
      return new NotFound(base)
    case 409:
      return new Conflict(base)
    case 403:
      return new Forbidden(base)
    case 410:
      return new Gone(base)
    case 422:
      if (options?.jsonPatch === true && isPatchNotApplicable(status)) return new Conflict(base)
      return new Invalid({ ...base, causes: status.causes })
    case 400:
      if (status.reason === "Invalid") return new Invalid({ ...base, causes: status.causes })
      return new ApiError(base)
    case 504:
      return new Timeout(base)
    default: {
      if (code === 429 || code >= 500) {
        const header = options?.retryAfterHeader === undefined ? Number.NaN : Number(options.retryAfterHeader)
        const retryAfterSeconds = status.retryAfterSeconds ?? (Number.isFinite(header) ? header : undefined)
        return new Unavailable(retryAfterSeconds === undefined ? base : { ...base, retryAfterSeconds })
      }
      return new ApiError(base)
    }
  }
}

/** Classifies a watch `ERROR` event's Status object (410 `Expired` → Gone, and so on). */
export const fromWatchStatus = (context: RequestContext, status: object): KubeError => {
  const code = Predicate.hasProperty(status, "code") && Predicate.isNumber(status.code) ? status.code : 500
  return fromResponse(context, code, JSON.stringify(status))
}

/** An `ApiError` the client raises itself (`code` 0: no answer was involved, unless given). */
export const apiError = (context: RequestContext, reason: string, message: string, code = 0): ApiError =>
  new ApiError({ ...contextFields(context), code, reason, message })

/** A 2xx answer whose body is not what the call expects (not JSON, not a watch event). */
export const malformedResponse = (context: RequestContext, code: number, message: string): ApiError =>
  apiError(context, "MalformedResponse", message, code)

/** Socket error codes that mean "the server is not reachable right now". */
const unavailableCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET"
])

/** node:tls codes for a certificate or handshake the client refused (OpenSSL's verify codes and node's own). */
const isTlsCode = (code: string): boolean =>
  /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|HOSTNAME_MISMATCH|EPROTO$)/.test(code)

/**
 * Classifies an error raised by the socket or TLS layer (no HTTP answer): the code `ETIMEDOUT`
 * (which the client also gives its own deadlines) is a `Timeout`; a refused certificate is an
 * `ApiError` whose message names `server`, since retrying will not help until the CA or the
 * kubeconfig changes.
 */
export const fromTransport = (context: RequestContext, error: unknown, server?: string): KubeError => {
  const code = Predicate.hasProperty(error, "code") && Predicate.isString(error.code) ? error.code : "Unknown"
  const message = error instanceof Error ? error.message : String(error)
  const base = { ...contextFields(context), code: 0, reason: code, message }
  if (code === "ETIMEDOUT") return new Timeout({ ...base, reason: "Timeout" })
  if (unavailableCodes.has(code) || message === "socket hang up" || message === "aborted") {
    return new Unavailable(base)
  }
  if (isTlsCode(code)) {
    const where = server === undefined ? "the server" : server
    return new ApiError({ ...base, message: `TLS with ${where} failed: ${message}` })
  }
  return new ApiError(base)
}
