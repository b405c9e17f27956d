import type { ArgsDef } from 'citty';

export const idArg = {
  id: { type: 'positional', description: "Channel, thread or chat: its id, dc-<id>/tg-<id>, or its session's name ('#name' or name)", required: true },
} as const satisfies ArgsDef;

export const jsonArg = {
  json: { type: 'boolean', description: 'Print JSON on stdout' },
} as const satisfies ArgsDef;

export const nameArg = {
  name: { type: 'string', description: 'Label of the session (default ch-<last 6 digits>)' },
} as const satisfies ArgsDef;

export const workdirArg = {
  workdir: { type: 'string', description: 'Working directory (default: workdir-map.json, then config)' },
} as const satisfies ArgsDef;
