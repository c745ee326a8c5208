// The public face of the pure game rules; sessions and views import from here.

export * from './types.js';
export {
  DEFAULT_MAX_ROUNDS,
  createGame,
  joinGame,
  everyoneBack,
  leaveGame,
  startGame,
  submitAction,
  isRoundDue,
  everyoneChose,
  resolveRound,
  livingPlayers,
  playerById,
  tileKind,
  allTiles,
  submittedBy,
  previousBy,
  defendedLastRound,
  type NewGame,
} from './rules.js';
export type { TileKind } from './queries.js';
export { RULES, CLASSIC_RULES, type Rules } from './balance.js';
export {
  CHAT_KEEP,
  CHAT_MAX_CHARS,
  applySocial,
  cleanMessage,
  isEmote,
  markRematch,
  offerRematch,
  react,
  say,
  type SocialOp,
} from './social.js';
export { minotaurStep, minotaurTarget } from './minotaur.js';
export { minotaurStepsIn } from './round.js';
export {
  DEFAULT_RADIUS,
  LAIR,
  generateBoard,
  generateWalls,
  isFloorConnected,
  startTiles,
  type Board,
} from './board.js';
export {
  DIRECTION_VECTORS,
  add,
  directionBetween,
  distance,
  equals,
  hexesWithin,
  key,
  neighbor,
  neighbors,
  onBoard,
  ring,
} from './hex.js';
export { createRng, type Rng } from './rng.js';
export { awaitsPlayer, holdRound, isHoldOver, markPresent, releaseHold } from './hold.js';
