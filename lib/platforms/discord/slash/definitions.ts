import { ApplicationCommandOptionType as Opt, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';

type CommandJson = RESTPostAPIChatInputApplicationCommandsJSONBody;

const sub = (name: string, description: string, options: NonNullable<CommandJson['options']> = []) => ({
  type: Opt.Subcommand as const,
  name,
  description,
  options: options as never,
});

/** The guild commands the daemon registers at start (and `register` on demand). */
export const SLASH_COMMANDS: CommandJson[] = [
  {
    name: 'session',
    description: "Manage this channel's Claude Code session",
    options: [
      sub('status', 'Status, type, profile, uptime, workdir and ids of this channel’s session'),
      sub('restart', 'Restart the session', [
        { type: Opt.Boolean, name: 'fresh', description: 'Start a new conversation instead of resuming' },
      ]),
      sub('refresh', 'Restart in the same conversation (picks up new skills and CLAUDE.md)'),
      sub('fresh', 'Restart with a new conversation'),
      sub('kill', 'Stop the session (it stays stopped until woken or restarted)'),
      sub('wake', 'Start a suspended or stopped session again'),
      sub('workdir', 'Show or change the working directory (the session restarts there)', [
        { type: Opt.String, name: 'path', description: 'New working directory', autocomplete: true },
      ]),
      sub('send', 'Send a key (yes, no, enter, esc, tab, up, down, 1-5…) or text + Enter', [
        { type: Opt.String, name: 'input', description: 'A key name or text', required: true, autocomplete: true },
      ]),
      sub('watch', 'Stream the session’s activity into one message until it is idle', [
        {
          type: Opt.String,
          name: 'mode',
          description: 'live: the current screen; log: new lines as they come',
          choices: [
            { name: 'live', value: 'live' },
            { name: 'log', value: 'log' },
          ],
        },
      ]),
      sub('snapshot', 'The current screen as a text file'),
      sub('history', 'The whole scrollback as a text file'),
      sub('sessions', 'All sessions and their status'),
      sub('profile', 'Show or switch the profile (restarts in the same conversation)', [
        { type: Opt.String, name: 'name', description: 'Profile from profiles.env', autocomplete: true },
      ]),
      sub('allowed', 'Tools always allowed in this session (from “Always allow” buttons)', [
        { type: Opt.Boolean, name: 'clear', description: 'Forget them: each tool asks again' },
      ]),
    ],
  },
  {
    name: 'skills',
    description: "Skills available to this channel's session",
    options: [
      sub('list', 'Project, global and plugin skills for this channel’s workdir'),
      sub('install', 'Install a skill into the session (npx skills add), then refresh', [
        { type: Opt.String, name: 'name', description: 'owner/repo or skill name', required: true },
      ]),
    ],
  },
  {
    name: 'run',
    description: 'Ask this channel’s session to run a skill',
    options: [
      { type: Opt.String, name: 'skill', description: 'Skill name', required: true, autocomplete: true },
      { type: Opt.String, name: 'args', description: 'Arguments for the skill' },
    ],
  },
  { name: 'discover', description: 'Spawn sessions for channels and threads that have none' },
  {
    name: 'ask',
    description: "Send a prompt to this channel's session (queued like a message of yours)",
    options: [{ type: Opt.String, name: 'prompt', description: 'The prompt', required: true }],
  },
];
