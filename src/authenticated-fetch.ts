/**
 * A `fetch` that sends the client's token as a Bearer credential
 * ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)) and, when the server answers 401, retires
 * that token and tries once more with a fresh one.
 */
import type { FetchImplementation } from './config.js';
import { WristbandM2MError } from './errors.js';

/** The part of a client that an authenticated fetch needs. */
export interface TokenSource {
  getToken(options?: { signal?: AbortSignal }): Promise<string>;
  clearToken(token?: string): void;
}

/**
 * Wraps `fetchImpl` so every request carries `Authorization: Bearer <token>` from `client`, replacing any
 * Authorization header the caller set: use plain `fetch` for requests that need other credentials. A 401 answer
 * retires exactly the token that was sent (`client.clearToken(token)`, so concurrent 401s cause one refresh) and
 * the request is sent once more; a second 401 is returned as it is. A request whose body is a one-shot stream is not
 * sent again: its 401 is returned. The caller's signal and every other option go to `fetchImpl` unchanged.
 *
 * @param fetchImpl The fetch to send requests with. @default globalThis.fetch, looked up at each request
 * @example
 * const authedFetch = createAuthenticatedFetch(m2m);
 * const openai = new OpenAI({ fetch: authedFetch, baseURL: 'https://llm-gateway.internal.example/v1' });
 */
export function createAuthenticatedFetch(client: TokenSource, fetchImpl?: FetchImplementation): FetchImplementation {
  return async function authenticatedFetch(input, init) {
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    const replayable = canReplay(input, init);
    const send = async (): Promise<{ response: Response; token: string }> => {
      const token = await tokenFor(client, signal ?? undefined);
      const request = replayable && input instanceof Request ? input.clone() : input;
      const headers = new Headers(init?.headers ?? (request instanceof Request ? request.headers : undefined));
      headers.set('Authorization', `Bearer ${token}`);
      const response = await (fetchImpl ?? globalThis.fetch)(request, { ...init, headers });
      return { response, token };
    };

    const first = await send();
    if (first.response.status !== 401 || !replayable) return first.response;
    client.clearToken(first.token);
    first.response.body?.cancel().catch(() => undefined);
    return (await send()).response;
  };
}

/** Waits for a token the way fetch waits for anything: an abort rejects with the signal's own reason. */
async function tokenFor(client: TokenSource, signal: AbortSignal | undefined): Promise<string> {
  try {
    return await client.getToken(signal === undefined ? undefined : { signal });
  } catch (error) {
    if (error instanceof WristbandM2MError && error.code === 'ABORTED' && signal?.aborted) throw signal.reason;
    throw error;
  }
}

/** Whether the same request can be sent twice: bodies fetch re-reads from the start each time, or a fresh Request. */
function canReplay(input: string | URL | Request, init: RequestInit | undefined): boolean {
  if (init?.body !== undefined) return isReusableBody(init.body);
  if (input instanceof Request) return !input.bodyUsed;
  return true;
}

function isReusableBody(body: BodyInit | null): boolean {
  return (
    body === null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof FormData ||
    body instanceof Blob ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  );
}
