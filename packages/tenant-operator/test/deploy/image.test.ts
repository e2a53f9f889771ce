/**
 * The operator's image (deploy/Dockerfile, built from the repository root with /.dockerignore),
 * checked without a container engine: the Dockerfile is parsed and its promises asserted
 * (multi-stage, Node 24 pinned to the toolchain's version, production dependencies only, a
 * numeric non-root user, the entrypoint), and its build stage is replayed on this machine — the
 * build context that .dockerignore lets through is copied to a temporary directory, the very
 * `pnpm` commands of the Dockerfile run there, and the operator is started from the result the
 * way the final stage starts it.
 */
import { spawnSync } from "node:child_process"
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { readRepoFile, repoPath } from "../fixtures.ts"

// ---------------------------------------------------------------------------------------------
// the Dockerfile, parsed

interface Instruction {
  readonly keyword: string
  readonly value: string
}

interface Stage {
  readonly from: string
  readonly name: string | undefined
  readonly instructions: ReadonlyArray<Instruction>
}

/** Instructions in order: comments and blank lines dropped, `\` continuations joined. */
const instructionsOf = (source: string): ReadonlyArray<Instruction> => {
  const instructions: Array<Instruction> = []
  let pending = ""
  for (const raw of source.split("\n")) {
    const line = raw.trim()
    if (pending === "" && (line === "" || line.startsWith("#"))) continue
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1).trim()} `
      continue
    }
    const full = `${pending}${line}`.trim()
    pending = ""
    const space = full.indexOf(" ")
    instructions.push({ keyword: full.slice(0, space).toUpperCase(), value: full.slice(space + 1).trim() })
  }
  return instructions
}

const dockerfile = readRepoFile("deploy/Dockerfile")
const instructions = instructionsOf(dockerfile)

/** Global ARGs (before the first FROM) with their defaults. */
const globalArgs = new Map<string, string>()
for (const instruction of instructions) {
  if (instruction.keyword === "FROM") break
  if (instruction.keyword === "ARG") {
    const [name, value] = instruction.value.split("=")
    if (name !== undefined && value !== undefined) globalArgs.set(name, value)
  }
}

const expand = (text: string, args: ReadonlyMap<string, string>): string =>
  text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const value = args.get(braced ?? bare ?? "")
    return value ?? whole
  })

const stages: ReadonlyArray<Stage> = (() => {
  const result: Array<{ from: string; name: string | undefined; instructions: Array<Instruction> }> = []
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const [image, as, name] = instruction.value.split(/\s+/)
      result.push({
        from: expand(image ?? "", globalArgs),
        name: as?.toUpperCase() === "AS" ? name : undefined,
        instructions: []
      })
    } else result.at(-1)?.instructions.push(instruction)
  }
  return result
})()

const buildStage = stages[0] as Stage
const finalStage = stages.at(-1) as Stage

/** ARGs of a stage with their defaults, and the global ones. */
const stageArgs = (stage: Stage): ReadonlyMap<string, string> => {
  const args = new Map(globalArgs)
  for (const instruction of stage.instructions) {
    if (instruction.keyword !== "ARG") continue
    const [name, value] = instruction.value.split("=")
    if (name !== undefined && value !== undefined) args.set(name, value)
  }
  return args
}

/** The shell command of a RUN, without its `--mount`/`--network` options. */
const runCommandOf = (instruction: Instruction): string =>
  instruction.value.replace(/^(--\S+\s+)+/, "").trim()

const jsonArray = (value: string): ReadonlyArray<string> => JSON.parse(value) as ReadonlyArray<string>

const toolchainVersion = (name: "NODE_VERSION" | "PNPM_VERSION"): string => {
  const match = new RegExp(`^${name}=(\\S+)$`, "m").exec(readRepoFile("tools/toolchain/run.sh"))
  if (match?.[1] === undefined) throw new Error(`no ${name} in tools/toolchain/run.sh`)
  return match[1]
}

// ---------------------------------------------------------------------------------------------
// .dockerignore, as Docker reads it (moby/patternmatcher: the last matching pattern wins, and a
// pattern matching a parent directory matches everything in it)

interface IgnoreRule {
  readonly negated: boolean
  readonly pattern: RegExp
}

const ignoreRules: ReadonlyArray<IgnoreRule> = readRepoFile(".dockerignore")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"))
  .map((line) => {
    const negated = line.startsWith("!")
    const glob = (negated ? line.slice(1) : line).replace(/^\/+/, "").replace(/\/+$/, "")
    let source = ""
    for (let index = 0; index < glob.length; index++) {
      const char = glob[index] as string
      if (char === "*" && glob[index + 1] === "*") {
        source += ".*"
        index++
      } else if (char === "*") source += "[^/]*"
      else if (char === "?") source += "[^/]"
      else source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&")
    }
    return { negated, pattern: new RegExp(`^${source}$`) }
  })

/** Whether Docker sends `path` (relative to the repository root) in the build context. */
const inContext = (path: string): boolean => {
  const parts = path.split("/")
  const candidates = parts.map((_, index) => parts.slice(0, index + 1).join("/"))
  let excluded = false
  for (const rule of ignoreRules) {
    if (candidates.some((candidate) => rule.pattern.test(candidate))) excluded = !rule.negated
  }
  return !excluded
}

/** Every file of the build context. `.git` and `node_modules` are not walked (checked apart). */
const contextFiles = (): ReadonlyArray<string> => {
  const files: Array<string> = []
  const walk = (relative: string) => {
    for (const entry of readdirSync(repoPath(relative), { withFileTypes: true })) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`
      if (entry.isDirectory()) {
        if (entry.name !== ".git" && entry.name !== "node_modules") walk(path)
      } else if (inContext(path)) files.push(path)
    }
  }
  walk("")
  return files.sort()
}

// ---------------------------------------------------------------------------------------------

/** Packages only the tests and tools use. */
const devOnly = ["vitest", "typescript", "@biomejs/biome", "@effect/vitest"]

describe("deploy/Dockerfile, read", () => {
  it("builds in one stage and runs from another", () => {
    assert.isAtLeast(stages.length, 2)
    assert.strictEqual(buildStage.name, "build")
    assert.isTrue(
      finalStage.instructions.every(
        (instruction) =>
          instruction.keyword !== "RUN" || !/^(p?npm|npx|corepack|yarn)\b/.test(runCommandOf(instruction))
      ),
      "no package manager runs in the final stage"
    )
  })

  it("starts from node 24, pinned to the toolchain's exact version in every stage", () => {
    const node = toolchainVersion("NODE_VERSION")
    assert.match(node, /^24\.\d+\.\d+$/)
    for (const stage of stages) {
      assert.strictEqual(stage.from, `node:${node}-slim`, `FROM ${stage.from}`)
    }
  })

  it("installs the toolchain's pnpm", () => {
    assert.strictEqual(stageArgs(buildStage).get("PNPM_VERSION"), toolchainVersion("PNPM_VERSION"))
    const root = JSON.parse(readRepoFile("package.json")) as { readonly packageManager: string }
    assert.strictEqual(root.packageManager, `pnpm@${toolchainVersion("PNPM_VERSION")}`)
  })

  it("installs production dependencies only, from the lockfile, for the operator and what it needs", () => {
    const installs = buildStage.instructions
      .filter((instruction) => instruction.keyword === "RUN")
      .map(runCommandOf)
      .filter((command) => /^pnpm (install|fetch)\b/.test(command))
    assert.lengthOf(installs, 2, installs.join("\n"))
    for (const command of installs) assert.include(command.split(/\s+/), "--prod", command)
    const install = installs.find((command) => command.startsWith("pnpm install")) ?? ""
    for (const flag of ["--frozen-lockfile", "--filter", "@kleff/tenant-operator..."]) {
      assert.include(install.split(/\s+/), flag, install)
    }
  })

  it("copies into the final stage only what the build stage installed, no source tree and no tests", () => {
    const copies = finalStage.instructions.filter((instruction) => instruction.keyword === "COPY")
    assert.isNotEmpty(copies)
    for (const copy of copies)
      assert.match(copy.value, /^--from=build \/app\/(package\.json|node_modules|packages) /)
  })

  it("runs as a numeric non-root user", () => {
    const users = finalStage.instructions.filter((instruction) => instruction.keyword === "USER")
    const user = users.at(-1)?.value ?? ""
    assert.match(user, /^\d+(:\d+)?$/, `USER ${user}: numeric, so runAsNonRoot can check it`)
    for (const id of user.split(":")) assert.notStrictEqual(Number(id), 0, `USER ${user}`)
  })

  it("starts `node packages/tenant-operator/src/bin.ts run` from /app", () => {
    const last = (keyword: string) =>
      finalStage.instructions.filter((instruction) => instruction.keyword === keyword).at(-1)?.value ?? "[]"
    assert.strictEqual(last("WORKDIR"), "/app")
    assert.deepStrictEqual(
      [...jsonArray(last("ENTRYPOINT")), ...jsonArray(last("CMD"))],
      ["node", "packages/tenant-operator/src/bin.ts", "run"]
    )
  })
})

describe(".dockerignore", () => {
  const files = contextFiles()

  it("sends the workspace manifests, the lockfile and every package's sources", () => {
    for (const file of ["package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml"]) assert.include(files, file)
    for (const name of readdirSync(repoPath("packages"))) {
      assert.include(files, `packages/${name}/package.json`)
      assert.isTrue(
        files.some((file) => file.startsWith(`packages/${name}/src/`)),
        `packages/${name}/src`
      )
    }
    assert.include(files, "packages/tenant-operator/src/bin.ts")
  })

  it("leaves out tests, benchmarks, tools, deploy, node_modules and .git", () => {
    for (const file of files)
      assert.match(
        file,
        /^(package\.json|pnpm-lock\.yaml|pnpm-workspace\.yaml|packages\/[^/]+\/(package\.json|src\/.+))$/
      )
    for (const path of [
      "node_modules",
      "node_modules/effect/package.json",
      ".git",
      ".git/HEAD",
      "packages/k8s/node_modules/x"
    ]) {
      assert.isFalse(inContext(path), path)
    }
  })
})

/** Runs a command in `cwd`; throws with its output when it fails. */
const run = (command: string, args: ReadonlyArray<string>, cwd: string): string => {
  const result = spawnSync(command, [...args], { cwd, encoding: "utf8", timeout: 180_000, env: process.env })
  if (result.error !== undefined) throw result.error
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited ${result.status}:\n${result.stdout}\n${result.stderr}`
    )
  }
  return result.stdout
}

describe("deploy/Dockerfile, its build stage replayed in a temporary directory", () => {
  let app = ""

  beforeAll(() => {
    app = mkdtempSync(join(tmpdir(), "kleff-image-"))
    // COPY pnpm-lock.yaml pnpm-workspace.yaml ./ ; COPY . . — what the context holds.
    for (const file of contextFiles()) {
      mkdirSync(dirname(join(app, file)), { recursive: true })
      cpSync(repoPath(file), join(app, file))
    }
    // The Dockerfile's pnpm commands, as written; only the store moves from the build cache
    // mount to this machine's store (so no download is needed).
    const store = run("pnpm", ["store", "path"], app).trim()
    for (const instruction of buildStage.instructions) {
      if (instruction.keyword !== "RUN") continue
      const command = runCommandOf(instruction)
      if (!command.startsWith("pnpm ")) continue
      run("sh", ["-c", command.replaceAll("/pnpm/store", store)], app)
    }
    // The final stage has /app/package.json, /app/node_modules and /app/packages only.
    rmSync(join(app, "pnpm-lock.yaml"))
    rmSync(join(app, "pnpm-workspace.yaml"))
  }, 300_000)

  afterAll(() => {
    if (app !== "") rmSync(app, { recursive: true, force: true })
  })

  it("uses the toolchain's pnpm", () => {
    assert.strictEqual(run("pnpm", ["--version"], tmpdir()).trim(), toolchainVersion("PNPM_VERSION"))
  })

  it("installs no development dependency", () => {
    const root = JSON.parse(readRepoFile("package.json")) as {
      readonly devDependencies: Record<string, string>
    }
    for (const name of Object.keys(root.devDependencies)) {
      assert.isFalse(existsSync(join(app, "node_modules", name)), name)
    }
    // Not even as someone's dependency (@types/node is one of @kubernetes/client-node's).
    const installed = readdirSync(join(app, "node_modules/.pnpm"))
    for (const name of devOnly) {
      const prefix = `${name.replace("/", "+")}@`
      assert.deepStrictEqual(
        installed.filter((entry) => entry.startsWith(prefix)),
        [],
        name
      )
    }
  })

  it("links the workspace packages from outside node_modules, where Node strips their types", () => {
    for (const name of ["core", "k8s"]) {
      const real = realpathSync(join(app, `packages/tenant-operator/node_modules/@kleff/${name}`))
      assert.strictEqual(real, realpathSync(join(app, `packages/${name}`)))
      assert.notInclude(real, "node_modules")
    }
  })

  it("starts the operator with the image's command line: --help, run --help, crds", () => {
    const bin = "packages/tenant-operator/src/bin.ts"
    assert.include(run(process.execPath, [bin, "--help"], app), "tenant-operator <subcommand>")
    assert.include(run(process.execPath, [bin, "run", "--help"], app), "--leader-election-namespace")
    assert.include(run(process.execPath, [bin, "crds"], app), "name: tenants.kleff.kleff.io")
  }, 120_000)

  it("would not run from node_modules: Node refuses to strip types there (why pnpm deploy is not used)", () => {
    const dir = join(app, "node_modules/kleff-strip-check")
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, "package.json"), '{"name":"kleff-strip-check","type":"module"}\n')
    writeFileSync(join(dir, "index.ts"), "const answer: number = 42\nconsole.log(answer)\n")
    const result = spawnSync(process.execPath, [join(dir, "index.ts")], { encoding: "utf8" })
    assert.notStrictEqual(result.status, 0)
    assert.include(result.stderr, "ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING")
  })
})
