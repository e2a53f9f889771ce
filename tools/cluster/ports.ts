// ports.ts owns loopback port selection: asking the OS for free ports on
// 127.0.0.1 and checking that a chosen port is still free before use.

import type { Server } from "node:net"
import { createServer } from "node:net"
import { UserError } from "./log.ts"

export const LOOPBACK = "127.0.0.1"

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => resolve(server))
  })
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

/** Whether port can be bound on 127.0.0.1 right now. */
export async function isPortFree(port: number): Promise<boolean> {
  try {
    await close(await listen(port))
    return true
  } catch {
    return false
  }
}

/**
 * One free port per name. A preferred port (e.g. the one a previous cluster in
 * the same directory used, so kubeconfigs stay valid) is kept when still free;
 * the others are chosen by the OS (port 0). All listeners are held until every
 * port is chosen, so the ports are distinct, then released.
 */
export async function pickPorts<K extends string>(
  names: readonly K[],
  preferred: Partial<Record<K, number>> = {}
): Promise<Record<K, number>> {
  const held: Server[] = []
  const ports = {} as Record<K, number>
  try {
    for (const name of names) {
      let server: Server | undefined
      const want = preferred[name]
      if (want !== undefined && want > 0) {
        server = await listen(want).catch(() => undefined)
      }
      server ??= await listen(0)
      held.push(server)
      const address = server.address()
      if (address === null || typeof address === "string") throw new Error("unexpected listener address")
      ports[name] = address.port
    }
  } finally {
    await Promise.all(held.map(close))
  }
  return ports
}

/** Fail with a clear message when a chosen port has been taken in the meantime. */
export async function assertPortFree(port: number, purpose: string): Promise<void> {
  if (!(await isPortFree(port))) {
    throw new UserError(
      `port ${LOOPBACK}:${port}, chosen for ${purpose}, is already in use by another process.\n` +
        "Another program grabbed it after it was chosen; run the command again to pick new ports."
    )
  }
}
