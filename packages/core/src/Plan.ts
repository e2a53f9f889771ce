/**
 * `plan(reconciler, observed, now)`: the one decision of every controller, as data. Compares only
 * the fields a controller manages, in canonical form; orders the actions; never touches an
 * object the primary does not control (checked by UID). Pure: no I/O, no clock, no randomness.
 */
import type { Action } from "./Action.ts"
import type { KubeObject } from "./Object.ts"
import type { Observed, Outcome, Reconciler } from "./Reconciler.ts"

export interface Plan<P extends KubeObject = KubeObject> {
  /** In execution order; stop at the first failure. Empty when the primary has converged. */
  readonly actions: ReadonlyArray<Action>
  readonly outcome: Outcome<P>
}

export declare const plan: <P extends KubeObject>(
  reconciler: Reconciler<P>,
  observed: Observed<P>,
  /** The current time, RFC 3339, for condition transition times. */
  now: string
) => Plan<P>
