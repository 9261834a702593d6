import { describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS, startNodeFlags } from '../../support/spawn-server.js';

describe('the node flags of npm start', () => {
  it('are read from the start script, so a server under test runs with them', () => {
    expect(startNodeFlags('tsx scripts/build-if-stale.ts && tsx --min-semi-space-size=16 server/main.ts')).toEqual(['--min-semi-space-size=16']);
    expect(startNodeFlags('tsx a.ts && tsx --x=1 --y server/main.ts')).toEqual(['--x=1', '--y']);
    expect(startNodeFlags('tsx server/main.ts')).toEqual([]);
    expect(() => startNodeFlags('node dist/server.js')).toThrow(/server\/main\.ts/);
  });

  it('give the young generation its full size from the start (issue 14: fewer objects promoted, fewer major GCs)', () => {
    expect(SERVER_NODE_FLAGS).toContain('--min-semi-space-size=16');
  });
});
