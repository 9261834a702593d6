/**
 * The countries of issue 11 with numbers as people really have them: the CRM phone as a sales person typed it, the
 * caller ID as that country's trunk delivers it (trunk prefix `8` in RU/KZ, `0` in DE/ZA/GB/BR, none for CN mobiles,
 * the country's international prefix `00`/`810`/`011` for a foreign caller), and what click-to-call must ask the PBX to
 * dial for the typed number (phone.ts dialNumber). Shared by the unit tests of phone.ts and the end-to-end test, which
 * keeps every number's record on one portal: no two rows share a number.
 */
export interface NumberCase {
  /** The CRM phone as typed. */
  typed: string;
  /** The caller ID the PBX reports for a call from that phone. */
  callerId: string;
  /** Both read as this. */
  e164: string;
}

export interface CountryCase {
  country: 'CN' | 'RU' | 'KZ' | 'DE' | 'BR' | 'ZA' | 'US' | 'GB';
  numbers: NumberCase[];
  /** Click-to-call on `numbers[0].typed` makes the PBX dial this. */
  dials: string;
}

export const COUNTRY_CASES: CountryCase[] = [
  {
    country: 'CN',
    numbers: [
      { typed: '138 0013 8000', callerId: '13800138000', e164: '+8613800138000' },
      { typed: '010-6552 9988', callerId: '01065529988', e164: '+861065529988' },
      { typed: '(021) 6321 5678', callerId: '+862163215678', e164: '+862163215678' },
    ],
    dials: '13800138000',
  },
  {
    country: 'RU',
    numbers: [
      { typed: '8 (912) 345-67-89', callerId: '89123456789', e164: '+79123456789' },
      { typed: '+7 495 123-45-67', callerId: '84951234567', e164: '+74951234567' },
      { typed: '903 123 45 67', callerId: '+79031234567', e164: '+79031234567' },
      { typed: '+49 40 9876543', callerId: '81049409876543', e164: '+49409876543' },
    ],
    dials: '89123456789',
  },
  {
    country: 'KZ',
    numbers: [
      { typed: '8 701 234 5678', callerId: '87012345678', e164: '+77012345678' },
      { typed: '8 (727) 250-12-34', callerId: '+77272501234', e164: '+77272501234' },
      { typed: '+7 (705) 111-22-33', callerId: '87051112233', e164: '+77051112233' },
    ],
    dials: '87012345678',
  },
  {
    country: 'DE',
    numbers: [
      { typed: '030 1234567', callerId: '0301234567', e164: '+49301234567' },
      { typed: '0171 234 5678', callerId: '+491712345678', e164: '+491712345678' },
      { typed: '+49 (0)89 1234567', callerId: '0891234567', e164: '+49891234567' },
      { typed: '+7 912 555-66-77', callerId: '0079125556677', e164: '+79125556677' },
    ],
    dials: '0301234567',
  },
  {
    country: 'BR',
    numbers: [
      { typed: '(11) 91234-5678', callerId: '011912345678', e164: '+5511912345678' },
      { typed: '(21) 3456-7890', callerId: '2134567890', e164: '+552134567890' },
      { typed: '+55 31 98765-4321', callerId: '31987654321', e164: '+5531987654321' },
    ],
    dials: '11912345678',
  },
  {
    country: 'ZA',
    numbers: [
      { typed: '082 777 0404', callerId: '0827770404', e164: '+27827770404' },
      { typed: '011 123 4567', callerId: '+27111234567', e164: '+27111234567' },
      { typed: '+27 (0)21 555 1234', callerId: '0215551234', e164: '+27215551234' },
    ],
    dials: '0827770404',
  },
  {
    country: 'US',
    numbers: [
      { typed: '(415) 555-2671', callerId: '+14155552671', e164: '+14155552671' },
      { typed: '415.555.0199', callerId: '4155550199', e164: '+14155550199' },
      { typed: '1-212-555-0100', callerId: '12125550100', e164: '+12125550100' },
      { typed: '+44 20 7123 4567', callerId: '011442071234567', e164: '+442071234567' },
    ],
    dials: '14155552671',
  },
  {
    country: 'GB',
    numbers: [
      { typed: '020 7946 0958', callerId: '02079460958', e164: '+442079460958' },
      { typed: '07700 900123', callerId: '+447700900123', e164: '+447700900123' },
      { typed: '+44 (0)161 496 0000', callerId: '01614960000', e164: '+441614960000' },
      { typed: '+33 1 42 68 53 00', callerId: '0033142685300', e164: '+33142685300' },
    ],
    dials: '02079460958',
  },
];
