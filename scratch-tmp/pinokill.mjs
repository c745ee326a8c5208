import { pino } from 'pino';
const sync = process.argv[2] === 'sync';
const log = sync ? pino(pino.destination({ dest: 1, sync: true })) : pino();
log.info('A');
log.info('B');
const t = Date.now(); while (Date.now() - t < 50) {}
process.kill(process.pid, 'SIGKILL');
