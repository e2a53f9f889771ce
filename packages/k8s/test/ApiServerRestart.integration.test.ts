// A watch (and the store it feeds) survives a kube-apiserver restart.
//
// Restarting the API server would break every other test sharing the run's cluster, so this test
// starts its own control plane in a temporary directory (reusing the built binaries), restarts its
// kube-apiserver process with the same program and flags (as recorded by tools/cluster in
// cluster.json, whose pid it updates so `down` still stops it), and tears it down afterwards.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, it } from "@effect/vitest"
import { type KubeObject, keyOf } from "@kleff/core"
import { Effect, Layer, Schedule } from "effect"
import { Client } from "../src/Client.ts"
import { isTransient } from "../src/Errors.ts"
import { KubeConfig } from "../src/KubeConfig.ts"
import * as Store from "../src/Store.ts"
import { ConfigMaps, configMap, describeCluster, eventually, Namespaces } from "./cluster.ts"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const clusterCli = path.join(repoRoot, "tools/cluster/cluster.ts")

interface ProcessRecord {
  pid: number
  program: string
  args: Array<string>
  log: string
  startedAt: string
}

const cli = (command: "up" | "down", dir: string): string => {
  const result = spawnSync(process.execPath, [clusterCli, command, "--dir", dir], {
    encoding: "utf8",
    timeout: 20 * 60_000
  })
  if (result.status !== 0) throw new Error(`cluster ${command} failed: ${result.stderr}`)
  return result.stdout.trim().split("\n").pop() ?? ""
}

/** A dedicated cluster for this file, down when the scope closes. */
const ownCluster = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kleff-k8s-restart-"))
    fs.rmSync(dir, { recursive: true })
    return { dir, kubeconfig: cli("up", dir) }
  }),
  ({ dir }) => Effect.sync(() => cli("down", dir))
)

/** Alive and not a zombie (an orphaned component may never be reaped in a container). */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch {
    return process.platform !== "linux"
  }
}

/** Stops kube-apiserver (SIGTERM to its process group) and starts it again with the same flags. */
const restartApiServer = (dir: string) =>
  Effect.gen(function* () {
    const stateFile = path.join(dir, "cluster.json")
    const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as {
      processes: Record<string, ProcessRecord | undefined>
    }
    const record = state.processes["kube-apiserver"]
    if (record === undefined) return yield* Effect.die(new Error(`no kube-apiserver in ${stateFile}`))
    // Like `cluster.ts down`: SIGTERM to the process group, SIGKILL after 15 s of graceful shutdown.
    process.kill(-record.pid, "SIGTERM")
    yield* eventually(
      Effect.sync(() => alive(record.pid)),
      (running) => !running,
      15_000,
      "kube-apiserver to stop"
    ).pipe(
      Effect.catch(() =>
        Effect.sync(() => process.kill(-record.pid, "SIGKILL")).pipe(
          Effect.andThen(
            eventually(
              Effect.sync(() => alive(record.pid)),
              (running) => !running,
              10_000,
              "SIGKILL"
            )
          )
        )
      )
    )
    const log = fs.openSync(record.log, "a")
    const child = spawn(record.program, record.args, { detached: true, stdio: ["ignore", log, log] })
    child.unref()
    fs.closeSync(log)
    if (child.pid === undefined) return yield* Effect.die(new Error("could not restart kube-apiserver"))
    state.processes["kube-apiserver"] = { ...record, pid: child.pid, startedAt: new Date().toISOString() }
    fs.writeFileSync(`${stateFile}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
    fs.renameSync(`${stateFile}.tmp`, stateFile)
  })

const fingerprint = (objects: ReadonlyArray<KubeObject>): string =>
  objects
    .map((o) => `${keyOf(o)}@${o.metadata.resourceVersion}`)
    .sort()
    .join("\n")

describeCluster("Watch across a kube-apiserver restart (own cluster)", () => {
  it.live(
    "the store keeps following the server after kube-apiserver restarts",
    () =>
      Effect.gen(function* () {
        const { dir, kubeconfig } = yield* ownCluster
        const layer = Client.layerWith({ requestTimeout: "5 seconds" }).pipe(
          Layer.provide(KubeConfig.layerFromFile(kubeconfig))
        )
        yield* Effect.gen(function* () {
          const client = yield* Client
          const ns = "restart"
          yield* client.create(Namespaces, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })
          const store = yield* Store.reflect(ConfigMaps, {
            namespace: ns,
            backoff: Schedule.spaced("200 millis")
          })
          yield* store.ready
          const write = (n: number) =>
            client.apply(ConfigMaps, configMap(ns, "counter", { n: String(n) })).pipe(
              // Retried while the API server is down (connection refused, 5xx).
              Effect.retry(($) =>
                $(Schedule.spaced("250 millis")).pipe(Schedule.while(({ input }) => isTransient(input)))
              )
            )
          for (let n = 1; n <= 5; n++) yield* write(n)
          yield* restartApiServer(dir)
          // These writes wait for the new server.
          for (let n = 6; n <= 10; n++) yield* write(n)
          yield* client.apply(ConfigMaps, configMap(ns, "after-restart"))
          const server = yield* client.list(ConfigMaps, { namespace: ns })
          yield* eventually(
            store.list,
            (cached) => fingerprint(cached) === fingerprint(server.items),
            60_000,
            "the store to follow the restarted server"
          )
          const counter = server.items.find((o) => o.metadata.name === "counter")
          assert.deepStrictEqual(counter?.data, { n: "10" })
        }).pipe(Effect.provide(layer))
      }),
    20 * 60_000
  )
})
