/**
 * End to end, stopping: the operator started the three ways it is started — `npm start`,
 * `node tools/start.ts`, `tenant-operator run` — with leader election on, then stopped the way a
 * supervisor, a CI job or Ctrl-C stops it: one signal to the top process and nothing else. Every
 * process under it (read from /proc before the signal) must be gone within the operator's drain
 * period, the top process must exit 0, and the leader Lease must be released. A fourth case kills
 * `tools/start.ts` outright (SIGKILL, which it cannot pass on): the operator must notice and stop
 * by itself. The test cluster stands in for the local control plane and is not touched.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { afterAll, afterEach, assert, beforeAll, it } from "@effect/vitest"
import { describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import { installOperator, Kubectl, lockCluster, operatorBin, repoRoot, uniqueName } from "./harness.ts"
import { isAlive, type ProcessInfo, processTree } from "./processTree.ts"

/** How long the operator may take to stop: its Manager's graceful-shutdown timeout (30 s). */
const drainPeriodMillis = 30_000
const startScript = join(repoRoot, "tools/start.ts")
const leaseNamespace = "default"

interface Started {
  readonly child: ChildProcess
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  readonly output: () => string
}

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** Processes the test started or found under them: any left over are killed after each test. */
const started: Array<ProcessInfo> = []

const start = (command: string, args: ReadonlyArray<string>): Started => {
  const child = spawn(command, [...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, npm_config_update_notifier: "false" }
  })
  let output = ""
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk
  })
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )
  return { child, exited, output: () => output }
}

/** Resolves once the operator under `run` serves /readyz and holds `lease`; fails if `run` exits first. */
const whenRunning = async (run: Started, kubectl: Kubectl, lease: string): Promise<void> => {
  let exit: unknown
  void run.exited.then((value) => {
    exit = value
  })
  const deadline = Date.now() + 120_000
  for (;;) {
    if (exit !== undefined) assert.fail(`exited (${JSON.stringify(exit)}) before running:\n${run.output()}`)
    const url = /Serving health probes on (http:\/\/[^\s"\\]+)/.exec(run.output())?.[1]
    const ready =
      url !== undefined &&
      (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) }).then(
        (response) => response.ok,
        () => false
      ))
    if (ready && (await holderOf(kubectl, lease)) !== "") return
    if (Date.now() > deadline) assert.fail(`not running (ready and leading) in time:\n${run.output()}`)
    await sleep(200)
  }
}

const holderOf = async (kubectl: Kubectl, lease: string): Promise<string> => {
  const object = await kubectl.find("lease", lease, leaseNamespace)
  return (object?.spec as { readonly holderIdentity?: string } | undefined)?.holderIdentity ?? ""
}

/** Waits up to `millis` for every process of `tree` to be gone; returns those still running. */
const survivorsAfter = async (
  tree: ReadonlyArray<ProcessInfo>,
  millis: number
): Promise<ReadonlyArray<ProcessInfo>> => {
  const deadline = Date.now() + millis
  for (;;) {
    const alive = tree.filter(isAlive)
    if (alive.length === 0 || Date.now() > deadline) return alive
    await sleep(100)
  }
}

const describeTree = (tree: ReadonlyArray<ProcessInfo>) =>
  tree.map((info) => `  ${info.pid} (parent ${info.parent}): ${info.command}`).join("\n")

describeCluster("Stopping the operator, end to end (signals, process tree, leader Lease)", () => {
  const admin = () => kubeconfigPath ?? ""
  let release: (() => void) | undefined
  beforeAll(async () => {
    release = await lockCluster(admin())
    await installOperator(admin())
  }, 30 * 60_000)
  afterEach(() => {
    for (const info of started.splice(0)) if (isAlive(info)) process.kill(info.pid, "SIGKILL")
  })
  afterAll(() => release?.())

  const operatorFlags = (lease: string) => [
    "--kubeconfig",
    admin(),
    "--leader-elect",
    "--leader-election-namespace",
    leaseNamespace,
    "--leader-election-id",
    lease,
    "--health-probe-bind-address",
    "127.0.0.1:0",
    "--metrics-bind-address",
    "0"
  ]

  const cases: ReadonlyArray<{
    readonly name: string
    readonly signal: NodeJS.Signals
    readonly command: (lease: string) => readonly [string, ReadonlyArray<string>]
    /** Parts of the command lines expected in the tree, besides the operator's own. */
    readonly expected: ReadonlyArray<string>
  }> = [
    {
      name: "npm start",
      signal: "SIGTERM",
      command: (lease) => ["npm", ["start", "--", ...operatorFlags(lease)]],
      expected: ["npm", "tools/start.ts"]
    },
    {
      name: "node tools/start.ts",
      signal: "SIGINT",
      command: (lease) => [process.execPath, [startScript, ...operatorFlags(lease)]],
      expected: ["tools/start.ts"]
    },
    {
      name: "tenant-operator run",
      signal: "SIGTERM",
      command: (lease) => [process.execPath, [operatorBin, "run", ...operatorFlags(lease)]],
      expected: []
    }
  ]

  for (const { name, signal, command, expected } of cases) {
    it(`${signal} to \`${name}\` stops every process it started, exits 0 and releases the Lease`, async () => {
      const kubectl = new Kubectl(admin())
      const lease = uniqueName("e2e-stop")
      const [program, args] = command(lease)
      const run = start(program, args)
      await whenRunning(run, kubectl, lease)
      const tree = processTree(run.child.pid ?? -1)
      started.push(...tree)
      for (const part of [...expected, "bin.ts run"]) {
        assert.isTrue(
          tree.some((info) => info.command.includes(part)),
          `no "${part}" process:\n${describeTree(tree)}`
        )
      }

      process.kill(run.child.pid ?? -1, signal)
      const survivors = await survivorsAfter(tree, drainPeriodMillis)
      assert.deepStrictEqual(
        survivors,
        [],
        `still running ${drainPeriodMillis / 1000} s after ${signal}:\n${describeTree(survivors)}\n${run.output()}`
      )
      assert.deepStrictEqual(await run.exited, { code: 0, signal: null }, run.output())
      assert.strictEqual(await holderOf(kubectl, lease), "", "the leader Lease was not released")
    }, 240_000)
  }

  it("`tools/start.ts` killed outright (SIGKILL): the operator notices, stops and releases the Lease", async () => {
    const kubectl = new Kubectl(admin())
    const lease = uniqueName("e2e-stop")
    const run = start(process.execPath, [startScript, ...operatorFlags(lease)])
    await whenRunning(run, kubectl, lease)
    const tree = processTree(run.child.pid ?? -1)
    started.push(...tree)
    assert.isTrue(
      tree.some((info) => info.command.includes("bin.ts run")),
      describeTree(tree)
    )

    run.child.kill("SIGKILL")
    assert.deepStrictEqual(await run.exited, { code: null, signal: "SIGKILL" })
    const survivors = await survivorsAfter(tree, drainPeriodMillis)
    assert.deepStrictEqual(survivors, [], `still running after start.ts died:\n${describeTree(survivors)}`)
    assert.strictEqual(await holderOf(kubectl, lease), "", "the leader Lease was not released")
  }, 240_000)
})
