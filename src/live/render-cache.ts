// Renders that do not depend on who is looking, shared by every socket of a node: the static
// board of a game (tiles and walls never change) and, per game state, the partials and view
// data (the Minotaur's intent, the last round's hits) that are the same for every viewer.
// Without it each viewer of a game re-rendered all of them.

import type { GameState } from '../game/types.js';
import { boardView, sharedView, type BoardView, type SharedView } from './view-model.js';

export class RenderCache {
  private readonly boards = new Map<string, { board: BoardView; html: Map<string, string> }>();
  private readonly perState = new WeakMap<GameState, Map<string, string>>();
  private readonly sharedViews = new WeakMap<GameState, SharedView>();

  constructor(private readonly maxGames = 2000) {}

  /** The fixed board of a game, computed once per game per node. */
  board(state: GameState): BoardView {
    return this.entry(state).board;
  }

  /** The parts of a state's view that are the same for every viewer, computed once per state. */
  shared(state: GameState): SharedView {
    let v = this.sharedViews.get(state);
    if (!v) {
      v = sharedView(state, this.board(state));
      this.sharedViews.set(state, v);
    }
    return v;
  }

  /** HTML that depends only on the game's fixed board. */
  boardHtml(state: GameState, name: string, render: () => string): string {
    const { html } = this.entry(state);
    let out = html.get(name);
    if (out === undefined) {
      out = render();
      html.set(name, out);
    }
    return out;
  }

  /** HTML that depends only on this exact state (states are immutable: a change is a new object). */
  stateHtml(state: GameState, name: string, render: () => string): string {
    let m = this.perState.get(state);
    if (!m) {
      m = new Map();
      this.perState.set(state, m);
    }
    let out = m.get(name);
    if (out === undefined) {
      out = render();
      m.set(name, out);
    }
    return out;
  }

  private entry(state: GameState) {
    const key = `${state.id}:${state.radius}`;
    let e = this.boards.get(key);
    if (e) {
      // Keep recently used games at the end, so the oldest is evicted first.
      this.boards.delete(key);
      this.boards.set(key, e);
      return e;
    }
    e = { board: boardView(state), html: new Map() };
    this.boards.set(key, e);
    if (this.boards.size > this.maxGames) this.boards.delete(this.boards.keys().next().value as string);
    return e;
  }
}
