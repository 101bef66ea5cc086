/**
 * A one-way flag with listeners, made of plain values only. Unlike an `AbortSignal`, it is no I/O object: a
 * Cloudflare Worker request may fire one that another request made, which would throw for a signal.
 */
export interface Latch {
  readonly fired: boolean;
  /** Calls `listener` once the latch fires; at once if it has. */
  then(listener: () => void): void;
  fire(): void;
}

export function createLatch(): Latch {
  let listeners: (() => void)[] | undefined = [];
  return {
    get fired() {
      return listeners === undefined;
    },
    then(listener) {
      if (listeners === undefined) listener();
      else listeners.push(listener);
    },
    fire() {
      const waiting = listeners;
      listeners = undefined;
      for (const listener of waiting ?? []) listener();
    },
  };
}
