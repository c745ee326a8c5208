// A game in the replicated store: the store's envelope (key, owner, epoch, seq) around a game
// state. The replication layer knows only the envelope; this is where the two meet.

import type { GameState } from '../game/types.js';
import type { StoreRecord } from '../replication/record.js';

export type GameRecord = StoreRecord<GameState>;
