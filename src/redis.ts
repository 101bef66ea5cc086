export { createRedisTokenStore } from './stores/redis.js';
export type { IoRedisLike, NodeRedisLike } from './stores/redis.js';
export type { TokenStore } from './token-store.js';
