/**
 * A snapshot as the operator's caches hold it: every object read back from JSON. The Simulator
 * builds objects (their field sets above all) by assignment, and V8 keeps those in other shapes
 * than parsed ones, so a plan timed on them is not the plan the operator runs: on parsed objects
 * an optimisation of `ManagedFields.unwanted` deoptimised on every call, which the Simulator's
 * objects never showed.
 *
 * For the benches (exported as `@kleff/core/bench/ParsedSnapshot`). Must not change what the
 * snapshot holds, only how its objects are laid out in memory.
 */
import { type KubeObject, keyOf, keyOfRef, type Snapshot } from "../src/index.ts"

/**
 * `observed` with every object, and every object of `cluster` it can `get`, parsed from its JSON;
 * `hold` returns each parsed object as a cache would hold it (as parsed, unless given).
 */
export const parsedSnapshot = (
  observed: Snapshot,
  cluster: Iterable<KubeObject>,
  hold: (parsed: KubeObject) => KubeObject = (parsed) => parsed
): Snapshot => {
  const objects = new Map<string, KubeObject>()
  for (const object of cluster) objects.set(keyOf(object), hold(JSON.parse(JSON.stringify(object))))
  const parsed = (object: KubeObject): KubeObject => objects.get(keyOf(object)) ?? object
  return {
    primary: parsed(observed.primary),
    owned: observed.owned.map(parsed),
    get: (ref, key) => objects.get(key ?? keyOfRef(ref))
  }
}
