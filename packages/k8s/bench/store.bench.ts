// Store benchmark: resident memory per 10,000 cached objects and ingest throughput.
//
//   node bench/store.bench.ts            (re-runs itself with --expose-gc)
//
// Objects are realistic Namespace- and ConfigMap-sized objects as the API server returns them
// (labels, annotations, owner references, a managedFields entry, a little data), parsed from JSON
// text as the watcher does, so the measured heap is what a real cache holds.
import { spawnSync } from "node:child_process"
import { controllerReference, type KubeObject } from "@kleff/core"
import { Effect } from "effect"
import * as Store from "../src/Store.ts"

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) {
  const result = spawnSync(process.execPath, ["--expose-gc", ...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit"
  })
  process.exit(result.status ?? 1)
}
const collect = (): void => {
  for (let i = 0; i < 4; i++) gc?.()
}

const N = 10_000

const managedFields = (manager: string) => [
  {
    manager,
    operation: "Apply",
    apiVersion: "v1",
    time: "2026-01-01T00:00:00Z",
    fieldsType: "FieldsV1",
    fieldsV1: {
      "f:metadata": {
        "f:labels": { "f:app.kubernetes.io/managed-by": {}, "f:kleff.io/tenant": {}, "f:kleff.io/plan": {} },
        "f:annotations": { "f:kleff.io/description": {} },
        "f:ownerReferences": { 'k:{"uid":"x"}': {} }
      },
      "f:data": { "f:settings.yaml": {}, "f:quota": {} }
    }
  }
]

const tenant = (i: number): KubeObject => ({
  apiVersion: "kleff.io/v1alpha1",
  kind: "Tenant",
  metadata: { name: `tenant-${i}`, uid: `4f1c2a3e-0000-4000-8000-${String(i).padStart(12, "0")}` }
})

const namespace = (i: number) => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: {
    name: `tenant-${i}`,
    uid: `9a8b7c6d-0000-4000-8000-${String(i).padStart(12, "0")}`,
    resourceVersion: String(100_000 + i),
    creationTimestamp: "2026-01-01T00:00:00Z",
    labels: {
      "app.kubernetes.io/managed-by": "kleff",
      "kleff.io/tenant": `tenant-${i}`,
      "kleff.io/plan": i % 3 === 0 ? "gold" : "standard",
      "kubernetes.io/metadata.name": `tenant-${i}`,
      "pod-security.kubernetes.io/enforce": "restricted"
    },
    annotations: { "kleff.io/description": `Namespace of tenant number ${i}, provisioned by the operator.` },
    ownerReferences: [controllerReference(tenant(i))],
    managedFields: managedFields("kleff")
  },
  spec: { finalizers: ["kubernetes"] },
  status: { phase: "Active" }
})

const configMap = (i: number) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    name: "tenant-settings",
    namespace: `tenant-${i}`,
    uid: `1b2c3d4e-0000-4000-8000-${String(i).padStart(12, "0")}`,
    resourceVersion: String(200_000 + i),
    creationTimestamp: "2026-01-01T00:00:00Z",
    labels: {
      "app.kubernetes.io/managed-by": "kleff",
      "kleff.io/tenant": `tenant-${i}`,
      "kleff.io/plan": i % 3 === 0 ? "gold" : "standard"
    },
    ownerReferences: [controllerReference(tenant(i))],
    managedFields: managedFields("kleff")
  },
  data: {
    "settings.yaml": `tenant: tenant-${i}\nplan: standard\nlimits:\n  cpu: "4"\n  memory: 8Gi\n  pods: "50"\n`,
    quota: `{"cpu":"4","memory":"8Gi","pods":50,"services":10,"configmaps":100,"secrets":100}`
  }
})

/** A list body as the API server sends it, parsed the way the client parses it. */
const parsedList = (make: (i: number) => object): Array<KubeObject> =>
  (
    JSON.parse(JSON.stringify({ items: Array.from({ length: N }, (_, i) => make(i)) })) as {
      items: Array<KubeObject>
    }
  ).items

interface Row {
  readonly case: string
  readonly "heap MB / 10k": string
  readonly "bytes / object": string
  readonly "JSON bytes / object": string
}

const memoryRow = (label: string, make: (i: number) => object, options: Store.StoreOptions): Row => {
  const jsonBytes = Buffer.byteLength(JSON.stringify(make(1)))
  collect()
  const before = process.memoryUsage().heapUsed
  const cache = new Store.Cache(options)
  cache.apply({ _tag: "Restarted", objects: parsedList(make), resourceVersion: "1" })
  collect()
  const after = process.memoryUsage().heapUsed
  if (cache.size !== N) throw new Error(`expected ${N} objects, got ${cache.size}`)
  const bytes = after - before
  const row = {
    case: label,
    "heap MB / 10k": (((bytes / N) * 10_000) / 2 ** 20).toFixed(2),
    "bytes / object": String(Math.round(bytes / N)),
    "JSON bytes / object": String(jsonBytes)
  }
  // Keep the cache alive until measured.
  if (cache.get("") !== undefined) throw new Error("unreachable")
  return row
}

const time = (run: () => void): number => {
  const start = performance.now()
  run()
  return performance.now() - start
}

const rate = (count: number, millis: number) =>
  `${Math.round((count / millis) * 1000).toLocaleString("en-US")}/s`

// Child mode: one process holding one cache, to read its resident set size (RSS is per process,
// and the heap never shrinks back, so it cannot be attributed to one case inside a shared process).
const rssCase = process.argv.find((a) => a.startsWith("--rss="))?.slice("--rss=".length)
if (rssCase !== undefined) {
  const cache = new Store.Cache()
  if (rssCase !== "baseline") {
    const make = rssCase === "namespaces" ? namespace : configMap
    cache.apply({ _tag: "Restarted", objects: parsedList(make), resourceVersion: "1" })
  }
  collect()
  process.stdout.write(`${process.memoryUsage().rss} ${cache.size}\n`)
  process.exit(0)
}
const rssOf = (which: string): number => {
  const out = spawnSync(
    process.execPath,
    ["--expose-gc", ...process.execArgv, process.argv[1] ?? "", `--rss=${which}`],
    {
      encoding: "utf8"
    }
  )
  return Number(out.stdout.trim().split(" ")[0])
}

console.log(`Store benchmark — node ${process.version}, ${N.toLocaleString("en-US")} objects per case\n`)

const memory: Array<Row> = [
  memoryRow("Namespace, managedFields dropped (default)", namespace, {}),
  memoryRow("Namespace, managedFields kept", namespace, { managers: "all" }),
  memoryRow("Namespace, no label index", namespace, { indexLabels: [] }),
  memoryRow("ConfigMap, managedFields dropped (default)", configMap, {}),
  memoryRow("ConfigMap, managedFields kept", configMap, { managers: "all" })
]
console.log("Heap retained by the cache (objects + indexes), after GC")
console.table(memory)

const baseline = rssOf("baseline")
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1)
console.log("\nResident set size of a whole process holding one cache, after GC")
console.table(
  ["namespaces", "configmaps"].map((which) => {
    const rss = rssOf(which)
    return {
      cache: `10k ${which}`,
      "process RSS MB": mb(rss),
      "baseline RSS MB": mb(baseline),
      "delta MB": mb(rss - baseline)
    }
  })
)

// Throughput: the same parsed objects ingested through each path.
const throughput: Array<{
  readonly path: string
  readonly objects: number
  readonly ms: string
  readonly rate: string
}> = []
{
  const parseMs = time(() => parsedList(configMap))
  throughput.push({
    path: "JSON.parse of a 10k list (for scale)",
    objects: N,
    ms: parseMs.toFixed(1),
    rate: rate(N, parseMs)
  })

  const objects = parsedList(configMap)
  const cache = new Store.Cache()
  const relistMs = time(() => cache.apply({ _tag: "Restarted", objects, resourceVersion: "1" }))
  throughput.push({
    path: "Cache: relist into an empty cache",
    objects: N,
    ms: relistMs.toFixed(1),
    rate: rate(N, relistMs)
  })

  const same = parsedList(configMap)
  const unchangedMs = time(() => cache.apply({ _tag: "Restarted", objects: same, resourceVersion: "1" }))
  throughput.push({
    path: "Cache: relist, all unchanged",
    objects: N,
    ms: unchangedMs.toFixed(1),
    rate: rate(N, unchangedMs)
  })

  const updates = parsedList((i) => ({
    ...configMap(i),
    metadata: { ...configMap(i).metadata, resourceVersion: `9${i}` }
  }))
  const appliedMs = time(() => {
    for (const object of updates) cache.apply({ _tag: "Applied", object })
  })
  throughput.push({
    path: "Cache: Applied (update in place)",
    objects: N,
    ms: appliedMs.toFixed(1),
    rate: rate(N, appliedMs)
  })

  const deletedMs = time(() => {
    for (const object of updates) cache.apply({ _tag: "Deleted", object })
  })
  throughput.push({ path: "Cache: Deleted", objects: N, ms: deletedMs.toFixed(1), rate: rate(N, deletedMs) })

  const effectObjects = parsedList(configMap)
  const effectMs = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const store = yield* Store.make()
        const changes = yield* store.subscribe
        void changes
        const start = performance.now()
        for (const object of effectObjects) yield* store.apply({ _tag: "Applied", object })
        return performance.now() - start
      })
    )
  )
  throughput.push({
    path: "Store (Effect): Applied, one subscriber",
    objects: N,
    ms: effectMs.toFixed(1),
    rate: rate(N, effectMs)
  })

  const lookups = cache.keys().length === 0 ? parsedList(configMap) : []
  const lookupCache = new Store.Cache()
  lookupCache.apply({
    _tag: "Restarted",
    objects: lookups.length > 0 ? lookups : parsedList(configMap),
    resourceVersion: "1"
  })
  const uids = Array.from({ length: N }, (_, i) => tenant(i).metadata.uid ?? "")
  const ownedMs = time(() => {
    for (const uid of uids) if (lookupCache.ownedBy(uid).length !== 1) throw new Error("index broken")
  })
  throughput.push({
    path: "Cache: ownedBy(uid) lookups",
    objects: N,
    ms: ownedMs.toFixed(1),
    rate: rate(N, ownedMs)
  })
}
console.log("\nIngest and lookup throughput")
console.table(throughput)
console.log(`\nrss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB at exit`)
