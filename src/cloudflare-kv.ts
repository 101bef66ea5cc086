export { createKVTokenStore, KV_MIN_TTL_SECONDS } from './stores/cloudflare-kv.js';
export type { KVNamespaceLike } from './stores/cloudflare-kv.js';
export type { TokenStore } from './token-store.js';
