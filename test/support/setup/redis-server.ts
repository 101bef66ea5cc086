// Need `redis-server`: the Redis store is tested against a real one (test/support/redis-server.ts starts it).
import { ensureRedisServer, thisMachine } from '../redis-server.js';
import { log, once } from './once.js';

export default once('redis-server', () => ensureRedisServer(thisMachine, log));
