// Stand-ins for the names README snippets use without defining them: the reader's own app, bindings and client,
// and the runtime globals of Deno, Bun and Workers. test/readme.test.ts compiles every ```ts block of README.md as
// its own module with this prelude. Add a name here when a new snippet uses one; keep each stand-in minimal.
import type { WristbandM2MClient, WristbandM2MClientConfig } from '@wristband/typescript-m2m-auth';
import type { KVNamespaceLike } from '@wristband/typescript-m2m-auth/cloudflare-kv';
import type { DenoKvLike } from '@wristband/typescript-m2m-auth/deno-kv';
import type { DurableObjectNamespaceLike } from '@wristband/typescript-m2m-auth/durable-object';

declare global {
  /** The process's shared client, as created in the README's `auth.ts`. */
  const wristbandM2MClient: WristbandM2MClient;
  /** An Express application. */
  const app: import('express').Express;
  /** What `// ...credentials` stands for in a snippet. */
  const credentials: Pick<WristbandM2MClientConfig, 'clientId' | 'clientSecret' | 'wristbandApplicationVanityDomain'>;

  /** A Worker's bindings, as `wrangler types` would generate them. */
  interface Env {
    CLIENT_ID: string;
    CLIENT_SECRET: string;
    APPLICATION_VANITY_DOMAIN: string;
    M2M_TOKENS: KVNamespaceLike;
    TOKEN_STORE: DurableObjectNamespaceLike;
  }
  interface ExecutionContext {
    waitUntil(promise: Promise<unknown>): void;
    passThroughOnException(): void;
  }
  interface ExportedHandler<E = unknown> {
    fetch?(request: Request, env: E, ctx: ExecutionContext): Response | Promise<Response>;
    scheduled?(controller: unknown, env: E, ctx: ExecutionContext): void | Promise<void>;
  }

  const Deno: { env: { get(name: string): string | undefined }; openKv(path?: string): Promise<DenoKvLike> };
  const Bun: {
    env: Record<string, string | undefined>;
    serve(options: { port?: number; fetch(request: Request): Response | Promise<Response> }): unknown;
  };
}
