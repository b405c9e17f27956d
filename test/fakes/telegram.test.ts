import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { Api, Bot, GrammyError, InlineKeyboard, InputFile } from 'grammy';
import type { Update } from 'grammy/types';
import { FakeTelegram } from './telegram.ts';

const CHAT = 42;
const GROUP = -1_001_234_567_890;

/** The error a promise rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<GrammyError> {
  const outcome = await promise.then(
    (value) => new Error(`Expected a rejection, got ${JSON.stringify(value)}`),
    (error: unknown) => error,
  );
  if (!(outcome instanceof GrammyError)) throw outcome;
  return outcome;
}

function ids(updates: Update[]): number[] {
  return updates.map((u) => u.update_id);
}

describe('FakeTelegram with a real grammY Bot', () => {
  let fake: FakeTelegram;
  let bots: Bot[];

  /** A bot on the fake; `done` settles when its polling loop ends (with the error that ended it, if any). */
  function startBot(setup: (bot: Bot) => void = () => {}, token = fake.token): { bot: Bot; done: Promise<unknown> } {
    const bot = new Bot(token, { client: { apiRoot: fake.url } });
    setup(bot);
    bots.push(bot);
    const done = bot.start().then(
      () => 'stopped',
      (error: unknown) => error,
    );
    return { bot, done };
  }

  beforeEach(() => {
    fake = new FakeTelegram().start();
    bots = [];
  });

  afterEach(async () => {
    for (const bot of bots) if (bot.isRunning()) await bot.stop().catch(() => {});
    await fake.stop();
  });

  test('long polling delivers user messages and commands, and replies land in fake.sent', async () => {
    startBot((bot) => {
      bot.command('status', (ctx) => ctx.reply(`status: ${ctx.match}`, { reply_parameters: { message_id: ctx.msg.message_id } }));
      bot.on('message:text', (ctx) => ctx.reply(`echo: ${ctx.msg.text}`));
    });
    await fake.waitFor(() => fake.polling);

    const hello = fake.userMessage(CHAT, { text: 'hello', username: 'alice' });
    const status = fake.command(CHAT, CHAT, '/status now please');
    expect(status.entities).toEqual([{ type: 'bot_command', offset: 0, length: '/status'.length }]);
    expect(status.message_id).toBe(hello.message_id + 1);
    expect(await fake.waitForSent(CHAT, 2)).toEqual(['echo: hello', 'status: now please']);

    const group = fake.command(GROUP, 7, `/status@${fake.botUser.username} in group`, { chatTitle: 'Team' });
    expect(group.chat).toEqual({ id: GROUP, type: 'supergroup', title: 'Team' });
    expect(await fake.waitForSent(GROUP, 1)).toEqual(['status: in group']);

    const reply = fake.calls('sendMessage')[1];
    expect(reply).toMatchObject({ chat_id: CHAT, text: 'status: now please', reply_parameters: { message_id: status.message_id } });
    const botReply = fake.messages(CHAT).at(-1);
    expect(botReply).toMatchObject({ from: { id: fake.botUser.id, is_bot: true }, reply_to_message: { message_id: status.message_id } });
    expect(fake.sent.slice(0, 2).map((c) => c.method).sort()).toEqual(['deleteWebhook', 'getMe']);
    // Held long polls: a handful of getUpdates calls, not a busy loop.
    expect(fake.requests.filter((r) => r.method === 'getUpdates').length).toBeLessThan(8);
  });

  test('offsets are confirmed only after the handler finishes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    startBot((bot) =>
      bot.on('message', async (ctx) => {
        started();
        await gate;
        await ctx.reply('done');
      }),
    );
    await fake.waitFor(() => fake.polling);

    fake.userMessage(CHAT, { text: 'slow one' });
    const update = fake.updates.at(-1)!;
    await handlerStarted;
    expect(fake.confirmedOffset).toBe(update.update_id);
    expect(ids(fake.pending())).toEqual([update.update_id]);

    release();
    await fake.waitFor(() => fake.confirmedOffset === update.update_id + 1);
    expect(fake.pending()).toEqual([]);
    expect(fake.sentTo(CHAT)).toEqual(['done']);
  });

  test('bot.stop() returns promptly and commits the last offset', async () => {
    const { bot, done } = startBot((b) => b.on('message', (ctx) => ctx.reply('seen')));
    await fake.waitFor(() => fake.polling);
    fake.userMessage(CHAT, { text: 'one' });
    await fake.waitForSent(CHAT, 1);
    await fake.waitFor(() => fake.polling);

    const startedAt = performance.now();
    await bot.stop();
    expect(performance.now() - startedAt).toBeLessThan(500);
    expect(await done).toBe('stopped');

    const last = fake.requests.at(-1)!;
    expect(last).toMatchObject({ method: 'getUpdates', status: 200, params: { offset: fake.updates.at(-1)!.update_id + 1, limit: 1 } });
    expect(fake.confirmedOffset).toBe(fake.updates.at(-1)!.update_id + 1);
    expect(fake.polling).toBe(false);
    expect(fake.conflicts).toBe(0);
  });

  test('a second poller on the same token ends the first with 409 Conflict', async () => {
    const seenBy: string[] = [];
    const first = startBot((bot) => bot.on('message', () => void seenBy.push('first')));
    await fake.waitFor(() => fake.polling);

    const second = startBot((bot) => bot.on('message', async (ctx) => {
      seenBy.push('second');
      await ctx.reply('second here');
    }));
    const error = await first.done;
    expect(error).toBeInstanceOf(GrammyError);
    expect(error).toMatchObject({
      error_code: 409,
      description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
    });
    expect(fake.conflicts).toBe(1);
    expect(first.bot.isRunning()).toBe(false);

    await fake.waitFor(() => fake.polling);
    fake.userMessage(CHAT, { text: 'who is there?' });
    expect(await fake.waitForSent(CHAT, 1)).toEqual(['second here']);
    expect(seenBy).toEqual(['second']);
    await second.bot.stop();
    expect(await second.done).toBe('stopped');
  });

  test('an injected 429 surfaces as a GrammyError with retry_after, and other statuses too', async () => {
    const api = new Api(fake.token, { apiRoot: fake.url });
    fake.fail(/^sendMessage$/, 429, 1);
    fake.fail(/^sendChatAction$/, 500, 1);

    const limited = await rejection(api.sendMessage(CHAT, 'too fast'));
    expect(limited.error_code).toBe(429);
    expect(limited.description).toBe('Too Many Requests: retry after 1');
    expect(limited.parameters.retry_after).toBe(1);
    expect((await rejection(api.sendChatAction(CHAT, 'typing'))).error_code).toBe(500);

    await api.sendMessage(CHAT, 'later');
    await api.sendChatAction(CHAT, 'typing');
    expect(fake.sentTo(CHAT)).toEqual(['later']);
    expect(fake.requests.map((r) => `${r.method} ${r.status}`)).toEqual([
      'sendMessage 429',
      'sendChatAction 500',
      'sendMessage 200',
      'sendChatAction 200',
    ]);
  });

  test('getFile and the download URL return the bytes of a document a user sent', async () => {
    const bytes = new TextEncoder().encode('log line 1\nlog line 2\n');
    const downloaded: Uint8Array[] = [];
    startBot((bot) =>
      bot.on('message:document', async (ctx) => {
        const file = await ctx.getFile();
        const response = await fetch(`${fake.url}/file/bot${fake.token}/${file.file_path}`);
        downloaded.push(new Uint8Array(await response.arrayBuffer()));
        await ctx.reply(`got ${ctx.msg.document.file_name} (${file.file_size} bytes), caption ${ctx.msg.caption}`);
      }),
    );
    await fake.waitFor(() => fake.polling);

    fake.userMessage(CHAT, { text: 'see attached', document: { fileName: 'app.log', bytes, mimeType: 'text/plain' } });
    expect(await fake.waitForSent(CHAT, 1)).toEqual([`got app.log (${bytes.byteLength} bytes), caption see attached`]);
    expect(downloaded).toEqual([bytes]);

    const api = new Api(fake.token, { apiRoot: fake.url });
    expect((await rejection(api.getFile('no-such-file'))).description).toBe('Bad Request: invalid file_id');
    const missing = await fetch(`${fake.url}/file/bot${fake.token}/documents/nothing.txt`);
    expect(missing.status).toBe(404);
  });

  test('sendDocument and sendPhoto upload multipart files that the fake records and serves back', async () => {
    const api = new Api(fake.token, { apiRoot: fake.url });
    const question = fake.userMessage(CHAT, { text: 'send me the report' });
    const bytes = new Uint8Array([0, 1, 2, 3, 250, 251]);

    const message = await api.sendDocument(CHAT, new InputFile(bytes, 'report.bin'), { caption: 'here', reply_parameters: { message_id: question.message_id } });
    expect(message.document).toMatchObject({ file_name: 'report.bin', file_size: bytes.byteLength });
    expect(message.reply_to_message?.message_id).toBe(question.message_id);
    const call = fake.sent.at(-1)!;
    expect(call.method).toBe('sendDocument');
    expect(call.params).toMatchObject({ chat_id: CHAT, caption: 'here', reply_parameters: { message_id: question.message_id } });
    expect(call.files).toEqual([{ field: 'document', name: 'report.bin', size: bytes.byteLength, contentType: expect.any(String) }]);

    const file = await api.getFile(message.document!.file_id);
    const download = await fetch(`${fake.url}/file/bot${fake.token}/${file.file_path}`);
    expect(new Uint8Array(await download.arrayBuffer())).toEqual(bytes);

    const photo = await api.sendPhoto(CHAT, new InputFile(new Uint8Array(10)));
    expect(photo.photo?.[0]?.file_size).toBe(10);
    expect(fake.sent.at(-1)?.files).toMatchObject([{ field: 'photo', name: 'photo.jpg', size: 10 }]);
  });

  test('getUpdates honours offset, limit, timeout and allowed_updates', async () => {
    const api = new Api(fake.token, { apiRoot: fake.url });
    for (const text of ['a', 'b', 'c']) fake.userMessage(CHAT, { text });

    expect(ids(await api.getUpdates({ limit: 2 }))).toEqual([1, 2]);
    expect(fake.confirmedOffset).toBe(0);
    expect(ids(await api.getUpdates({ offset: 2 }))).toEqual([2, 3]);
    expect(fake.confirmedOffset).toBe(2);
    // Update 1 is confirmed and gone for good, even for a smaller offset.
    expect(ids(await api.getUpdates({ offset: 1 }))).toEqual([2, 3]);
    expect(fake.confirmedOffset).toBe(2);
    expect(await api.getUpdates({ offset: 4, timeout: 0 })).toEqual([]);
    expect(fake.pending()).toEqual([]);

    let startedAt = performance.now();
    expect(await api.getUpdates({ offset: 4, timeout: 0.2 })).toEqual([]);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(150);

    startedAt = performance.now();
    const held = api.getUpdates({ offset: 4, timeout: 5 });
    await fake.waitFor(() => fake.polling);
    setTimeout(() => fake.userMessage(CHAT, { text: 'wake up' }), 30);
    const woken = await held;
    expect(woken.map((u) => u.message?.text)).toEqual(['wake up']);
    expect(performance.now() - startedAt).toBeLessThan(1_000);

    const reaction = { chat: { id: CHAT, type: 'private' as const, first_name: 'A' }, message_id: 1, date: 0, old_reaction: [], new_reaction: [{ type: 'emoji' as const, emoji: '👍' as const }] };
    expect(fake.pushUpdate({ message_reaction: reaction }).update_id).toBe(5);
    fake.userMessage(CHAT, { text: 'after the reaction' });
    // An empty list means "all but chat_member and reactions"; the skipped reaction is dropped for good.
    expect(ids(await api.getUpdates({ offset: 5, allowed_updates: [] }))).toEqual([6]);
    expect(ids(fake.pending())).toEqual([6]);
    fake.pushUpdate({ message_reaction: reaction });
    fake.userMessage(CHAT, { text: 'not wanted' });
    expect(ids(await api.getUpdates({ offset: 7, allowed_updates: ['message_reaction'] }))).toEqual([7]);
    // Omitting allowed_updates keeps the previous setting: message 8 stays out, reaction 9 comes in.
    fake.pushUpdate({ message_reaction: reaction });
    expect(ids(await api.getUpdates({ offset: 8 }))).toEqual([9]);
    expect(fake.conflicts).toBe(0);
  });

  test('privacy mode keeps ordinary group chatter out of the updates', async () => {
    const privateFake = new FakeTelegram({ privacyMode: true, botUsername: 'quiet_bot' }).start();
    try {
      const api = new Api(privateFake.token, { apiRoot: privateFake.url });
      expect((await api.getMe()).can_read_all_group_messages).toBe(false);
      privateFake.userMessage(GROUP, { text: 'just chatting' });
      privateFake.userMessage(GROUP, { text: 'hey @quiet_bot look' });
      privateFake.command(GROUP, 7, '/status@quiet_bot');
      privateFake.userMessage(CHAT, { text: 'direct message' });
      expect((await api.getUpdates()).map((u) => u.message?.text)).toEqual(['hey @quiet_bot look', '/status@quiet_bot', 'direct message']);
    } finally {
      await privateFake.stop();
    }
  });

  test('401 for a wrong token, 404 for an unknown method, query-string and form parameters accepted', async () => {
    const wrong = await rejection(new Api('1:wrong', { apiRoot: fake.url }).getMe());
    expect({ code: wrong.error_code, description: wrong.description }).toEqual({ code: 401, description: 'Unauthorized' });
    expect(await (await fetch(`${fake.url}/bot1:wrong/getMe`)).json()).toEqual({ ok: false, error_code: 401, description: 'Unauthorized' });

    const unknown = await fetch(`${fake.url}/bot${fake.token}/noSuchMethod`, { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ ok: false, error_code: 404, description: 'Not Found' });

    const me = await new Api(fake.token, { apiRoot: fake.url }).getMe();
    expect(me).toMatchObject({ id: fake.botUser.id, is_bot: true, username: 'fake_test_bot' });
    expect(fake.token.startsWith(`${me.id}:`)).toBe(true);

    const viaQuery = (await (await fetch(`${fake.url}/bot${fake.token}/sendMessage?chat_id=${CHAT}&text=by%20query`)).json()) as { ok: boolean; result: { text: string; chat: { id: number } } };
    expect(viaQuery).toMatchObject({ ok: true, result: { text: 'by query', chat: { id: CHAT } } });
    const viaForm = await fetch(`${fake.url}/bot${fake.token}/sendMessage`, { method: 'POST', body: new URLSearchParams({ chat_id: String(CHAT), text: 'by form' }) });
    expect(viaForm.status).toBe(200);
    expect(fake.calls('sendMessage')).toEqual([
      { chat_id: CHAT, text: 'by query' },
      { chat_id: CHAT, text: 'by form' },
    ]);
  });

  test('commands, chat actions, edits and reactions are recorded', async () => {
    const api = new Api(fake.token, { apiRoot: fake.url });
    const commands = [{ command: 'status', description: 'Show the session status' }];
    expect(await api.setMyCommands(commands)).toBe(true);
    expect(await api.getMyCommands()).toEqual(commands);
    expect(fake.myCommands()).toEqual(commands);
    expect(fake.myCommands({ type: 'all_group_chats' })).toEqual([]);
    expect((await rejection(api.setMyCommands([{ command: 'Status', description: 'x' }]))).description).toBe('Bad Request: BOT_COMMAND_INVALID');
    await api.deleteMyCommands();
    expect(await api.getMyCommands()).toEqual([]);

    await api.sendChatAction(CHAT, 'typing');
    expect(fake.calls('sendChatAction')).toEqual([{ chat_id: CHAT, action: 'typing' }]);

    const draft = await api.sendMessage(CHAT, 'draft', { parse_mode: 'HTML' });
    expect(draft).toMatchObject({ chat: { id: CHAT, type: 'private' }, text: 'draft', from: { id: fake.botUser.id } });
    expect(fake.calls('sendMessage')[0]).toEqual({ chat_id: CHAT, text: 'draft', parse_mode: 'HTML' });
    const edited = await api.editMessageText(CHAT, draft.message_id, 'final');
    expect(edited).toMatchObject({ message_id: draft.message_id, text: 'final', edit_date: expect.any(Number) });
    expect((await rejection(api.editMessageText(CHAT, draft.message_id, 'final'))).description).toStartWith('Bad Request: message is not modified');
    expect((await rejection(api.editMessageText(CHAT, 999, 'x'))).description).toBe('Bad Request: message to edit not found');
    expect(fake.messages(CHAT).map((m) => m.text)).toEqual(['final']);

    const incoming = fake.userMessage(CHAT, { text: 'nice' });
    expect(await api.setMessageReaction(CHAT, incoming.message_id, [{ type: 'emoji', emoji: '👍' }])).toBe(true);
    expect(fake.calls('setMessageReaction')).toEqual([{ chat_id: CHAT, message_id: incoming.message_id, reaction: [{ type: 'emoji', emoji: '👍' }] }]);
    expect((await rejection(api.sendMessage(CHAT, 'x'.repeat(4097)))).description).toBe('Bad Request: message is too long');
    expect((await rejection(api.sendMessage(CHAT, 'reply', { reply_parameters: { message_id: 999 } }))).description).toBe('Bad Request: message to be replied not found');
  });

  test('inline keyboards: stored on the message, pressed as callback_query updates, answered once, taken away by edits', async () => {
    const pressed: string[] = [];
    startBot((bot) =>
      bot.on('callback_query:data', async (ctx) => {
        pressed.push(`${ctx.from.id}:${ctx.callbackQuery.data}:${ctx.callbackQuery.message?.message_id}`);
        await ctx.answerCallbackQuery({ text: `got ${ctx.callbackQuery.data}` });
      }),
    );
    await fake.waitFor(() => fake.polling);
    const api = new Api(fake.token, { apiRoot: fake.url });
    const keyboard = new InlineKeyboard().text('Yes', 'q:yes').text('No', 'q:no');
    const asked = await api.sendMessage(CHAT, 'Proceed?', { reply_markup: keyboard });
    expect(asked.reply_markup).toEqual({ inline_keyboard: [[{ text: 'Yes', callback_data: 'q:yes' }, { text: 'No', callback_data: 'q:no' }]] });
    expect(fake.messages(CHAT).at(-1)!.reply_markup).toEqual(asked.reply_markup!);

    const byData = fake.pressButton(CHAT, asked.message_id, 'q:yes', { fromId: 7 });
    const byText = fake.pressButton(CHAT, asked.message_id, 'No');
    expect(byData).toMatchObject({ from: { id: 7 }, data: 'q:yes', message: { message_id: asked.message_id, reply_markup: asked.reply_markup } });
    await fake.waitFor(() => fake.callbackAnswer(byText));
    expect(pressed).toEqual([`7:q:yes:${asked.message_id}`, `${CHAT}:q:no:${asked.message_id}`]);
    expect(fake.callbackAnswer(byData)).toEqual({ callback_query_id: byData.id, text: 'got q:yes' });
    // One answer per query; a text over 200 characters is refused.
    expect((await rejection(api.answerCallbackQuery(byData.id))).description).toStartWith('Bad Request: query is too old');
    const third = fake.pressButton(CHAT, asked.message_id, 'q:yes');
    await fake.waitFor(() => fake.callbackAnswer(third));
    expect(() => fake.pressButton(CHAT, asked.message_id, 'Maybe')).toThrow('has no button "Maybe"');
    expect((await rejection(api.sendMessage(CHAT, 'x', { reply_markup: new InlineKeyboard().text('long', 'd'.repeat(65)) }))).description).toBe('Bad Request: BUTTON_DATA_INVALID');

    // editMessageReplyMarkup replaces the keyboard; an edit of the text without reply_markup takes it away.
    const fewer = await api.editMessageReplyMarkup(CHAT, asked.message_id, { reply_markup: new InlineKeyboard().text('Yes', 'q:yes') });
    expect(fewer).toMatchObject({ text: 'Proceed?', reply_markup: { inline_keyboard: [[{ text: 'Yes', callback_data: 'q:yes' }]] } });
    expect((await rejection(api.editMessageReplyMarkup(CHAT, asked.message_id, { reply_markup: new InlineKeyboard().text('Yes', 'q:yes') }))).description).toStartWith('Bad Request: message is not modified');
    // The same text with the keyboard taken away is a change.
    const settled = await api.editMessageText(CHAT, asked.message_id, 'Proceed?');
    expect(settled).not.toHaveProperty('reply_markup');
    expect(fake.messages(CHAT).at(-1)).not.toHaveProperty('reply_markup');
    expect(() => fake.pressButton(CHAT, asked.message_id, 'q:yes')).toThrow('has no button');
    // A client still showing the old keyboard can press it anyway.
    const stale = fake.pressButton(CHAT, asked.message_id, 'q:no', { stale: true });
    await fake.waitFor(() => fake.callbackAnswer(stale));
  });

  test("allowed_updates without callback_query leaves button presses out, as Telegram's getUpdates does", async () => {
    const api = new Api(fake.token, { apiRoot: fake.url });
    const asked = await api.sendMessage(CHAT, 'Proceed?', { reply_markup: new InlineKeyboard().text('Yes', 'q:yes') });
    fake.pressButton(CHAT, asked.message_id, 'q:yes');
    fake.userMessage(CHAT, { text: 'hi' });
    expect((await api.getUpdates({ allowed_updates: ['message'] })).map((u) => Object.keys(u)[1])).toEqual(['message']);
    fake.pressButton(CHAT, asked.message_id, 'q:yes');
    expect((await api.getUpdates({ offset: 3, allowed_updates: ['message', 'callback_query'] })).map((u) => u.callback_query?.data)).toEqual(['q:yes']);
  });
});
