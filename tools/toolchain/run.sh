#!/usr/bin/env bash
# The project's toolchain in one step: Node.js 24 LTS and pnpm from the npm registry, cached
# outside the clone and keyed by version, then the workspace's dependencies from the lockfile,
# then the given command with that toolchain first on PATH. Needs only bash, npm and Node.js >= 18.
# Idempotent: once set up it costs a hash of the lockfile and an exec.
set -euo pipefail

NODE_VERSION=24.21.0
PNPM_VERSION=10.34.9

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/kleff/toolchain"
toolchain="$cache_root/node-$NODE_VERSION-pnpm-$PNPM_VERSION"

say() { printf 'toolchain: %s\n' "$*" >&2; }

if [ ! -x "$toolchain/node_modules/.bin/node" ] || [ ! -x "$toolchain/node_modules/.bin/pnpm" ]; then
  command -v npm >/dev/null || { say "npm is required (it comes with Node.js); install Node.js >= 18 first"; exit 1; }
  say "installing Node.js $NODE_VERSION and pnpm $PNPM_VERSION from the npm registry into $toolchain (once)"
  mkdir -p "$cache_root"
  staging=$(mktemp -d "$cache_root/.staging.XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  npm install --prefix "$staging" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "node@$NODE_VERSION" "pnpm@$PNPM_VERSION" >&2
  got=$("$staging/node_modules/.bin/node" --version)
  [ "$got" = "v$NODE_VERSION" ] || { say "expected Node.js v$NODE_VERSION, the npm package gave $got"; exit 1; }
  # Atomic: a concurrent or interrupted set-up never leaves a half toolchain behind.
  rm -rf "$toolchain.old"; [ -d "$toolchain" ] && mv "$toolchain" "$toolchain.old"
  mv "$staging" "$toolchain" && rm -rf "$toolchain.old"
  trap - EXIT
fi
export PATH="$toolchain/node_modules/.bin:$PATH"

# Dependencies: reinstall only when the lockfile, a manifest or the toolchain changed.
stamp="$root/node_modules/.kleff-toolchain-stamp"
want=$(cd "$root" && cat pnpm-lock.yaml pnpm-workspace.yaml package.json packages/*/package.json 2>/dev/null \
  | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-16)-$NODE_VERSION-$PNPM_VERSION
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing dependencies (pnpm install --frozen-lockfile)"
  (cd "$root" && pnpm install --frozen-lockfile --reporter=append-only >&2)
  printf '%s\n' "$want" >"$stamp"
fi

cd "$root"
exec "$@"
