/**
 * Timer helpers that behave the same on Node, Deno, Bun and Workers, using only the web-standard timer globals
 * plus the one runtime-specific call each runtime offers to keep a timer from holding the process open.
 */

interface DenoTimerNamespace {
  unrefTimer?: (id: number) => void;
}

/**
 * Starts a repeating timer that never keeps the process alive: Node and Bun return a timer object with `unref()`,
 * Deno takes the numeric id through `Deno.unrefTimer()`, and Workers have nothing to unref. Returns the function
 * that stops it.
 */
export function startUnrefInterval(callback: () => void, intervalMs: number): () => void {
  const handle: unknown = setInterval(callback, intervalMs);
  unref(handle);
  return () => clearInterval(handle as ReturnType<typeof setInterval>);
}

function unref(handle: unknown): void {
  if (typeof handle === 'object' && handle !== null && 'unref' in handle && typeof handle.unref === 'function') {
    handle.unref();
    return;
  }
  const deno = (globalThis as { Deno?: DenoTimerNamespace }).Deno;
  if (typeof handle === 'number' && typeof deno?.unrefTimer === 'function') {
    deno.unrefTimer(handle);
  }
}

/** Resolves after `ms`, or rejects with `signal.reason` as soon as `signal` aborts, clearing its timer either way. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Calls `start` and settles as its promise does, unless `ms` pass first (it then rejects with what `onTimeout()`
 * returns) or `signal` aborts first (it rejects with `signal.reason`, at once, without calling `start` if it already
 * has). The time counts from before `start` is called, so its synchronous part (a blocking secrets manager, a slow
 * fetch implementation) counts against it too. Its timer and abort listener go as soon as it settles, so a promise
 * that never settles (a hung store, a fetch that ignores its signal) holds nothing once the time is up.
 */
export function within<T>(
  start: () => T | PromiseLike<T>,
  ms: number,
  onTimeout: () => unknown,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const end = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      end();
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      end();
      reject(onTimeout());
    }, ms);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    // A synchronous throw, or a plain value, from `start` settles it like a promise would.
    new Promise<T>((settle) => settle(start())).then(
      (value) => {
        end();
        resolve(value);
      },
      (error: unknown) => {
        end();
        reject(error);
      },
    );
  });
}
