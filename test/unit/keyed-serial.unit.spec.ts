import { describe, expect, it } from 'vitest';
import { createKeyedSerial } from '../../server/keyed-serial.js';

/**
 * The one ordering helper (server/keyed-serial.ts): what every read-modify-write of a call, a portal, a phonebook
 * entry or a missed-call task relies on. Each test holds tasks with promises the test releases, so nothing here
 * depends on how fast the machine is.
 */
function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { opened, open };
}

/** Lets every queued promise callback run (a few turns of the microtask queue and one of the event loop). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('keyed serial', () => {
  it('runs the tasks of one key one after another, in the order queued, never two at once', async () => {
    const serial = createKeyedSerial();
    const log: string[] = [];
    const first = gate();
    const done = [
      serial.run('call-1', async () => { log.push('start 1'); await first.opened; log.push('end 1'); return 1; }),
      serial.run('call-1', () => { log.push('run 2'); return 2; }),
      serial.run('call-1', async () => { log.push('start 3'); await settle(); log.push('end 3'); return 3; }),
    ];
    await settle();
    expect(log).toEqual(['start 1']);
    first.open();
    expect(await Promise.all(done)).toEqual([1, 2, 3]);
    expect(log).toEqual(['start 1', 'end 1', 'run 2', 'start 3', 'end 3']);
  });

  it('runs different keys side by side: a held task holds only its own key', async () => {
    const serial = createKeyedSerial();
    const held = gate();
    const log: string[] = [];
    const a = serial.run('A', async () => { await held.opened; log.push('A'); });
    await serial.run('B', () => { log.push('B'); });
    expect(log).toEqual(['B']);
    held.open();
    await a;
    expect(log).toEqual(['B', 'A']);
  });

  it('a task that rejects or throws fails its own caller only; the next task of the key still runs', async () => {
    const serial = createKeyedSerial();
    const rejected = serial.run('k', async () => { throw new Error('disk full'); });
    const thrown = serial.run('k', () => { throw new Error('bad input'); });
    const next = serial.run('k', () => 'still runs');
    await expect(rejected).rejects.toThrow('disk full');
    await expect(thrown).rejects.toThrow('bad input');
    expect(await next).toBe('still runs');
  });

  it('forgets a key once its last task settled: ten thousand calls leave an empty map', async () => {
    const serial = createKeyedSerial();
    const held = gate();
    const tasks: Promise<unknown>[] = [];
    for (let i = 0; i < 10_000; i += 1) {
      tasks.push(serial.run(`call-${i}`, () => i));
      if (i % 3 === 0) tasks.push(serial.run(`call-${i}`, async () => { throw new Error(`failed ${i}`); }).catch(() => undefined));
    }
    tasks.push(serial.run('held', () => held.opened));
    await Promise.all(tasks.slice(0, -1));
    await settle();
    // Only the key with a task still running is remembered.
    expect(serial.keys()).toBe(1);
    held.open();
    await serial.idle();
    expect(serial.keys()).toBe(0);
  });

  it('idle() waits for tasks queued while it waits', async () => {
    const serial = createKeyedSerial();
    const log: string[] = [];
    const first = gate();
    void serial.run('a', async () => {
      await first.opened;
      // Queued from inside a running task, after idle() was asked.
      void serial.run('b', async () => { await settle(); log.push('b'); });
      log.push('a');
    });
    const idle = serial.idle().then(() => log.push('idle'));
    await settle();
    first.open();
    await idle;
    expect(log).toEqual(['a', 'b', 'idle']);
  });
});
