// The node's lifecycle state, held in one place: the node moves it, the mesh announces every
// change to the peers, and the web layer reads it for the health check and upgrades.

import { EventEmitter } from 'node:events';
import type { NodeState } from './types.js';

/** What readers need: the current state, nothing that changes it. */
export interface LifecycleView {
  readonly state: NodeState;
}

export class Lifecycle
  extends EventEmitter<{ change: [next: NodeState, previous: NodeState] }>
  implements LifecycleView
{
  #state: NodeState;

  constructor(initial: NodeState = 'starting') {
    super();
    this.#state = initial;
  }

  get state(): NodeState {
    return this.#state;
  }

  /**
   * Moves to `next` and reports the change. Once draining, a node only ever stops: a SIGTERM
   * during start must not be undone by the start finishing. Returns whether the state changed.
   */
  to(next: NodeState): boolean {
    const previous = this.#state;
    if (previous === next) return false;
    if ((previous === 'draining' || previous === 'stopped') && next !== 'stopped') return false;
    this.#state = next;
    this.emit('change', next, previous);
    return true;
  }
}
