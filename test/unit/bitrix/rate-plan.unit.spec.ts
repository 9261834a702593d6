import { describe, expect, it } from 'vitest';
import { planForPortal, ratePlanFromAppInfo, restrictionFor } from '../../../server/bitrix/rate-plan.js';

describe('rate plan', () => {
  it('uses the documented buckets: 2/s burst 50, Enterprise 5/s burst 250', () => {
    expect(restrictionFor('standard').rateLimit).toMatchObject({ drainRate: 2, burstLimit: 50 });
    expect(restrictionFor('enterprise').rateLimit).toMatchObject({ drainRate: 5, burstLimit: 250 });
    expect(restrictionFor('standard', { maxRetries: 1 }).maxRetries).toBe(1);
  });

  it('detects Enterprise from app.info LICENSE_FAMILY / LICENSE_TYPE', () => {
    expect(ratePlanFromAppInfo({ LICENSE_FAMILY: 'ent', LICENSE_TYPE: 'ent10000' })).toBe('enterprise');
    expect(ratePlanFromAppInfo({ LICENSE_TYPE: 'ent250' })).toBe('enterprise');
    expect(ratePlanFromAppInfo({ LICENSE_FAMILY: 'project' })).toBe('standard');
    expect(ratePlanFromAppInfo(null)).toBe('standard');
  });

  it('lets the operator force a plan; auto uses the detected one', () => {
    expect(planForPortal({ b24RatePlan: 'enterprise' }, { ratePlan: 'standard' })).toBe('enterprise');
    expect(planForPortal({ b24RatePlan: 'standard' }, { ratePlan: 'enterprise' })).toBe('standard');
    expect(planForPortal({ b24RatePlan: 'auto' }, { ratePlan: 'enterprise' })).toBe('enterprise');
  });
});
