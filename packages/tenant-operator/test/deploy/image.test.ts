/**
 * The operator's image (deploy/Dockerfile, built from the repository root with /.dockerignore),
 * checked without a container engine: the Dockerfile is parsed and its promises asserted
 * (multi-stage, Node 24 pinned to the toolchain's version, installs from the lockfile, a final
 * stage holding the bundle alone, a numeric non-root user, the entrypoint), and its build stage
 * is replayed on this machine — the build context that .dockerignore lets through is copied to a
 * temporary directory, the very `pnpm` and `node` commands of the Dockerfile run there, and the
 * operator is started from the bundle alone, in an otherwise empty directory, the way the final
 * stage starts it.
 */
import { spawnSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { imageEnvironment } from "../../bench/OperatorProcess.ts"
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

/** Where the build stage writes the bundle the final stage copies. */
const bundleInBuild = "/app/tenant-operator.mjs"

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

  it("installs from the lockfile, for the operator and what it needs", () => {
    const installs = buildStage.instructions
      .filter((instruction) => instruction.keyword === "RUN")
      .map(runCommandOf)
      .filter((command) => /^pnpm (install|fetch)\b/.test(command))
    assert.lengthOf(installs, 2, installs.join("\n"))
    const install = installs.find((command) => command.startsWith("pnpm install")) ?? ""
    for (const flag of ["--frozen-lockfile", "--offline", "--filter", "@kleff/tenant-operator..."]) {
      assert.include(install.split(/\s+/), flag, install)
    }
  })

  it("bundles the operator and copies into the final stage that one file: no node_modules, no sources", () => {
    const bundles = buildStage.instructions
      .filter((instruction) => instruction.keyword === "RUN")
      .map(runCommandOf)
      .filter((command) => command.startsWith("node packages/tenant-operator/bundle.ts "))
    assert.deepStrictEqual(bundles, [`node packages/tenant-operator/bundle.ts ${bundleInBuild}`])
    const copies = finalStage.instructions.filter((instruction) => instruction.keyword === "COPY")
    assert.deepStrictEqual(
      copies.map((copy) => copy.value),
      [`--from=build ${bundleInBuild} ./tenant-operator.mjs`]
    )
  })

  it("runs as a numeric non-root user", () => {
    const users = finalStage.instructions.filter((instruction) => instruction.keyword === "USER")
    const user = users.at(-1)?.value ?? ""
    assert.match(user, /^\d+(:\d+)?$/, `USER ${user}: numeric, so runAsNonRoot can check it`)
    for (const id of user.split(":")) assert.notStrictEqual(Number(id), 0, `USER ${user}`)
  })

  it("sets the environment the operator benchmark runs the bundle with", () => {
    const environment: Record<string, string> = {}
    for (const instruction of finalStage.instructions) {
      if (instruction.keyword !== "ENV") continue
      for (const pair of instruction.value.split(/\s+/)) {
        const [name, value] = pair.split("=")
        if (name !== undefined && value !== undefined) environment[name] = value
      }
    }
    assert.deepStrictEqual(environment, { ...imageEnvironment })
  })

  it("starts `node tenant-operator.mjs run` from /app", () => {
    const last = (keyword: string) =>
      finalStage.instructions.filter((instruction) => instruction.keyword === keyword).at(-1)?.value ?? "[]"
    assert.strictEqual(last("WORKDIR"), "/app")
    assert.deepStrictEqual(
      [...jsonArray(last("ENTRYPOINT")), ...jsonArray(last("CMD"))],
      ["node", "tenant-operator.mjs", "run"]
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
    assert.include(files, "packages/tenant-operator/bundle.ts")
  })

  it("leaves out tests, benchmarks, tools, deploy, node_modules and .git", () => {
    for (const file of files)
      assert.match(
        file,
        /^(package\.json|pnpm-lock\.yaml|pnpm-workspace\.yaml|packages\/[^/]+\/(package\.json|src\/.+)|packages\/tenant-operator\/bundle\.ts)$/
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
  /** The final stage's /app: the bundle and nothing else. */
  let image = ""

  beforeAll(() => {
    app = mkdtempSync(join(tmpdir(), "kleff-image-build-"))
    image = mkdtempSync(join(tmpdir(), "kleff-image-"))
    // COPY pnpm-lock.yaml pnpm-workspace.yaml ./ ; COPY . . — what the context holds.
    for (const file of contextFiles()) {
      mkdirSync(dirname(join(app, file)), { recursive: true })
      cpSync(repoPath(file), join(app, file))
    }
    // The Dockerfile's pnpm and node commands, as written; the store moves from the build cache
    // mount to this machine's store (so no download is needed) and /app to the temporary directory.
    const store = run("pnpm", ["store", "path"], app).trim()
    for (const instruction of buildStage.instructions) {
      if (instruction.keyword !== "RUN") continue
      const command = runCommandOf(instruction)
      if (!/^(pnpm|node) /.test(command)) continue
      run("sh", ["-c", command.replaceAll("/pnpm/store", store).replaceAll("/app/", `${app}/`)], app)
    }
    // COPY --from=build /app/tenant-operator.mjs ./tenant-operator.mjs
    cpSync(join(app, "tenant-operator.mjs"), join(image, "tenant-operator.mjs"))
  }, 300_000)

  afterAll(() => {
    for (const dir of [app, image]) if (dir !== "") rmSync(dir, { recursive: true, force: true })
  })

  it("uses the toolchain's pnpm", () => {
    assert.strictEqual(run("pnpm", ["--version"], tmpdir()).trim(), toolchainVersion("PNPM_VERSION"))
  })

  it("leaves the final stage one file", () => {
    assert.deepStrictEqual(readdirSync(image), ["tenant-operator.mjs"])
    assert.isFalse(existsSync(join(image, "node_modules")))
  })

  it("starts the operator from the bundle alone with the image's command line: --help, run --help, crds", () => {
    const bin = "tenant-operator.mjs"
    assert.include(run(process.execPath, [bin, "--help"], image), "tenant-operator <subcommand>")
    assert.include(run(process.execPath, [bin, "run", "--help"], image), "--leader-election-namespace")
    assert.include(run(process.execPath, [bin, "crds"], image), "name: tenants.kleff.kleff.io")
  }, 120_000)

  it("never loads node's fetch stack (undici), which the operator does not use (see bundle.ts)", () => {
    // Preloaded: at exit, the internal modules the process loaded that are undici's.
    const report =
      'data:text/javascript,process.on("exit",()=>process.stdout.write("\\nloaded:"+JSON.stringify(process.moduleLoadList.filter((m)=>m.includes("undici")))))'
    for (const args of [["--help"], ["crds"]]) {
      const output = run(process.execPath, ["--import", report, "tenant-operator.mjs", ...args], image)
      assert.strictEqual(output.split("\n").at(-1), "loaded:[]", `tenant-operator.mjs ${args.join(" ")}`)
    }
  }, 120_000)
})
