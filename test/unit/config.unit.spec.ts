import { describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../server/config.js';

describe('loadConfig', () => {
  it('runs with nothing set: port 3000, ./data, a local public URL', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.dataDir).toBe('./data');
    expect(config.publicUrl).toBe('http://localhost:3000');
    expect(config.pbxAllowLoopback).toBe(false);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('derives PUBLIC_URL from PORT and trims a trailing slash when given', () => {
    expect(loadConfig({ PORT: '4000' }).publicUrl).toBe('http://localhost:4000');
    expect(loadConfig({ PUBLIC_URL: 'https://pbx.example.com/' }).publicUrl).toBe('https://pbx.example.com');
  });

  it('refuses a bad value with a message naming the variable', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });
});
