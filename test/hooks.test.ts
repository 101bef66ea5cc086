import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { runInNewContext } from 'node:vm';
import { http, HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { callHook } from '../src/hooks.js';
import type { TokenRefreshedEvent, TokenRefreshFailedEvent } from '../src/index.js';
import {
  CLIENT_SECRET,
  issuingEndpoint,
  mswServer,
  oauthError,
  onTokenEndpoint,
  settle,
  testClient,
  tokenResponse,
  useMsw,
} from './support/msw.js';
import { useFakeClocks } from './support/clocks.js';

useMsw();

useFakeClocks({ random: 0 });

function recorder() {
  const refreshed: TokenRefreshedEvent[] = [];
  const failed: TokenRefreshFailedEvent[] = [];
  return {
    refreshed,
    failed,
    hooks: {
      onTokenRefreshed: (event: TokenRefreshedEvent) => void refreshed.push(event),
      onTokenRefreshFailed: (event: TokenRefreshFailedEvent) => void failed.push(event),
    },
  };
}

describe('refresh hooks', () => {
  it('report each refresh with its reason: initial, expiring, expired, cleared, unauthorized, background', async () => {
    issuingEndpoint(3600);
    const { refreshed, hooks } = recorder();
    const client = testClient({ ...hooks, backgroundTokenRefreshInterval: 7200 });
    await client.getToken();
    vi.advanceTimersByTime(3540_000);
    await client.getToken();
    await vi.advanceTimersByTimeAsync(0);
    vi.advanceTimersByTime(3600_000);
    await client.getToken();
    client.clearToken();
    await client.getToken();
    client.clearToken(await client.getToken());
    await client.getToken();
    await vi.advanceTimersByTimeAsync(7200_000 - 3540_000 - 3600_000);
    expect(refreshed.map((e) => e.reason)).toEqual([
      'initial',
      'expiring',
      'expired',
      'cleared',
      'unauthorized',
      'background',
    ]);
  });

  it('gives 401 as the reason when client.fetch retires a rejected token', async () => {
    issuingEndpoint();
    mswServer.use(
      http.get('https://api.example.com/', ({ request }) =>
        request.headers.get('authorization') === 'Bearer token-1'
          ? new HttpResponse(null, { status: 401 })
          : HttpResponse.json({}),
      ),
    );
    const { refreshed, hooks } = recorder();
    await testClient(hooks).fetch('https://api.example.com/');
    expect(refreshed.map((e) => e.reason)).toEqual(['initial', 'unauthorized']);
  });

  it('carries expiry, attempts and duration, and never the token or the secret', async () => {
    onTokenEndpoint((n) => (n < 3 ? oauthError(503) : tokenResponse('the-token-value', 600)));
    const { refreshed, hooks } = recorder();
    const started = Date.now();
    const token = testClient(hooks).getToken();
    await vi.advanceTimersByTimeAsync(200);
    await token;
    const sentAt = started + 200;
    expect(refreshed).toEqual([
      {
        expiresAt: sentAt + (600 - 10) * 1000,
        refreshAt: sentAt + (600 - 60) * 1000,
        attempts: 3,
        durationMs: 200,
        reason: 'initial',
        source: 'endpoint',
        secretIndex: 0,
      },
    ]);
    expect(JSON.stringify(refreshed)).not.toMatch(/the-token-value|test-secret/);
  });

  it('report a failure with the error, its attempts and the reason, and never the secret', async () => {
    onTokenEndpoint(() => oauthError(401, 'invalid_client', CLIENT_SECRET));
    const { failed, hooks } = recorder();
    await settle(testClient(hooks).getToken());
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      attempts: 1,
      reason: 'initial',
      error: { code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 401 },
    });
    expect(JSON.stringify(failed[0])).not.toContain(CLIENT_SECRET);
    expect(failed[0]?.error.message).not.toContain(CLIENT_SECRET);
  });

  it('report a background failure as well as onBackgroundRefreshError', async () => {
    onTokenEndpoint((n) => (n === 1 ? tokenResponse('t') : oauthError(400)));
    const { failed, hooks } = recorder();
    const background = vi.fn();
    const client = testClient({ ...hooks, backgroundTokenRefreshInterval: 60, onBackgroundRefreshError: background });
    await client.getToken();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(failed.map((e) => e.reason)).toEqual(['background']);
    expect(background).toHaveBeenCalledWith(failed[0]?.error);
  });

  it('cannot break the client by throwing or rejecting', async () => {
    issuingEndpoint();
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const throwing = testClient({
        onTokenRefreshed: () => {
          throw new Error('logger down');
        },
      });
      const rejecting = testClient({ onTokenRefreshed: () => Promise.reject(new Error('async logger down')) as never });
      await expect(throwing.getToken()).resolves.toBe('token-1');
      await expect(rejecting.getToken()).resolves.toBe('token-2');
      await vi.waitFor(() => expect(unhandled).not.toHaveBeenCalled());
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  /** A rejected promise made in another realm: not `instanceof Promise` here. */
  const foreignRejection = (): PromiseLike<never> => runInNewContext('Promise.reject(new Error("vm logger down"))');

  it.each<[string, () => unknown]>([
    ['a promise from another realm', foreignRejection],
    [
      'a thenable',
      () => {
        const rejection = foreignRejection();
        return { then: rejection.then.bind(rejection) };
      },
    ],
  ])('callHook swallows the rejection of %s returned by a hook', async (_kind, hook) => {
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      callHook(hook, {});
      await nextMacrotask();
      await nextMacrotask();
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('callHook survives a hook result whose then getter throws', () => {
    const hostile = () => ({
      get then(): never {
        throw new Error('hostile');
      },
    });
    expect(() => callHook(hostile, {})).not.toThrow();
  });

  it('callHook ignores a missing hook', () => {
    expect(() => callHook(undefined, {})).not.toThrow();
  });
});

describe('client.state', () => {
  it('follows the cache, the request in flight and the last error, without the token', async () => {
    let answer: (response: Response) => void = () => undefined;
    onTokenEndpoint((n) => (n === 1 ? oauthError(400) : new Promise<Response>((resolve) => (answer = resolve))));
    const client = testClient();
    const none = {
      hasValidToken: false,
      expiresAt: undefined,
      refreshAt: undefined,
      refreshing: false,
      retryAt: undefined,
    };
    expect(client.state).toEqual({ ...none, status: 'unavailable', lastRefreshError: undefined });

    await settle(client.getToken());
    expect(client.state.lastRefreshError).toMatchObject({ code: 'TOKEN_ENDPOINT_HTTP_ERROR', status: 400 });

    const token = client.getToken();
    await vi.advanceTimersByTimeAsync(0);
    expect(client.state.refreshing).toBe(true);
    answer(tokenResponse('secret-token-value', 3600));
    await token;
    const now = Date.now();
    expect(client.state).toEqual({
      status: 'fresh',
      hasValidToken: true,
      expiresAt: now + 3590_000,
      refreshAt: now + 3540_000,
      refreshing: false,
      lastRefreshError: undefined,
      retryAt: undefined,
    });
    expect(JSON.stringify(client.state)).not.toContain('secret-token-value');

    vi.advanceTimersByTime(3590_000);
    expect(client.state.hasValidToken).toBe(false);
    client.clearToken();
    expect(client.state.expiresAt).toBeUndefined();
  });

  it('is a frozen snapshot', () => {
    const state = testClient().state;
    expect(Object.isFrozen(state)).toBe(true);
  });
});
