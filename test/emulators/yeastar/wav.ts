/**
 * A real WAV recording: RIFF/WAVE, PCM, 8 kHz mono, 8-bit (8 KB per second keeps files small while the length
 * still matches the talk time). The content is a quiet 440 Hz tone so players and decoders have something to decode.
 */

const SAMPLE_RATE = 8000;
const BITS = 8;
const CHANNELS = 1;

export function buildWav(seconds: number): Buffer {
  const samples = Math.max(1, Math.round(seconds * SAMPLE_RATE));
  const dataSize = samples * CHANNELS * (BITS / 8);
  const buf = Buffer.alloc(44 + dataSize);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + dataSize, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(CHANNELS, 22);
  buf.writeUInt32LE(SAMPLE_RATE, 24);
  buf.writeUInt32LE(SAMPLE_RATE * CHANNELS * (BITS / 8), 28);
  buf.writeUInt16LE(CHANNELS * (BITS / 8), 32);
  buf.writeUInt16LE(BITS, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(dataSize, 40);
  for (let i = 0; i < samples; i += 1) {
    // 8-bit PCM is unsigned, centred on 128.
    buf.writeUInt8(128 + Math.round(24 * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE)), 44 + i);
  }
  return buf;
}

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  seconds: number;
}

/** Reads the header back; used by tests (and handy for anyone asserting on a downloaded file). */
export function parseWav(buf: Buffer): WavInfo | undefined {
  if (buf.length < 44 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') return undefined;
  const sampleRate = buf.readUInt32LE(24);
  const channels = buf.readUInt16LE(22);
  const bitsPerSample = buf.readUInt16LE(34);
  const dataSize = buf.readUInt32LE(40);
  return { sampleRate, channels, bitsPerSample, seconds: dataSize / (sampleRate * channels * (bitsPerSample / 8)) };
}
