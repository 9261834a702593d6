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

  it('/metrics token and extra frame parents: off by default; a short token or a source that could end a CSP directive is refused', () => {
    expect(loadConfig({}).metricsToken).toBeUndefined();
    expect(loadConfig({}).frameAncestors).toEqual([]);
    expect(loadConfig({ METRICS_TOKEN: 'a-long-enough-token' }).metricsToken).toBe('a-long-enough-token');
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN/);
    expect(loadConfig({ FRAME_ANCESTORS: ' https://crm.example.com  http://127.0.0.1:* ' }).frameAncestors).toEqual(['https://crm.example.com', 'http://127.0.0.1:*']);
    for (const bad of ["https://x.example; script-src 'unsafe-inline'", '*', 'javascript:alert(1)', "'unsafe-inline'"]) {
      expect(() => loadConfig({ FRAME_ANCESTORS: bad })).toThrow(/FRAME_ANCESTORS/);
    }
  });

  it('refuses a bad value with a message naming the variable', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });
});
