// moduleProxy.ts owns the environment under which the go command may fetch modules from Go module
// proxies only: GOPROXY is the user's proxy list without `direct` and `off`
// (proxy.golang.org when nothing is left), and GOPRIVATE/GONOPROXY are emptied, since they send
// matching modules to their VCS. Nothing is ever fetched from a VCS or anywhere else; what is
// fetched is still checked against go.sum and the checksum database by the go command itself.
// It runs no build and fetches nothing.
import { spawnSync } from "node:child_process"
import { tmpdir } from "node:os"

const DEFAULT_PROXY = "https://proxy.golang.org"

/** The user's GOPROXY list without `direct` and `off`; proxy.golang.org when nothing is left. */
export function proxiesOnly(configured: string): string {
  const proxies = configured
    .split(/[,|]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "" && entry !== "direct" && entry !== "off")
  return proxies.length === 0 ? DEFAULT_PROXY : proxies.join(",")
}

/**
 * The variables to set on top of the caller's environment for a go command that may reach module
 * proxies only. Reads the effective GOPROXY with `go env` (environment or go.env); when `go` is
 * missing, from the environment (the caller's own `go` call then reports that Go is missing).
 */
export function moduleProxyEnv(): Readonly<Record<string, string>> {
  // Outside any module: a go.mod's toolchain line must not make `go env` fetch a toolchain.
  const probe = spawnSync("go", ["env", "GOPROXY"], { cwd: tmpdir(), encoding: "utf8" })
  const configured = probe.status === 0 ? probe.stdout.trim() : (process.env.GOPROXY ?? "")
  return { GOPROXY: proxiesOnly(configured), GOPRIVATE: "", GONOPROXY: "", GOWORK: "off" }
}
