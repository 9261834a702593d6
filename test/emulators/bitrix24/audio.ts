/**
 * Recognizes the two formats attachRecord accepts (wav, mp3) by their bytes, so a test catches a product
 * that uploads an error page or an empty body as "the recording".
 */
export type AudioKind = 'wav' | 'mp3';

export function detectAudio(bytes: Buffer): AudioKind | null {
  if (bytes.length >= 12 && bytes.toString('ascii', 0, 4) === 'RIFF' && bytes.toString('ascii', 8, 12) === 'WAVE') return 'wav';
  if (bytes.length >= 3 && bytes.toString('ascii', 0, 3) === 'ID3') return 'mp3';
  // MPEG audio frame sync: 11 set bits.
  const b0 = bytes[0] ?? 0;
  const b1 = bytes[1] ?? 0;
  if (bytes.length >= 4 && b0 === 0xff && (b1 & 0xe0) === 0xe0) return 'mp3';
  return null;
}

const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

export function decodeBase64Strict(text: string): Buffer | null {
  const trimmed = text.trim();
  if (trimmed === '' || !BASE64.test(trimmed)) return null;
  return Buffer.from(trimmed, 'base64');
}
