/**
 * The end-to-end harness: the operator's own CLI started as a separate process (its JSON log on
 * stderr captured, stopped with SIGTERM), and `kubectl` run the way a user runs it. Both take the
 * kubeconfig they use as an argument, so the operator can run with one identity (say, the deploy
 * ServiceAccount's) while kubectl drives the cluster as an administrator.
 * Nothing here talks to the API server itself or imitates it: what a test sees, a user could see.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, afterEach, beforeAll } from "@effect/vitest"
import { type KubeObject, Quantity } from "@kleff/core"
import { Result } from "effect"
import { parse, stringify } from "yaml"
import { type RunResult, runCommand } from "../../../k8s/test/cluster.ts"
import {
  activeWorkers,
  parse as parseMetrics,
  queueDepth,
  writes as writeRequests
} from "../../bench/Prometheus.ts"

export const repoRoot: string = fileURLToPath(new URL("../../../../", import.meta.url))
/** The operator's executable, run by the Node.js that runs the tests (Node 24: it strips types itself). */
export const operatorBin: string = join(repoRoot, "packages/tenant-operator/src/bin.ts")
/** A version-matched kubectl when the control-plane build provides one, else the one on PATH. */
export const kubectlCommand: string = process.env.KLEFF_KUBECTL ?? "kubectl"

// ---------------------------------------------------------------------------------------------
// processes

export { type RunResult, runCommand }

const describeRun = (what: string, run: RunResult): string =>
  `${what} exited ${run.code ?? run.signal}:\n${run.stderr.trim() || run.stdout.trim()}`

// ---------------------------------------------------------------------------------------------
// kubectl

/** `kubectl` with one kubeconfig, as a user runs it. kubectl's warnings on stderr are ignored. */
export class Kubectl {
  readonly kubeconfig: string
  constructor(kubeconfig: string) {
    this.kubeconfig = kubeconfig
  }

  /** Runs `kubectl <args>`; never throws for a non-zero exit (see `code` and `stderr`). */
  run(args: ReadonlyArray<string>, input?: string): Promise<RunResult> {
    return runCommand(kubectlCommand, ["--kubeconfig", this.kubeconfig, ...args], { input })
  }

  /** Runs `kubectl <args>` and returns its stdout; throws with kubectl's stderr when it fails. */
  async ok(args: ReadonlyArray<string>, input?: string): Promise<string> {
    const run = await this.run(args, input)
    if (run.code !== 0) throw new Error(describeRun(`kubectl ${args.join(" ")}`, run))
    return run.stdout
  }

  /** `kubectl get <args> -o json`, parsed. */
  async json<A = KubeObject>(args: ReadonlyArray<string>): Promise<A> {
    return JSON.parse(await this.ok(["get", ...args, "-o", "json"])) as A
  }

  /** One object, or `undefined` when it does not exist. */
  async find(resource: string, name: string, namespace?: string): Promise<KubeObject | undefined> {
    const where = namespace === undefined ? [] : ["-n", namespace]
    const out = await this.ok(["get", resource, name, ...where, "--ignore-not-found", "-o", "json"])
    return out.trim() === "" ? undefined : (JSON.parse(out) as KubeObject)
  }

  /** One object that must exist. */
  async get(resource: string, name: string, namespace?: string): Promise<KubeObject> {
    const object = await this.find(resource, name, namespace)
    if (object === undefined) throw new Error(`${resource} ${name} does not exist`)
    return object
  }

  /** `kubectl apply -f <file>`, or `-f -` with the manifest on stdin. */
  apply(manifest: { readonly file: string } | { readonly yaml: string }): Promise<string> {
    return "file" in manifest
      ? this.ok(["apply", "-f", manifest.file])
      : this.ok(["apply", "-f", "-"], manifest.yaml)
  }
}

// ---------------------------------------------------------------------------------------------
// the operator process

/** One line of the operator's JSON log (Effect's `Logger.formatJson`, one object a line on stderr). */
export interface LogLine {
  readonly message: unknown
  readonly level: string
  readonly timestamp?: string
  readonly annotations?: Readonly<Record<string, unknown>>
  readonly cause?: unknown
}

export interface OperatorExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface OperatorProcess {
  readonly pid: number
  /** The /healthz and /readyz server, from the operator's own log. */
  readonly healthUrl: string
  /** Its /metrics, from the operator's own log (undefined when served with the health probes or off). */
  readonly metricsUrl: () => string | undefined
  /** Every JSON log line the operator has written (to stderr) so far. */
  readonly logs: () => ReadonlyArray<LogLine>
  /** The log lines at level ERROR or FATAL. */
  readonly errors: () => ReadonlyArray<LogLine>
  /** Everything it wrote, stderr (its log) then stdout, for failure messages. */
  readonly output: () => string
  /** Resolves when the process has exited. */
  readonly exited: Promise<OperatorExit>
  /** Whether it has not exited yet. */
  readonly isRunning: () => boolean
  /** SIGTERM, then waits for the exit (SIGKILL and a failure if it does not come in time). */
  readonly stop: (timeoutMillis?: number) => Promise<OperatorExit>
  /** SIGKILL, as a crash or an OOM kill would; waits for the exit. */
  readonly kill: () => Promise<OperatorExit>
}

export interface OperatorOptions {
  /** The kubeconfig the operator runs with. */
  readonly kubeconfig: string
  /** More `run` flags, e.g. `["--max-concurrent-reconciles", "1"]`. */
  readonly args?: ReadonlyArray<string> | undefined
  /** How long to wait for `/readyz` (caches synced). */
  readonly readyTimeoutMillis?: number | undefined
}

/** Operators this test process started and has not seen exit: killed if the process exits first. */
const running = new Set<ChildProcess>()
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL")
})

const errorLevels = new Set(["ERROR", "FATAL"])

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

const isReady = async (healthUrl: string): Promise<boolean> => {
  try {
    const response = await fetch(`${healthUrl}/readyz`, { signal: AbortSignal.timeout(5_000) })
    await response.arrayBuffer()
    return response.ok
  } catch {
    return false
  }
}

/**
 * Starts `tenant-operator run` as a child process with its metrics and probes on free local ports,
 * and resolves once its `/readyz` answers 200 (caches synced). Stop it with `stop()` (SIGTERM).
 */
export const startOperator = async (options: OperatorOptions): Promise<OperatorProcess> => {
  const child = spawn(
    process.execPath,
    [
      operatorBin,
      "run",
      "--kubeconfig",
      options.kubeconfig,
      "--metrics-bind-address",
      "127.0.0.1:0",
      "--health-probe-bind-address",
      "127.0.0.1:0",
      ...(options.args ?? [])
    ],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] }
  )
  running.add(child)
  const logs: Array<LogLine> = []
  let stdout = ""
  let stderr = ""
  let partial = ""
  let healthUrl: string | undefined
  let metricsUrl: string | undefined
  // `run` prints nothing on stdout: anything there is kept, and counted as an error.
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
    logs.push({ message: chunk, level: "ERROR", annotations: { stdout: true } })
  })
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
    const lines = (partial + chunk).split("\n")
    partial = lines.pop() ?? ""
    for (const line of lines) {
      if (line.trim() === "") continue
      let parsed: LogLine
      try {
        parsed = JSON.parse(line) as LogLine
      } catch {
        // Not one of its JSON log lines: kept, and counted as an error (the log must stay parseable).
        parsed = { message: line, level: "ERROR", annotations: { unparsed: true } }
      }
      logs.push(parsed)
      const message = typeof parsed.message === "string" ? parsed.message : ""
      const health = /^Serving health probes on (\S+)$/.exec(message)
      if (health?.[1] !== undefined) healthUrl = health[1]
      const metrics = /^Serving metrics on (\S+)$/.exec(message)
      if (metrics?.[1] !== undefined) metricsUrl = metrics[1]
    }
  })
  const exited = new Promise<OperatorExit>((resolve) => {
    child.on("exit", (code, signal) => {
      running.delete(child)
      resolve({ code, signal })
    })
  })
  let hasExited: OperatorExit | undefined
  void exited.then((exit) => {
    hasExited = exit
  })
  const output = () => `${stderr}${stdout === "" ? "" : `\n--- stdout ---\n${stdout}`}`

  const deadline = Date.now() + (options.readyTimeoutMillis ?? 60_000)
  for (;;) {
    if (hasExited !== undefined) {
      throw new Error(
        `the operator exited (${hasExited.code ?? hasExited.signal}) before it was ready:\n${output()}`
      )
    }
    if (healthUrl !== undefined && (await isReady(healthUrl))) break
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      await exited
      throw new Error(`the operator was not ready in time:\n${output()}`)
    }
    await sleep(100)
  }
  const url = healthUrl

  const waitForExit = async (timeoutMillis: number): Promise<OperatorExit | undefined> => {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMillis)
    })
    const exit = await Promise.race([exited, timeout])
    clearTimeout(timer)
    return exit
  }

  return {
    pid: child.pid ?? -1,
    healthUrl: url,
    metricsUrl: () => metricsUrl,
    logs: () => logs,
    errors: () => logs.filter((line) => errorLevels.has(line.level)),
    output,
    exited,
    isRunning: () => hasExited === undefined,
    stop: async (timeoutMillis = 60_000) => {
      if (hasExited !== undefined) return hasExited
      child.kill("SIGTERM")
      const exit = await waitForExit(timeoutMillis)
      if (exit !== undefined) return exit
      child.kill("SIGKILL")
      await exited
      throw new Error(`the operator did not stop within ${timeoutMillis} ms of SIGTERM:\n${output()}`)
    },
    kill: async () => {
      if (hasExited !== undefined) return hasExited
      child.kill("SIGKILL")
      return exited
    }
  }
}

/** `tenant-operator install --samples`: CRDs, cluster objects and the sample Plans (idempotent). */
export const installOperator = async (kubeconfig: string): Promise<void> => {
  const run = await runCommand(process.execPath, [
    operatorBin,
    "install",
    "--samples",
    "--kubeconfig",
    kubeconfig
  ])
  if (run.code !== 0) throw new Error(describeRun("tenant-operator install --samples", run))
}

// ---------------------------------------------------------------------------------------------
// one operator per cluster at a time

const clusterServer = (kubeconfig: string): string => {
  const config = parse(readFileSync(kubeconfig, "utf8")) as {
    readonly "current-context"?: string
    readonly contexts?: ReadonlyArray<{
      readonly name: string
      readonly context: { readonly cluster: string }
    }>
    readonly clusters?: ReadonlyArray<{
      readonly name: string
      readonly cluster: { readonly server: string }
    }>
  }
  const context = config.contexts?.find((item) => item.name === config["current-context"])
  const cluster =
    config.clusters?.find((item) => item.name === context?.context.cluster) ?? config.clusters?.[0]
  return cluster?.cluster.server ?? kubeconfig
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Operators on one cluster all reconcile every Tenant, so two at once would share the work (and
 * the conflicts) and a test could not tell which one did what. An end-to-end suite holds this
 * lock — a file named after the API server's address, holding the holder's pid — while its
 * operator runs; suites in test files that vitest runs in parallel take turns. A holder may also
 * change the Tenant API for a while (the bad-input fuzz installs a permissive CRD, and restores
 * the shipped one before it releases the lock), so suites that install the CRDs or rely on them
 * being as shipped hold it too. A lock whose holder is gone is taken over. Not re-entrant: a
 * suite that holds it must not take it again (`useSuite` takes it itself). Resolves to the
 * release function.
 */
export const lockCluster = async (kubeconfig: string, timeoutMillis = 20 * 60_000): Promise<() => void> => {
  const key = createHash("sha256").update(clusterServer(kubeconfig)).digest("hex").slice(0, 16)
  const path = join(tmpdir(), `kleff-e2e-operator-${key}.lock`)
  const token = `${process.pid} ${randomBytes(8).toString("hex")}`
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    try {
      const fd = openSync(path, "wx")
      writeSync(fd, token)
      closeSync(fd)
      return () => {
        try {
          if (readFileSync(path, "utf8") === token) unlinkSync(path)
        } catch {
          // already gone
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
    }
    let holder = Number.NaN
    try {
      holder = Number(readFileSync(path, "utf8").split(" ")[0])
    } catch {
      continue // released between our attempts
    }
    if (Number.isInteger(holder) && !alive(holder)) {
      try {
        unlinkSync(path)
      } catch {
        // someone else took it over first
      }
      continue
    }
    if (Date.now() > deadline) throw new Error(`another end-to-end suite held ${path} for too long`)
    await sleep(250)
  }
}

// ---------------------------------------------------------------------------------------------
// waiting, names and manifests

/** Polls `probe` until `done` holds; on timeout, fails with the last value seen. */
export const eventually = async <A>(
  what: string,
  probe: () => Promise<A>,
  done: (value: A) => boolean,
  timeoutMillis = 90_000
): Promise<A> => {
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    const value = await probe()
    if (done(value)) return value
    if (Date.now() > deadline) {
      const last = JSON.stringify(value, null, 1) ?? String(value)
      throw new Error(`timed out waiting for ${what}; last seen:\n${last.slice(0, 4_000)}`)
    }
    await sleep(200)
  }
}

/** A name no other test (or earlier run on a kept cluster) uses; short enough for `tenant-<name>`. */
export const uniqueName = (prefix: string): string => `${prefix}-${randomBytes(4).toString("hex")}`

/** A directory for one suite's manifests, removed by the returned function. */
export const tempDirectory = (): { readonly path: string; readonly remove: () => void } => {
  const path = mkdtempSync(join(tmpdir(), "kleff-e2e-"))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export const readRepoFile = (relative: string): string => readFileSync(join(repoRoot, relative), "utf8")

export const readRepoYaml = <A = KubeObject>(relative: string): A => parse(readRepoFile(relative)) as A

/**
 * Manifests for kubectl, which reads YAML 1.1: there `yes`, `on` or `y` are booleans, so strings
 * like them (Gatekeeper's label `gatekeeper.sh/system: "yes"`) are written quoted.
 */
export const toYaml = (objects: ReadonlyArray<unknown>): string =>
  objects.map((object) => stringify(object, { version: "1.1" })).join("---\n")

export interface TenantSpec {
  readonly plan: string
  readonly userId: string
  readonly username: string
}

export const tenantObject = (
  name: string,
  spec: TenantSpec,
  labels: Readonly<Record<string, string>> = {}
): KubeObject => ({
  apiVersion: "kleff.kleff.io/v1",
  kind: "Tenant",
  metadata: { name, ...(Object.keys(labels).length === 0 ? {} : { labels }) },
  spec
})

/** A sample Plan (deploy/samples/plan-<sample>.yaml), under another name when given one. */
export const samplePlanObject = (sample: "free" | "basic" | "pro", name: string = sample): KubeObject => {
  const plan = readRepoYaml(`deploy/samples/plan-${sample}.yaml`)
  return { ...plan, metadata: { ...plan.metadata, name } }
}

// ---------------------------------------------------------------------------------------------
// reading a Tenant

export interface Condition {
  readonly type: string
  readonly status: string
  readonly reason: string
  readonly message: string
  readonly observedGeneration?: number
}

export interface TenantStatus {
  readonly namespace?: string
  readonly phase?: string
  readonly observedGeneration?: number
  readonly conditions?: ReadonlyArray<Condition>
}

export const tenantStatus = (tenant: KubeObject | undefined): TenantStatus =>
  (tenant?.status ?? {}) as TenantStatus

export const conditionOf = (tenant: KubeObject | undefined, type: string): Condition | undefined =>
  tenantStatus(tenant).conditions?.find((condition) => condition.type === type)

/** The condition `type` has `status` (and `reason`, when given) for the Tenant's current generation. */
export const hasCondition = (
  tenant: KubeObject | undefined,
  type: string,
  status: "True" | "False",
  reason?: string
): boolean => {
  const condition = conditionOf(tenant, type)
  return (
    condition !== undefined &&
    condition.status === status &&
    (reason === undefined || condition.reason === reason) &&
    condition.observedGeneration === tenant?.metadata.generation
  )
}

export const quotaHard = (quota: KubeObject | undefined): unknown =>
  (quota?.spec as { readonly hard?: unknown } | undefined)?.hard

export const planQuota = (plan: KubeObject): unknown => (plan.spec as { readonly quota?: unknown }).quota

/** A Plan's quota as the API server stores it in the ResourceQuota (and the usage controller copies it): `1000m` → `1`. */
export const storedQuota = (plan: KubeObject): Readonly<Record<string, string>> =>
  Object.fromEntries(
    Object.entries((planQuota(plan) ?? {}) as Readonly<Record<string, string | number>>).map(
      ([resource, value]) => [
        resource,
        Result.getOrElse(Quantity.canonical(String(value)), () => String(value))
      ]
    )
  )

/** The same map (a quota's `hard`, labels), whatever order the keys come in. */
export const sameEntries = (a: unknown, b: unknown): boolean => {
  const entries = (value: unknown) => JSON.stringify(Object.entries((value ?? {}) as object).sort())
  return entries(a) === entries(b)
}

/** The Tenant's finalizer: held until its namespace is gone. */
export const namespaceFinalizer = "kleff.io/namespace-finalizer"

/** Deletes Tenants and waits until they are gone (their finalizers released by the running operator). */
export const deleteTenants = async (kubectl: Kubectl, names: ReadonlyArray<string>): Promise<void> => {
  if (names.length === 0) return
  await kubectl.ok(["delete", "tenants", ...names, "--ignore-not-found", "--wait=false"])
  await kubectl.ok(["wait", "--for=delete", ...names.map((name) => `tenant/${name}`), "--timeout=180s"])
}

// ---------------------------------------------------------------------------------------------
// a suite: one operator, the cluster to itself, and nothing left behind

export type Resolvable<A> = A | (() => A | Promise<A>)

const resolve = async <A>(value: Resolvable<A>): Promise<A> =>
  typeof value === "function" ? await (value as () => A | Promise<A>)() : value

export interface SuiteOptions {
  /** The kubeconfig kubectl runs with: an administrator's (installs, creates Tenants, edits by hand). */
  readonly adminKubeconfig: Resolvable<string>
  /** The kubeconfig the operator process runs with; the admin's unless given (e.g. the deploy ServiceAccount's). */
  readonly operatorKubeconfig?: Resolvable<string> | undefined
  /** Run `tenant-operator install --samples` as the admin before the operator starts (default true). */
  readonly install?: boolean | undefined
  /** More `run` flags for every operator the suite starts. */
  readonly operatorArgs?: ReadonlyArray<string> | undefined
}

/** What one test file's suite holds: the running operator and what its tests created. */
export class Suite {
  operator: OperatorProcess | undefined
  /** Tenants, Plans and foreign namespaces the tests created: removed when the suite ends. */
  readonly tenants = new Set<string>()
  readonly plans = new Set<string>()
  readonly namespaces = new Set<string>()

  readonly kubectl: Kubectl
  readonly operatorKubeconfig: string
  readonly operatorArgs: ReadonlyArray<string>
  readonly directory: string

  constructor(
    kubectl: Kubectl,
    operatorKubeconfig: string,
    operatorArgs: ReadonlyArray<string>,
    directory: string
  ) {
    this.kubectl = kubectl
    this.operatorKubeconfig = operatorKubeconfig
    this.operatorArgs = operatorArgs
    this.directory = directory
  }

  /** Starts an operator (the suite's current one), with the suite's flags and then `args`. */
  async startOperator(args: ReadonlyArray<string> = []): Promise<OperatorProcess> {
    if (this.operator?.isRunning() === true) {
      throw new Error("the suite's operator is still running")
    }
    this.operator = await startOperator({
      kubeconfig: this.operatorKubeconfig,
      args: [...this.operatorArgs, ...args]
    })
    return this.operator
  }

  /** The running operator. */
  get runningOperator(): OperatorProcess {
    if (this.operator === undefined) throw new Error("the suite's operator is not started")
    return this.operator
  }

  /** Writes a manifest file in the suite's directory and returns its path. */
  writeManifest(fileName: string, content: string): string {
    const path = join(this.directory, fileName)
    writeFileSync(path, content)
    return path
  }

  /**
   * Deletes what the tests left (Tenants through a running operator, so their finalizers are
   * released as in production) and stops the operator.
   */
  async cleanUp(): Promise<void> {
    const tenants: Array<string> = []
    for (const name of this.tenants)
      if ((await this.kubectl.find("tenant", name)) !== undefined) tenants.push(name)
    if (tenants.length > 0) {
      if (this.operator?.isRunning() !== true) await this.startOperator()
      await deleteTenants(this.kubectl, tenants)
    }
    if (this.plans.size > 0) await this.kubectl.ok(["delete", "plans", ...this.plans, "--ignore-not-found"])
    if (this.namespaces.size > 0) {
      await this.kubectl.ok([
        "delete",
        "namespaces",
        ...this.namespaces,
        "--ignore-not-found",
        "--wait=false"
      ])
    }
    if (this.operator !== undefined) await this.operator.stop()
  }
}

/** Registers an `afterEach`: a failed test shows what the operator was saying at the time (its last 40 lines). */
export const showOperatorOutputOnFailure = (operator: () => OperatorProcess | undefined): void => {
  afterEach((context) => {
    const current = operator()
    if (context.task.result?.state !== "fail" || current === undefined) return
    const tail = current.output().trimEnd().split("\n").slice(-40).join("\n")
    process.stderr.write(`\n--- the operator's last output (pid ${current.pid}) ---\n${tail}\n`)
  })
}

/**
 * Registers the hooks of an end-to-end suite in the current `describe`: before the tests, take the
 * cluster lock, install (as the admin) and start the operator; after them, delete what the tests
 * created, stop the operator and release the lock. Returns the suite, for use inside tests.
 */
export const useSuite = (options: SuiteOptions): (() => Suite) => {
  let suite: Suite | undefined
  let release: (() => void) | undefined
  let directory: { readonly path: string; readonly remove: () => void } | undefined
  beforeAll(async () => {
    const admin = await resolve(options.adminKubeconfig)
    release = await lockCluster(admin)
    // Resolved under the lock: making the operator's kubeconfig may install deploy/ (CRDs included).
    const operatorKubeconfig =
      options.operatorKubeconfig === undefined ? admin : await resolve(options.operatorKubeconfig)
    directory = tempDirectory()
    if (options.install !== false) await installOperator(admin)
    suite = new Suite(new Kubectl(admin), operatorKubeconfig, options.operatorArgs ?? [], directory.path)
    await suite.startOperator()
  }, 30 * 60_000)
  showOperatorOutputOnFailure(() => suite?.operator)
  afterAll(async () => {
    try {
      await suite?.cleanUp()
    } finally {
      for (const child of running) child.kill("SIGKILL")
      directory?.remove()
      release?.()
    }
  }, 10 * 60_000)
  return () => {
    if (suite === undefined) throw new Error("the end-to-end suite did not start")
    return suite
  }
}

// ---------------------------------------------------------------------------------------------
// what the operator wrote

/** The kinds of a Tenant's children (without Istio and Gatekeeper), for `kubectl get`. */
export const childKinds =
  "namespaces,resourcequotas,limitranges,rolebindings,networkpolicies,validatingadmissionpolicybindings"
/** Every kind the operator can write: the children, its Events, Tenants (finalizer, status), Plans. */
export const writableKinds = `${childKinds},events.events.k8s.io,tenants,plans`

const keyOf = (object: KubeObject): string =>
  `${object.kind} ${object.metadata.namespace === undefined ? "" : `${object.metadata.namespace}/`}${object.metadata.name}`

export interface Written {
  readonly uid: string
  /** The `tenant-controller` entries of `metadata.managedFields`: they change with every write it makes. */
  readonly entries: string
  /** Being deleted (or in a namespace being deleted) already: its going is no news. */
  readonly leaving: boolean
}

/** Every object of a kind the operator can write that records a write of the operator (its field manager). */
export const writtenByOperator = async (kubectl: Kubectl): Promise<ReadonlyMap<string, Written>> => {
  const list = await kubectl.json<{ readonly items: ReadonlyArray<KubeObject> }>([
    writableKinds,
    "--all-namespaces",
    "--show-managed-fields"
  ])
  const leavingNamespaces = new Set(
    list.items
      .filter((object) => object.kind === "Namespace" && object.metadata.deletionTimestamp !== undefined)
      .map((object) => object.metadata.name)
  )
  const written = new Map<string, Written>()
  for (const object of list.items) {
    const entries = (object.metadata.managedFields ?? []).filter(
      (entry) => entry.manager === "tenant-controller"
    )
    if (entries.length === 0) continue
    const namespace = object.metadata.namespace
    written.set(keyOf(object), {
      uid: object.metadata.uid ?? "",
      entries: JSON.stringify(entries),
      leaving:
        object.metadata.deletionTimestamp !== undefined ||
        (namespace !== undefined && leavingNamespaces.has(namespace))
    })
  }
  return written
}

/** What changed between two `writtenByOperator` snapshots: objects written, created, or gone. */
export const operatorWritesBetween = (
  before: ReadonlyMap<string, Written>,
  after: ReadonlyMap<string, Written>
): ReadonlyArray<string> => [
  ...[...after].flatMap(([key, now]) => {
    const then = before.get(key)
    if (then === undefined) return [`${key} was created`]
    return then.uid !== now.uid || then.entries !== now.entries ? [`${key} was written`] : []
  }),
  ...[...before].flatMap(([key, then]) => (after.has(key) || then.leaving ? [] : [`${key} is gone`]))
]

/** A Tenant and its children, as `kind namespace/name` → `uid@resourceVersion`: any write shows. */
export const tenantAndChildren = async (
  kubectl: Kubectl,
  name: string
): Promise<Readonly<Record<string, string>>> => {
  const children = await kubectl.json<{ readonly items: ReadonlyArray<KubeObject> }>([
    childKinds,
    "--all-namespaces",
    "-l",
    `kleff.io/tenant=${name}`
  ])
  return Object.fromEntries(
    [await kubectl.get("tenant", name), ...children.items].map((object) => [
      keyOf(object),
      `${object.metadata.uid}@${object.metadata.resourceVersion}`
    ])
  )
}

/** The operator's metrics: reconcile panics, write requests, and whether it has work in hand. */
export const operatorMetrics = async (
  operator: OperatorProcess
): Promise<{ readonly panics: number; readonly writes: number; readonly busy: boolean }> => {
  const url = operator.metricsUrl()
  if (url === undefined) throw new Error("the operator did not log where it serves /metrics")
  const response = await fetch(url)
  if (!response.ok) throw new Error(`${url} answered ${response.status}`)
  const samples = parseMetrics(await response.text())
  return {
    panics: samples
      .filter((sample) => sample.name === "controller_runtime_reconcile_panics_total")
      .reduce((total, sample) => total + sample.value, 0),
    writes: writeRequests(samples).total,
    busy: queueDepth(samples) + activeWorkers(samples) > 0
  }
}
