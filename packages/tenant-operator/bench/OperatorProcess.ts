/**
 * The operator under benchmark as a child process: `tenant-operator run` on free loopback ports
 * for health probes and metrics, its logs in a file, its readiness from `/readyz`, its resident
 * memory from `/proc/<pid>/status`, and a graceful stop (SIGTERM, as a kubelet sends).
 * It knows nothing about what is measured.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, existsSync, openSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import type { MemoryCgroup } from "./MemoryCgroup.ts"

const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))
const memoryProbe = fileURLToPath(new URL("./MemoryProbe.mjs", import.meta.url))

/**
 * The environment the image's final stage sets (`ENV` in deploy/Dockerfile, which
 * `test/deploy/image.test.ts` holds equal to this), so the benchmark measures the process a pod runs.
 */
export const imageEnvironment: Readonly<Record<string, string>> = {
  NODE_ENV: "production",
  MALLOC_ARENA_MAX: "2"
}

export const sleep = (millis: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, millis))

/** A TCP port nothing listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

export interface OperatorProcess {
  readonly pid: number
  readonly metricsPort: number
  readonly healthPort: number
  readonly log: string
  /** Memory after full garbage collections (through `MemoryProbe`). */
  readonly memory: () => Promise<Memory>
  /** Resolves once `/readyz` answers 200 (every cache has its first list). */
  readonly ready: (timeoutMillis?: number) => Promise<void>
  /** SIGTERM, then SIGKILL after `graceMillis`; resolves with the exit code. */
  readonly stop: (graceMillis?: number) => Promise<number | null>
}

export const startOperator = async (options: {
  readonly kubeconfig: string
  readonly concurrency: number
  readonly log: string
  /** More `tenant-operator run` flags (e.g. `--enable-usage=false`). */
  readonly extraArgs?: ReadonlyArray<string>
  /** The operator's entry point: the production bundle (`bundle.ts`); the sources' `src/bin.ts` by default. */
  readonly script?: string
  /** Start the process inside this memory cgroup (before node starts, as in a pod). */
  readonly cgroup?: MemoryCgroup
}): Promise<OperatorProcess> => {
  const metricsPort = await freePort()
  const healthPort = await freePort()
  const fd = openSync(options.log, "a")
  const memoryFile = `${options.log}.memory.json`
  const command = [
    process.execPath,
    "--expose-gc",
    "--import",
    memoryProbe,
    options.script ?? bin,
    "run",
    "--kubeconfig",
    options.kubeconfig,
    "--metrics-bind-address",
    `127.0.0.1:${metricsPort}`,
    "--health-probe-bind-address",
    `127.0.0.1:${healthPort}`,
    "--max-concurrent-reconciles",
    String(options.concurrency),
    ...(options.extraArgs ?? [])
  ]
  // Through the cgroup's shell, which `exec`s node: the pid is the operator's.
  const [file, ...args] = options.cgroup === undefined ? command : options.cgroup.enter(command)
  const child: ChildProcess = spawn(file as string, args, {
    stdio: ["ignore", fd, fd],
    env: { ...process.env, ...imageEnvironment, KLEFF_BENCH_MEMORY_FILE: memoryFile }
  })
  closeSync(fd)
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  let exitCode: number | null | undefined
  void exited.then((code) => {
    exitCode = code
  })
  const pid = child.pid
  if (pid === undefined) throw new Error("the operator did not start")

  const ready = async (timeoutMillis = 120_000) => {
    const deadline = Date.now() + timeoutMillis
    while (Date.now() < deadline) {
      if (exitCode !== undefined) throw new Error(`the operator exited with ${exitCode}; see ${options.log}`)
      const ok = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then(
        (response) => response.ok,
        () => false
      )
      if (ok) return
      await sleep(100)
    }
    throw new Error(`the operator was not ready within ${timeoutMillis} ms; see ${options.log}`)
  }

  const stop = async (graceMillis = 40_000) => {
    if (exitCode !== undefined) return exitCode
    child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMillis)
    const code = await exited
    clearTimeout(timer)
    return code
  }

  const collect = async (): Promise<NodeJS.MemoryUsage> => {
    rmSync(memoryFile, { force: true })
    child.kill("SIGUSR2")
    for (let waited = 0; !existsSync(memoryFile); waited += 50) {
      if (waited > 20_000) throw new Error(`no memory report from the operator; see ${options.log}`)
      await sleep(50)
    }
    return JSON.parse(readFileSync(memoryFile, "utf8")) as NodeJS.MemoryUsage
  }

  const memory = async (): Promise<Memory> => {
    // A last-resort GC also releases the pages V8 keeps pooled after a peak (what its memory
    // reducer does by itself within minutes of idling); a second one, a little later, settles it.
    await collect()
    await sleep(2000)
    const usage = await collect()
    return {
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      heapTotal: usage.heapTotal,
      external: usage.external,
      peak: peakRss(pid)
    }
  }

  return { pid, metricsPort, healthPort, log: options.log, memory, ready, stop }
}

export interface Memory {
  /** Resident set size after full (last-resort) garbage collections, bytes. */
  readonly rss: number
  /** V8 heap in use after full garbage collections: what the process retains, bytes. */
  readonly heapUsed: number
  /** V8 heap reserved (committed) after full garbage collections, bytes. */
  readonly heapTotal: number
  /** Memory of C++ objects bound to JavaScript objects (Buffers included) after full GCs, bytes. */
  readonly external: number
  /** Peak resident set size since the process started (VmHWM), bytes. */
  readonly peak: number
}

/** VmHWM of a process (Linux). */
const peakRss = (pid: number): number =>
  Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024
