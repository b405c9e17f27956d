import { CrsError } from '../core/util/errors.ts';

export interface PromptOptions {
  /** Echo nothing while typing (a token). */
  hidden?: boolean;
}

/** Asks one question; resolves the line typed, or null when the input ends (Ctrl-D on an empty line). */
export type Prompt = (question: string, options?: PromptOptions) => Promise<string | null>;

/** What the prompt reads and writes: a terminal's input (raw mode) and its output. */
export interface PromptIO {
  input: NodeJS.ReadStream;
  output: { write(text: string): unknown };
}

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const CTRL_U = '\u0015';
const ESC = '\u001b';

/**
 * A one-line prompt on the terminal in raw mode: Enter answers, Backspace and Ctrl-U edit, Ctrl-D on an
 * empty line ends the input (null), Ctrl-C rejects with exit code 130. Hidden answers are not echoed.
 * consola's prompt is not used: under Bun it returns undefined whatever is typed.
 */
export function createPrompt(io: PromptIO = { input: process.stdin, output: process.stdout }): Prompt {
  const decoder = new TextDecoder();
  // What was typed after an Enter (several answers pasted at once) is for the next question.
  let pending = '';
  return (question, options = {}) =>
    new Promise((resolve, reject) => {
      const { input, output } = io;
      let answer = '';
      // Escape sequences (arrow keys, bracketed paste) are skipped: 'esc' after ESC, 'csi' inside `ESC [ ...`.
      let escape: 'none' | 'esc' | 'csi' | 'ss3' = 'none';
      const finish = (settle: () => void) => {
        input.off('data', onData);
        input.off('end', onEnd);
        input.setRawMode(false);
        input.pause();
        output.write('\r\n');
        settle();
      };
      const onEnd = () => finish(() => resolve(null));
      const onData = (chunk: Buffer | string) => {
        const chars = [...(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }))];
        for (let i = 0; i < chars.length; i++) {
          const char = chars[i]!;
          if (escape === 'esc') {
            escape = char === '[' ? 'csi' : char === 'O' ? 'ss3' : 'none';
            continue;
          }
          if (escape === 'csi') {
            if (char >= '@' && char <= '~') escape = 'none';
            continue;
          }
          if (escape === 'ss3') {
            escape = 'none';
            continue;
          }
          if (char === '\r' || char === '\n') {
            pending = chars.slice(char === '\r' && chars[i + 1] === '\n' ? i + 2 : i + 1).join('');
            return finish(() => resolve(answer));
          }
          if (char === CTRL_C) return finish(() => reject(new CrsError('Cancelled (Ctrl-C).', { exitCode: 130 })));
          if (char === CTRL_D) {
            if (!answer) return finish(() => resolve(null));
          } else if (char === '\u007f' || char === '\b') {
            if (answer) {
              answer = [...answer].slice(0, -1).join('');
              if (!options.hidden) output.write('\b \b');
            }
          } else if (char === CTRL_U) {
            if (!options.hidden) output.write('\b \b'.repeat([...answer].length));
            answer = '';
          } else if (char === ESC) {
            escape = 'esc';
          } else if (char >= ' ') {
            answer += char;
            if (!options.hidden) output.write(char);
          }
        }
      };
      // Raw mode before the question shows: the terminal must not echo a hidden answer typed at once.
      input.setRawMode(true);
      output.write(question);
      input.on('data', onData);
      input.on('end', onEnd);
      input.resume();
      if (pending) {
        const text = pending;
        pending = '';
        onData(text);
      }
    });
}
