import type { Router } from 'express';
import { wireParts } from '../../server/index.js';
import type { PartsFactory } from '../../server/parts-types.js';

/** The product's parts as startServer wires them, plus extra root routers (the demo page, the parent window). */
export function productParts(extraRootRouters: Router[] = []): PartsFactory {
  return async (core) => {
    const parts = await wireParts(core);
    return { ...parts, rootRouters: [...extraRootRouters, ...parts.rootRouters] };
  };
}
