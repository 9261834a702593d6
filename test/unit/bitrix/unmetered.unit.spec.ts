import { describe, expect, it } from 'vitest';
import { unmetered } from '../../../server/bitrix/client.js';
import { restrictionFor } from '../../../server/bitrix/rate-plan.js';

/** The SDK keeps its operating-time limits and retries; only its leaky bucket is opened (the coalescer meters requests). */
describe('SDK restriction beside the coalescer', () => {
  it('opens the leaky bucket far above any plan and keeps everything else', () => {
    const real = restrictionFor('enterprise', { maxRetries: 2 });
    const sdk = unmetered(real);
    expect(sdk.rateLimit?.burstLimit).toBeGreaterThan(10_000);
    expect(sdk.rateLimit?.drainRate).toBeGreaterThan(10_000);
    expect(sdk.rateLimit?.adaptiveEnabled).toBe(real.rateLimit?.adaptiveEnabled);
    expect(sdk.operatingLimit).toEqual(real.operatingLimit);
    expect(sdk.adaptiveConfig).toEqual(real.adaptiveConfig);
    expect(sdk.maxRetries).toBe(2);
    // The plan's own figures are untouched: the coalescer's bucket is built from them.
    expect(real.rateLimit).toMatchObject({ burstLimit: 250, drainRate: 5 });
  });
});
