/**
 * The Go floor, the floor the operator is compared with: tools/writefloor (client-go's dynamic
 * client, no watch, cache, queue, retry or client-side rate limit) makes, for N tenants, the writes
 * the operator's own code renders for them (`FloorWrites.ts`), in the operator phase's shape:
 * Tenants created `inFlight` at a time while `concurrency` workers provision them in creation
 * order, one tenant's writes in order. A warm-up batch first; then the timed run, from the first
 * create to the last status, with the CPU of every process (writefloor's included) read around it;
 * the control plane is the floor's alone. Owns running writefloor; the table is `Report.ts`'s.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, openSync, rmSync, writeSync } from "node:fs"
import { join } from "node:path"
import { describeRef, isWrite, keyOfType, refOf } from "@kleff/core"
import { DryRun } from "@kleff/k8s"
import { Effect } from "effect"
import type { Plan } from "../src/api/Plan.ts"
import { TenantType } from "../src/api/Tenant.ts"
import { defaultConfig } from "../src/desired/Config.ts"
import { makeTenantReconciler } from "../src/TenantReconciler.ts"
import { type Run, range } from "./BenchTenants.ts"
import * as Cpu from "./Cpu.ts"
import { makeRenderer, uidPlaceholder } from "./FloorWrites.ts"
import { concurrency, inFlight, progress, tenants } from "./Settings.ts"

/** tools/writefloor, imported by URL: tools/ is a TypeScript project this package does not reference. */
interface WritefloorTool {
  readonly writefloorPath: () => Promise<string>
}

/** The writefloor binary, built when its sources changed (under a minute of CPU with warm module caches). */
export const writefloorBinary = async (): Promise<string> => {
  const tool = (await import(
    new URL("../../../tools/writefloor/writefloor.ts", import.meta.url).href
  )) as WritefloorTool
  return tool.writefloorPath()
}

/** What writefloor printed. */
interface WritefloorResult {
  readonly millis: number
  readonly tenants: number
  readonly writes: number
  readonly creates: number
  readonly pid: number
}

export interface FloorRun {
  readonly millis: number
  /** Writes per the floor's own count, the Tenant creates not included. */
  readonly writes: number
  readonly cpu: Cpu.CpuUse
}

/** Writes writefloor's input for Tenants `<prefix>-<i>`, one tenant at a time (it is ~12 KiB each). */
const writeInput = (file: string, plans: ReadonlyArray<Plan>, prefix: string, count: number): number => {
  const render = makeRenderer(plans)
  const start = performance.now()
  const fd = openSync(file, "w")
  try {
    writeSync(
      fd,
      `{"concurrency":${concurrency},"inFlight":${inFlight},"uidPlaceholder":${JSON.stringify(uidPlaceholder)},"tenants":[`
    )
    for (const index of range(count))
      writeSync(fd, `${index === 0 ? "" : ","}${JSON.stringify(render(prefix, index))}`)
    writeSync(fd, "]}\n")
  } finally {
    closeSync(fd)
  }
  return performance.now() - start
}

/** Lines of a stream, as they come. */
const onLines = (stream: NodeJS.ReadableStream, each: (line: string) => void): void => {
  let pending = ""
  stream.setEncoding("utf8")
  stream.on("data", (chunk: string) => {
    pending += chunk
    for (let end = pending.indexOf("\n"); end !== -1; end = pending.indexOf("\n")) {
      each(pending.slice(0, end))
      pending = pending.slice(end + 1)
    }
  })
}

/**
 * Runs writefloor on `input` with `--wait`: once it is ready, the CPU of `pids` and of writefloor is
 * read, it is told to start, and read again when it has printed its result and before it exits.
 */
const runWritefloor = async (
  binary: string,
  kubeconfig: string,
  input: string,
  pids: Readonly<Record<string, number>>
): Promise<{ readonly result: WritefloorResult; readonly cpu: Cpu.CpuUse }> => {
  const child: ChildProcess = spawn(binary, ["--kubeconfig", kubeconfig, "--input", input, "--wait"], {
    stdio: ["pipe", "pipe", "pipe"]
  })
  const pid = child.pid
  if (pid === undefined || child.stdin === null || child.stdout === null || child.stderr === null)
    throw new Error(`${binary} did not start`)
  const stdin = child.stdin
  // A writefloor that failed before reading stdin closes it: its exit code says why, not EPIPE.
  stdin.on("error", () => undefined)
  const stderr: Array<string> = []
  const all = { ...pids, client: pid }
  let before: Cpu.CpuSample | undefined
  let outcome: { readonly result: WritefloorResult; readonly cpu: Cpu.CpuUse } | undefined
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject)
    child.on("exit", resolve)
  })
  onLines(child.stderr, (line) => {
    if (line === "writefloor: ready") {
      before = Cpu.sample(all)
      stdin.write("start\n")
    } else {
      stderr.push(line)
      progress(line)
    }
  })
  onLines(child.stdout, (line) => {
    const after = Cpu.sample(all)
    if (before !== undefined)
      outcome = { result: JSON.parse(line) as WritefloorResult, cpu: Cpu.between(before, after) }
    stdin.end()
  })
  const code = await exited
  if (code !== 0 || outcome === undefined)
    throw new Error(`writefloor exited with ${code}:\n${stderr.slice(-20).join("\n")}`)
  if (outcome.result.pid !== pid) throw new Error(`writefloor reported pid ${outcome.result.pid}, not ${pid}`)
  return outcome
}

/**
 * Fails unless the operator would write nothing for these of the floor's Tenants: the floor must
 * have done the operator's whole job exactly as it does it (the same objects, fields owned by the
 * same field manager, the same status), or its time is not the floor of that job.
 */
const requireConverged = Effect.fnUntraced(function* (names: ReadonlyArray<string>) {
  const reconciler = makeTenantReconciler(defaultConfig)
  for (const name of names) {
    const { primary, plan } = yield* DryRun.planOnce(reconciler, keyOfType(TenantType, name))
    const writes = plan?.actions.filter(isWrite)
    if (writes === undefined || writes.length > 0)
      return yield* Effect.die(
        new Error(
          `the Go floor left Tenant ${name} where the operator would still write: ${
            writes === undefined
              ? "no Tenant"
              : writes
                  .map((a) => (a._tag === "Apply" ? `Apply ${describeRef(refOf(a.object))}` : a._tag))
                  .join(", ")
          }`
        )
      )
    // A plan compares the status, not who wrote it: that the operator's manager applied it is read here.
    const statusApplied = primary?.metadata.managedFields?.some(
      (entry) =>
        entry.manager === reconciler.name && entry.operation === "Apply" && entry.subresource === "status"
    )
    if (statusApplied !== true)
      return yield* Effect.die(
        new Error(`the Go floor did not apply Tenant ${name}'s status as ${reconciler.name}`)
      )
  }
})

/** The Go floor of one run: warm-up, then the timed run. */
export const measureGoFloor = async (options: {
  readonly run: Run
  readonly binary: string
  readonly kubeconfig: string
  readonly work: string
  readonly plans: ReadonlyArray<Plan>
  readonly clusterPids: Readonly<Record<string, number>>
}): Promise<FloorRun> => {
  const { binary, kubeconfig, work, plans } = options
  const warmUp = Math.min(inFlight, tenants)
  const warmInput = join(work, "gofloor-warm.json")
  writeInput(warmInput, plans, "gowarm", warmUp)
  await runWritefloor(binary, kubeconfig, warmInput, options.clusterPids).finally(() => rmSync(warmInput))
  const input = join(work, "gofloor.json")
  const renderMillis = writeInput(input, plans, "go", tenants)
  progress(
    `Go floor: ${tenants} tenants rendered in ${(renderMillis / 1000).toFixed(1)} s (${(renderMillis / tenants).toFixed(2)} ms each); ` +
      `writefloor with ${inFlight} creates in flight, ${concurrency} workers`
  )
  const pids = { ...options.clusterPids, bench: process.pid }
  const { result, cpu } = await runWritefloor(binary, kubeconfig, input, pids).finally(() => rmSync(input))
  if (result.tenants !== tenants || result.creates !== tenants)
    throw new Error(`writefloor did ${result.creates} creates for ${result.tenants} tenants, not ${tenants}`)
  progress(`Go floor: ${(result.millis / 1000).toFixed(1)} s, ${result.writes} writes besides the creates`)
  await options.run(
    requireConverged([...new Set([0, Math.floor(tenants / 2), tenants - 1])].map((i) => `go-${i}`))
  )
  return { millis: result.millis, writes: result.writes, cpu }
}
