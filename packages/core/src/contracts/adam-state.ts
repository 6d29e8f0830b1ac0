/**
 * Adam's state for a list of variables, as plain values: what a data-parallel trainer gathers from the threads that
 * update each variable (@gm/backend) and what a checkpoint keeps (@gm/models' optimizer files). Slot k belongs to the
 * k-th variable of the list; one thread's Adam holds the same in `getWeights()` (minus the names).
 */
export interface AdamState {
  /** Steps taken. */
  iterations: number;
  /** βᵗ as the optimizer keeps them: running products, not pow (pow would not restore bit for bit). */
  accBeta1: number;
  accBeta2: number;
  /** Per variable, its values' first and second moments (zeros for a variable not yet updated). */
  firstMoments: Float32Array[];
  secondMoments: Float32Array[];
}
