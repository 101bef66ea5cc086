import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pause, startUnrefInterval, within } from '../src/timers.js';
import { startTokenServer } from '../demo/token-server.mjs';

const run = promisify(execFile);

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('startUnrefInterval', () => {
  it('unrefs a Node-style timer object and stops it', () => {
    const handles: NodeJS.Timeout[] = [];
    const realSetInterval = globalThis.setInterval;
    vi.stubGlobal('setInterval', (...args: Parameters<typeof setInterval>) => {
      const handle = realSetInterval(...args);
      handles.push(handle);
      return handle;
    });
    const stop = startUnrefInterval(() => undefined, 60_000);
    expect(handles).toHaveLength(1);
    expect(handles[0]?.hasRef()).toBe(false);
    stop();
    expect((handles[0] as unknown as { _destroyed: boolean })._destroyed).toBe(true);
  });

  it('unrefs a numeric timer id through Deno.unrefTimer', () => {
    const unrefTimer = vi.fn();
    const clearInterval = vi.fn();
    vi.stubGlobal('Deno', { unrefTimer });
    vi.stubGlobal('setInterval', () => 42);
    vi.stubGlobal('clearInterval', clearInterval);
    const stop = startUnrefInterval(() => undefined, 1000);
    expect(unrefTimer).toHaveBeenCalledWith(42);
    stop();
    expect(clearInterval).toHaveBeenCalledWith(42);
  });

  it('does nothing more where timers cannot be unref’d (Workers)', () => {
    vi.stubGlobal('setInterval', () => 7);
    vi.stubGlobal('clearInterval', () => undefined);
    expect(() => startUnrefInterval(() => undefined, 1000)()).not.toThrow();
  });
});

describe('pause', () => {
  it('resolves after the delay and leaves no timer', async () => {
    vi.useFakeTimers();
    const done = vi.fn();
    void pause(100, new AbortController().signal).then(done);
    await vi.advanceTimersByTimeAsync(99);
    expect(done).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with the abort reason at once and clears its timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const paused = pause(10_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(paused).rejects.toThrow('stop');
    expect(vi.getTimerCount()).toBe(0);
    await expect(pause(1, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });
});

describe('within', () => {
  const timedOut = new Error('timed out');

  it('settles as the promise does, and leaves no timer or listener', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    await expect(
      within(
        () => Promise.resolve('value'),
        1000,
        () => timedOut,
        controller.signal,
      ),
    ).resolves.toBe('value');
    const failure = new Error('failed');
    await expect(
      within(
        () => Promise.reject(failure),
        1000,
        () => timedOut,
        controller.signal,
      ),
    ).rejects.toBe(failure);
    expect(vi.getTimerCount()).toBe(0);
    expect(remove).toHaveBeenCalledTimes(2);
  });

  it('rejects with onTimeout() once the time is up, however long the promise hangs', async () => {
    vi.useFakeTimers();
    const result = within(
      () => new Promise(() => undefined),
      1000,
      () => timedOut,
    );
    const settled = vi.fn();
    result.catch(settled);
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toHaveBeenCalledWith(timedOut);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with the abort reason at once, before or during the wait, and clears its timer', async () => {
    vi.useFakeTimers();
    const reason = new Error('stop');
    const start = vi.fn(() => new Promise(() => undefined));
    await expect(within(start, 1000, () => timedOut, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(start).not.toHaveBeenCalled();
    const controller = new AbortController();
    const result = within(
      () => new Promise(() => undefined),
      1000,
      () => timedOut,
      controller.signal,
    );
    controller.abort(reason);
    await expect(result).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('settles on a synchronous throw or a plain value of start, leaving nothing behind', async () => {
    vi.useFakeTimers();
    const thrown = new Error('sync');
    const start = (): never => {
      throw thrown;
    };
    await expect(within(start, 1000, () => timedOut)).rejects.toBe(thrown);
    await expect(
      within(
        () => 'plain',
        1000,
        () => timedOut,
      ),
    ).resolves.toBe('plain');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('counts the synchronous part of start against the time', async () => {
    vi.useFakeTimers();
    const start = (): Promise<string> => {
      vi.advanceTimersByTime(600); // blocking work: the clock moves on, no timer can fire meanwhile
      return new Promise((resolve) => setTimeout(() => resolve('late'), 600));
    };
    const outcome = expect(within(start, 1000, () => timedOut)).rejects.toBe(timedOut);
    await vi.advanceTimersByTimeAsync(600);
    await outcome;
  });
});

describe('an idle process with background refresh on', () => {
  it('exits by itself: the background timer does not hold it open', async () => {
    const server = await startTokenServer();
    try {
      const script = `
        import { createWristbandM2MClient } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
        const client = createWristbandM2MClient({
          clientId: ${JSON.stringify(server.clientId)},
          clientSecret: ${JSON.stringify(server.clientSecret)},
          wristbandApplicationVanityDomain: ${JSON.stringify(server.vanityDomain)},
          backgroundTokenRefreshInterval: 60,
        });
        const token = await client.getToken();
        console.log('got', token.length > 0);
      `;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 });
      expect(stdout.trim()).toBe('got true');
      expect(server.requestCount).toBe(1);
    } finally {
      await server.close();
    }
  });
});
