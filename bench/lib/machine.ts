import { cpus, totalmem } from 'node:os';

export interface MachineInfo {
  date: string;
  cores: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  platform: string;
}

export function machineInfo(now = new Date()): MachineInfo {
  const list = cpus();
  return {
    date: now.toISOString(),
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.date} · ${m.cores} cores · ${m.cpuModel} · ${m.memoryGb} GB · node ${m.node} · ${m.platform}`;
}
