/**
 * telephony.externalLine.add/get/update/delete — application context only.
 * https://apidocs.bitrix24.com/api-reference/telephony/telephony-external-line-add.html (and -get, -update, -delete)
 */
import { coreError } from '../errors.js';
import { pickString } from '../params.js';
import { ok, type MethodTable } from './types.js';

function flag(value: string | undefined, fallback: 'Y' | 'N'): 'Y' | 'N' {
  if (value === undefined) return fallback;
  return ['Y', '1', 'TRUE'].includes(value.toUpperCase()) ? 'Y' : 'N';
}

export const lineMethods: MethodTable = {
  'telephony.externalline.add': {
    appContextOnly: true,
    run: ({ portal, params }) => {
      const number = pickString(params, 'NUMBER')?.trim();
      if (!number) throw coreError('NUMBER should not be empty');
      if (portal.lines.has(number)) throw coreError('Line already exists');
      const id = portal.nextLineId++;
      portal.lines.set(number, {
        ID: id,
        NUMBER: number,
        NAME: pickString(params, 'NAME') ?? '',
        CRM_AUTO_CREATE: flag(pickString(params, 'CRM_AUTO_CREATE'), 'Y'),
      });
      return ok({ ID: id });
    },
  },
  'telephony.externalline.get': {
    appContextOnly: true,
    run: ({ portal }) =>
      ok([...portal.lines.values()].map((l) => ({ NUMBER: l.NUMBER, NAME: l.NAME, CRM_AUTO_CREATE: l.CRM_AUTO_CREATE }))),
  },
  'telephony.externalline.update': {
    appContextOnly: true,
    run: ({ portal, params }) => {
      const number = pickString(params, 'NUMBER')?.trim();
      if (!number) throw coreError('NUMBER should not be empty');
      const line = portal.lines.get(number);
      if (!line) throw coreError(`Could not find line with number ${number}`);
      const name = pickString(params, 'NAME');
      const autoCreate = pickString(params, 'CRM_AUTO_CREATE');
      if (name === undefined && autoCreate === undefined) throw coreError('There are no fields to update');
      if (name !== undefined) line.NAME = name;
      if (autoCreate !== undefined) line.CRM_AUTO_CREATE = flag(autoCreate, line.CRM_AUTO_CREATE);
      return ok({ ID: String(line.ID) });
    },
  },
  'telephony.externalline.delete': {
    appContextOnly: true,
    run: ({ portal, params }) => {
      const number = pickString(params, 'NUMBER')?.trim();
      if (!number) throw coreError('NUMBER should not be empty');
      if (!portal.lines.delete(number)) throw coreError(`Could not find line with number ${number}`);
      return ok([]);
    },
  },
};
