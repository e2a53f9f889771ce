/**
 * The command line as a user runs it: `node packages/tenant-operator/src/bin.ts <command> <flags>`
 * spawned as a process of its own, judged by its stdout, stderr and exit code. `render` and `crds`
 * work offline; `install` and `plan` run against the test cluster (`status`: status.test.ts). The
 * flags are the ones the operator's `run` takes, so what `render` and `plan` show is what the
 * operator does.
 */
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { stripVTControlCharacters } from "node:util"
import { assert, describe, it } from "@effect/vitest"
import { parseAllDocuments } from "yaml"
import { describeCluster, kubeconfigPath, uniqueName } from "../../k8s/test/cluster.ts"
import { crdsYaml } from "../src/cli/crds.ts"
import { lockCluster } from "./e2e/harness.ts"
import { repoPath } from "./fixtures.ts"

const bin = repoPath("packages/tenant-operator/src/bin.ts")
/** A test here starts a Node.js process or two: seconds each on a loaded 2-core machine. */
const timeout = 60_000

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command from the repository root; resolves whatever its exit code. */
const runProcess = (command: string, args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve, reject) => {
    execFile(
      command,
      [...args],
      { cwd: repoPath(""), encoding: "utf8", timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : undefined
        if (code === undefined) reject(error)
        else resolve({ code, stdout, stderr })
      }
    )
  })

/** `tenant-operator <args>`, its output not a terminal. */
const cli = (...args: ReadonlyArray<string>): Promise<Run> => runProcess(process.execPath, [bin, ...args])

interface Manifest {
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string }
  readonly subjects?: ReadonlyArray<{ readonly name: string }>
}

const manifests = (stream: string): ReadonlyArray<Manifest> =>
  parseAllDocuments(stream).flatMap((document) => (document.toJS() as Manifest | null) ?? [])

const samples = {
  tenant: "deploy/samples/tenant.yaml",
  free: "deploy/samples/plan-free.yaml",
  basic: "deploy/samples/plan-basic.yaml",
  pro: "deploy/samples/plan-pro.yaml"
}

/** The JSON log lines on stderr, failing on any line that is not one. */
const jsonLines = (stderr: string): ReadonlyArray<{ readonly level: string; readonly message: unknown }> =>
  stderr
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      try {
        return JSON.parse(line) as { readonly level: string; readonly message: unknown }
      } catch {
        return assert.fail(`not a JSON log line: ${line}\n${stderr}`)
      }
    })

describe("tenant-operator render (as a process)", () => {
  it(
    "prints a Tenant's children on stdout with the operator's defaults",
    async () => {
      const run = await cli("render", samples.tenant, "--plan", samples.basic)
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stderr, "")
      const objects = manifests(run.stdout)
      assert.strictEqual(objects[0]?.kind, "Namespace")
      assert.strictEqual(objects[0]?.metadata.name, "tenant-example-tenant")
      assert.isFalse(objects.some((object) => object.kind === "PeerAuthentication"))
      assert.isFalse(objects.some((object) => object.kind === "K8sAllowedRepos"))
    },
    timeout
  )

  it(
    "takes run's tenant flags: --namespace-template, --user-prefix, --enable-istio, --enable-gatekeeper, repeated --plan",
    async () => {
      const run = await cli(
        "render",
        samples.tenant,
        "--plan",
        samples.free,
        "--plan",
        samples.basic,
        "--plan",
        samples.pro,
        "--namespace-template",
        "{username}-ns",
        "--user-prefix",
        "oidc:",
        "--enable-istio",
        "--enable-gatekeeper"
      )
      assert.strictEqual(run.code, 0, run.stderr)
      const objects = manifests(run.stdout)
      assert.strictEqual(objects[0]?.metadata.name, "exampleuser-ns")
      const binding = objects.find((object) => object.kind === "RoleBinding")
      assert.deepStrictEqual(
        binding?.subjects?.map((subject) => subject.name),
        ["oidc:user-12345"]
      )
      for (const kind of ["PeerAuthentication", "AuthorizationPolicy", "K8sAllowedRepos"]) {
        assert.isTrue(
          objects.some((object) => object.kind === kind),
          `no ${kind} in:\n${run.stdout}`
        )
      }
    },
    timeout
  )

  it(
    "refuses an unknown flag (the old parser's --mesh) with a clear error, exit code 1 and no manifests",
    async () => {
      const run = await cli("render", samples.tenant, "--plan", samples.basic, "--mesh")
      assert.notStrictEqual(run.code, 0)
      assert.include(run.stderr, "Unrecognized flag: --mesh in command tenant-operator render")
      assert.notInclude(run.stdout, "kind:")
    },
    timeout
  )

  it(
    "refuses a missing --plan and a missing tenant file, naming what is missing",
    async () => {
      const noPlan = await cli("render", samples.tenant)
      assert.notStrictEqual(noPlan.code, 0)
      assert.include(noPlan.stderr, "--plan")
      const noTenant = await cli("render", "--plan", samples.basic)
      assert.notStrictEqual(noTenant.code, 0)
      assert.include(noTenant.stderr, "tenant.yaml")
    },
    timeout
  )

  it(
    "logs a failure once on stderr, as JSON when stderr is not a terminal, and exits 1",
    async () => {
      const run = await cli("render", "no-such-file.yaml", "--plan", samples.basic)
      assert.strictEqual(run.code, 1)
      assert.strictEqual(run.stdout, "")
      const lines = jsonLines(run.stderr)
      assert.lengthOf(lines, 1, run.stderr)
      assert.strictEqual(lines[0]?.level, "ERROR")
      assert.include(String(lines[0]?.message), "cannot read no-such-file.yaml")
    },
    timeout
  )

  it(
    "logs as text with --log-format=text, and as JSON with --log-format json",
    async () => {
      const text = await cli("--log-format=text", "render", "no-such-file.yaml", "--plan", samples.basic)
      assert.strictEqual(text.code, 1)
      assert.match(text.stderr, /^\[[0-9:.]+\] ERROR \(#\d+\): cannot read no-such-file\.yaml/)
      assert.notInclude(text.stderr, '"level"')
      // After the command, too (a global flag), and spelled with a space.
      const json = await cli("render", "no-such-file.yaml", "--plan", samples.basic, "--log-format", "json")
      assert.strictEqual(json.code, 1)
      assert.strictEqual(jsonLines(json.stderr)[0]?.level, "ERROR")
    },
    timeout
  )

  it(
    "refuses a --log-format it does not know",
    async () => {
      const run = await cli("--log-format", "xml", "crds")
      assert.notStrictEqual(run.code, 0)
      assert.include(run.stderr, 'Invalid value for flag --log-format: "xml"')
      assert.strictEqual(run.stdout, "")
    },
    timeout
  )

  const hasScript = existsSync("/usr/bin/script")
  it.skipIf(!hasScript)(
    `logs as text by default on a terminal${hasScript ? "" : " [skipped: no /usr/bin/script to give it one]"}`,
    async () => {
      // util-linux `script` runs the command on a pseudo-terminal and copies what it prints.
      const command = [process.execPath, bin, "render", "no-such-file.yaml", "--plan", samples.basic]
      const run = await runProcess("/usr/bin/script", [
        "--quiet",
        "--return",
        "--command",
        command.map((word) => `'${word}'`).join(" "),
        "/dev/null"
      ])
      assert.strictEqual(run.code, 1, run.stdout)
      const text = stripVTControlCharacters(run.stdout)
      assert.notStrictEqual(text, run.stdout, "no colours on a terminal")
      assert.match(text, /ERROR \(#\d+\): cannot read no-such-file\.yaml/)
      assert.notInclude(text, '"level"')
    },
    timeout
  )
})

describe("tenant-operator crds and --help (as a process)", () => {
  it(
    "crds prints both CRDs, exactly what deploy/crds holds",
    async () => {
      const run = await cli("crds")
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout, crdsYaml())
    },
    timeout
  )

  it(
    "--help lists every command and the global --log-format",
    async () => {
      const run = await cli("--help")
      assert.strictEqual(run.code, 0, run.stderr)
      for (const command of ["run", "install", "crds", "plan", "render", "status", "adopt"]) {
        assert.match(run.stdout, new RegExp(`^  ${command} `, "m"), run.stdout)
      }
      assert.include(run.stdout, "--log-format <auto|text|json>")
    },
    timeout
  )
})

describeCluster("tenant-operator install and plan (as a process, against the test cluster)", () => {
  const kubeconfig = () => kubeconfigPath ?? ""

  it(
    "install applies the CRDs; plan names a Tenant that does not exist and exits 1",
    async () => {
      // Installing writes the CRDs: not while an end-to-end suite has the cluster's Tenant API.
      const release = await lockCluster(kubeconfig())
      try {
        const install = await cli("install", "--kubeconfig", kubeconfig())
        assert.strictEqual(install.code, 0, install.stderr)
        assert.include(install.stderr, "applied")
      } finally {
        release()
      }
      const name = uniqueName("cli-missing")
      const plan = await cli("plan", name, "--kubeconfig", kubeconfig(), "--namespace-template", "{name}")
      assert.strictEqual(plan.code, 1, plan.stdout)
      assert.include(plan.stderr, `no Tenant named ${name}`)
      assert.strictEqual(plan.stdout, "")
    },
    30 * 60_000
  )
})
