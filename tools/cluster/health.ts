// health.ts owns the health probes of the control plane: etcd /health over
// HTTP, kube-apiserver /readyz and kube-controller-manager /healthz over
// HTTPS (verified against the cluster CA, authenticated with the admin client
// certificate), and the wait loop that shows progress while a component starts.

import { readFileSync } from "node:fs"
import type { IncomingMessage } from "node:http"
import { request as httpRequest } from "node:http"
import { request as httpsRequest } from "node:https"
import { join } from "node:path"
import { formatDuration, info } from "./log.ts"
import { LOOPBACK } from "./ports.ts"

export interface ProbeResult {
  ok: boolean
  detail: string
}

/** TLS material for HTTPS probes, read from a PKI directory. */
export interface ClientTLS {
  ca: Buffer
  cert: Buffer
  key: Buffer
}

export function clientTLS(pkiDir: string): ClientTLS {
  return {
    ca: readFileSync(join(pkiDir, "ca.crt")),
    cert: readFileSync(join(pkiDir, "admin.crt")),
    key: readFileSync(join(pkiDir, "admin.key"))
  }
}

const PROBE_TIMEOUT_MS = 3_000

function collect(
  response: IncomingMessage,
  resolve: (result: ProbeResult) => void,
  isOk: (status: number, body: string) => boolean
): void {
  let body = ""
  response.setEncoding("utf8")
  response.on("data", (chunk: string) => {
    if (body.length < 4096) body += chunk
  })
  response.on("end", () => {
    const status = response.statusCode ?? 0
    resolve({
      ok: isOk(status, body),
      detail: `HTTP ${status}: ${body.trim().split("\n").slice(-5).join(" | ")}`
    })
  })
  response.on("error", (error) => resolve({ ok: false, detail: error.message }))
}

/** GET https://127.0.0.1:port/path with the cluster CA and admin client certificate. */
export function probeHTTPS(port: number, path: string, tls: ClientTLS): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      {
        host: LOOPBACK,
        port,
        path,
        method: "GET",
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        timeout: PROBE_TIMEOUT_MS,
        agent: false
      },
      (response) => collect(response, resolve, (status, body) => status === 200 && body.trim() === "ok")
    )
    req.on("timeout", () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)))
    req.on("error", (error) => resolve({ ok: false, detail: error.message }))
    req.end()
  })
}

/** GET http://127.0.0.1:port/health of etcd. */
export function probeEtcd(port: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = httpRequest(
      { host: LOOPBACK, port, path: "/health", method: "GET", timeout: PROBE_TIMEOUT_MS, agent: false },
      (response) =>
        collect(response, resolve, (status, body) => status === 200 && /"health"\s*:\s*"true"/.test(body))
    )
    req.on("timeout", () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)))
    req.on("error", (error) => resolve({ ok: false, detail: error.message }))
    req.end()
  })
}

export interface WaitOptions {
  label: string
  timeoutMs: number
  probe: () => Promise<ProbeResult>
  /** Returns a reason when the component has died, to stop waiting early. */
  died: () => string | undefined
  intervalMs?: number
  progressEveryMs?: number
}

/** Poll probe until ok; throws with the last probe detail on timeout or death. */
export async function waitUntilHealthy(options: WaitOptions): Promise<number> {
  const started = Date.now()
  const interval = options.intervalMs ?? 250
  const progressEvery = options.progressEveryMs ?? 5_000
  let nextProgress = started + progressEvery
  let last: ProbeResult = { ok: false, detail: "not probed yet" }
  for (;;) {
    last = await options.probe()
    if (last.ok) return Date.now() - started
    const death = options.died()
    if (death !== undefined) throw new Error(`${options.label} exited before becoming ready (${death})`)
    const now = Date.now()
    if (now - started > options.timeoutMs) {
      throw new Error(
        `${options.label} not ready after ${formatDuration(options.timeoutMs)}; last check: ${last.detail}`
      )
    }
    if (now >= nextProgress) {
      info(`  waiting for ${options.label} (${formatDuration(now - started)}): ${last.detail}`)
      nextProgress = now + progressEvery
    }
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
}
