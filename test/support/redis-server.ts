// A real redis-server on a free loopback port, started and stopped by the test that needs it. The global setup of the
// files that need it (test/support/setup/redis-server.ts) calls ensureRedisServer(), which installs the Debian
// package when it is missing and the user may.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createServer } from 'node:net';

/** The one command that installs redis-server on Debian and Ubuntu, shown when the suite cannot run it itself. */
export const INSTALL_REDIS_COMMAND = 'sudo apt-get update && sudo apt-get install -y redis-server';

/** What ensureRedisServer() needs from the machine; tests replace it. */
export interface Machine {
  /** Whether an executable of that name is on the PATH. */
  has(command: string): boolean;
  /** Whether this process runs as root. */
  isRoot(): boolean;
  /** Whether `sudo` works without a password prompt. */
  canSudo(): boolean;
  /** Runs a shell command, output to the terminal; throws if it fails. */
  run(argv: string[]): void;
}

export const thisMachine: Machine = {
  has: (command) =>
    (process.env.PATH ?? '').split(delimiter).some((dir) => {
      try {
        accessSync(join(dir, command), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }),
  isRoot: () => process.getuid?.() === 0,
  canSudo: () => {
    try {
      execFileSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  },
  run: (argv) => execFileSync(argv[0]!, argv.slice(1), { stdio: 'inherit' }),
};

/**
 * Makes sure `redis-server` is on the PATH: when it is missing, installs it with apt-get if this process is root or
 * may sudo without a password; otherwise throws at once, with one line that gives the command to run.
 */
export function ensureRedisServer(machine: Machine = thisMachine, log: (line: string) => void = console.log): void {
  if (machine.has('redis-server')) return;
  const elevate = machine.isRoot() ? [] : machine.canSudo() ? ['sudo', '-n'] : undefined;
  if (elevate && machine.has('apt-get')) {
    log('installing redis-server with apt-get (the Redis store is tested against a real one)');
    const install = 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server';
    try {
      machine.run([...elevate, 'sh', '-c', install]);
    } catch {
      // reported below, with the command to run by hand
    }
    if (machine.has('redis-server')) return;
  }
  const error = new Error(
    `redis-server is not installed and the test suite cannot install it; run: ${INSTALL_REDIS_COMMAND}`,
  );
  error.stack = error.message; // one line, no stack: it is an instruction, not a bug
  throw error;
}

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--loglevel',
    'notice',
  ]);
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.on('error', (error) =>
      reject(new Error(`could not start redis-server (apt-get install redis-server): ${error.message}`)),
    );
    child.stdout?.on('data', (chunk) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
