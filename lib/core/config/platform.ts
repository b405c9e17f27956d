/** What differs between the Discord and Telegram flavours of the same session engine. */
export interface Platform {
  key: 'discord' | 'telegram';
  label: string;
  /** tmux session names are `<prefix>-<id>`. */
  prefix: 'dc' | 'tg';
  /** Folder under the config root holding config.env, sessions.json and the per-session state dirs. */
  sessionsDirName: string;
  /** Environment variable the channel plugin reads its state dir from. */
  stateDirVar: string;
  /** Key of the bot token in `channels/<key>/.env`. */
  tokenVar: string;
  /** Value of claude's `--channels` flag in plugin mode. */
  plugin: string;
  /** Prefix of the config.env keys: `<P>_ALLOWED_USER_ID`, `<P>_SESSION_WORKDIR`, ... */
  configPrefix: string;
  /** The program users run, named in hints. */
  cli: string;
  /** What an id looks like; anything else is refused before it reaches tmux or the disk. */
  idPattern: RegExp;
  idDescription: string;
  idHint: string;
  /** Short-name prefix for a session without a name (`ch-123456`). */
  defaultNamePrefix: string;
}

export const DISCORD: Platform = {
  key: 'discord',
  label: 'Discord',
  prefix: 'dc',
  sessionsDirName: 'discord-sessions',
  stateDirVar: 'DISCORD_STATE_DIR',
  tokenVar: 'DISCORD_BOT_TOKEN',
  plugin: 'plugin:discord@claude-plugins-official',
  configPrefix: 'DISCORD',
  cli: 'discord-session-manager',
  idPattern: /^[0-9]{5,20}$/,
  idDescription: 'a numeric Discord id (snowflake)',
  idHint: 'In Discord enable Developer Mode, then right-click the channel → Copy Channel ID.',
  defaultNamePrefix: 'ch',
};

export const TELEGRAM: Platform = {
  key: 'telegram',
  label: 'Telegram',
  prefix: 'tg',
  sessionsDirName: 'telegram-sessions',
  stateDirVar: 'TELEGRAM_STATE_DIR',
  tokenVar: 'TELEGRAM_BOT_TOKEN',
  plugin: 'plugin:telegram@claude-plugins-official',
  configPrefix: 'TELEGRAM',
  cli: 'telegram-session-manager',
  idPattern: /^-?[0-9]{1,20}$/,
  idDescription: 'a numeric Telegram chat id',
  idHint: 'Run `telegram-session-manager list` to see the chats the router has seen.',
  defaultNamePrefix: 'chat',
};
