/**
 * One request/response on a node:http(s) agent, the body read whole as text: the path every write
 * and read of the operator takes (13 a tenant while provisioning). Hand-written on `node:http`
 * rather than sent through Effect's `HttpClient`, which the watches keep: per request the client
 * builds a request object, a URL, two header sets, a span and a scoped fiber for the body, and a
 * CPU profile of the operator put that pipeline, with the fibers it runs on, among the largest
 * costs of its own process. Measured in the operator benchmark (1,000 Tenants, two pairs of runs,
 * alternating): the operator's CPU went from 27.4 and 31.2 ms a tenant to 23.6 and 27.3.
 *
 * It owns the socket of one exchange, nothing else: interrupting the effect destroys the request;
 * a failure is node's own error (`cause`), for the transport to classify and, on a stale kept-alive
 * socket, to retry. Must not retry, time out or read credentials: that is `transport.ts`.
 */
import * as Http from "node:http"
import * as Https from "node:https"
import { Data, Effect } from "effect"

/** What one exchange sends. */
export interface NodeRequest {
  readonly method: string
  /** The whole URL, query included. */
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string | undefined
}

/** The answer: status, headers with lower-case names (a repeated header's values joined by `, `), body. */
export interface NodeResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** A request that failed before its answer was read whole: node's error, as it was raised. */
export class NodeRequestError extends Data.TaggedError("NodeRequestError")<{ readonly cause: unknown }> {}

const headersOf = (incoming: Http.IncomingHttpHeaders): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const name in incoming) {
    const value = incoming[name]
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return headers
}

/** Sends `request` through `agent` (an `Https.Agent` for an `https:` URL) and reads the answer whole. */
export const send = (
  agent: Http.Agent,
  request: NodeRequest
): Effect.Effect<NodeResponse, NodeRequestError> =>
  Effect.callback<NodeResponse, NodeRequestError>((resume) => {
    const headers: Record<string, string | number> = { ...request.headers }
    if (request.body !== undefined) headers["content-length"] = Buffer.byteLength(request.body)
    const options: Http.RequestOptions = { method: request.method, agent, headers }
    const fail = (error: unknown) => resume(Effect.fail(new NodeRequestError({ cause: error })))
    const outgoing = (request.url.startsWith("https:") ? Https.request : Http.request)(
      request.url,
      options,
      (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => {
          body += chunk
        })
        response.on("error", fail)
        response.on("end", () =>
          resume(
            Effect.succeed({ status: response.statusCode ?? 0, headers: headersOf(response.headers), body })
          )
        )
      }
    )
    outgoing.on("error", fail)
    outgoing.end(request.body)
    return Effect.sync(() => {
      outgoing.destroy()
    })
  })
