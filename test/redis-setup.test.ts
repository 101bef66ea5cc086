// The global setup provides redis-server on a fresh Debian machine, or stops at once with the command to run.
import { describe, expect, it } from 'vitest';
import { ensureRedisServer, INSTALL_REDIS_COMMAND, type Machine } from './support/redis-server.js';

/** A scripted machine: which commands exist, who we are, and what apt-get does. */
function machine(options: { has: string[]; root?: boolean; sudo?: boolean; installWorks?: boolean }) {
  const commands = new Set(options.has);
  const ran: string[][] = [];
  const fake: Machine = {
    has: (command) => commands.has(command),
    isRoot: () => options.root ?? false,
    canSudo: () => options.sudo ?? false,
    run: (argv) => {
      ran.push(argv);
      if (options.installWorks === false) throw new Error('apt-get failed');
      commands.add('redis-server');
    },
  };
  return { fake, ran };
}

const quiet = () => undefined;

describe('ensureRedisServer', () => {
  it('does nothing when redis-server is already installed', () => {
    const { fake, ran } = machine({ has: ['redis-server', 'apt-get'], root: true });
    ensureRedisServer(fake, quiet);
    expect(ran).toEqual([]);
  });

  it('installs it with apt-get as root', () => {
    const { fake, ran } = machine({ has: ['apt-get'], root: true });
    ensureRedisServer(fake, quiet);
    expect(ran).toEqual([
      ['sh', '-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server'],
    ]);
  });

  it('installs it through sudo without a password prompt when not root', () => {
    const { fake, ran } = machine({ has: ['apt-get'], sudo: true });
    ensureRedisServer(fake, quiet);
    expect(ran[0]?.slice(0, 2)).toEqual(['sudo', '-n']);
  });

  it.each([
    ['not root and no password-less sudo', { has: ['apt-get'] }],
    ['no apt-get', { has: [], root: true }],
    ['apt-get failing', { has: ['apt-get'], root: true, installWorks: false }],
  ])('stops at once with one line giving the command to run: %s', (_case, options) => {
    const { fake } = machine(options);
    let error: Error | undefined;
    try {
      ensureRedisServer(fake, quiet);
    } catch (thrown) {
      error = thrown as Error;
    }
    expect(error?.message).toBe(
      `redis-server is not installed and the test suite cannot install it; run: ${INSTALL_REDIS_COMMAND}`,
    );
    expect(error?.stack).not.toContain('\n');
  });
});
