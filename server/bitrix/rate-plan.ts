import { ParamsFactory, type RestrictionParams } from '@bitrix24/b24jssdk';
import type { Config } from '../config.js';
import type { Portal } from '../store/records.js';

export type RatePlan = 'standard' | 'enterprise';

/**
 * Leaky bucket per portal: 2 req/s burst 50, Enterprise 5/s burst 250 (https://apidocs.bitrix24.com/limits.html).
 * The SDK's ParamsFactory carries exactly these two profiles.
 */
export function restrictionFor(plan: RatePlan, overrides: Partial<RestrictionParams> = {}): RestrictionParams {
  const base = plan === 'enterprise' ? ParamsFactory.getEnterprise() : ParamsFactory.getDefault();
  return { ...base, ...overrides };
}

/** The configured plan wins; `auto` uses what install detected for this portal. */
export function planForPortal(config: Pick<Config, 'b24RatePlan'>, portal: Pick<Portal, 'ratePlan'>): RatePlan {
  return config.b24RatePlan === 'auto' ? portal.ratePlan : config.b24RatePlan;
}

/**
 * `app.info` → LICENSE_FAMILY `ent` (or LICENSE_TYPE `ent…`) means an Enterprise plan (reference §4.5; an inference
 * from the licence naming, the docs warn LICENSE can be ambiguous — so the operator can force it with B24_RATE_PLAN).
 */
export function ratePlanFromAppInfo(info: unknown): RatePlan {
  if (typeof info !== 'object' || info === null) return 'standard';
  const { LICENSE_FAMILY: family, LICENSE_TYPE: type } = info as Record<string, unknown>;
  const isEnt = (v: unknown) => typeof v === 'string' && v.toLowerCase().startsWith('ent');
  return isEnt(family) || isEnt(type) ? 'enterprise' : 'standard';
}
