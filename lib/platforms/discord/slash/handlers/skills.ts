import { CrsError } from '../../../../core/util/errors.ts';
import { scanSkills } from '../skills.ts';
import type { CommandHandler } from '../types.ts';
import { sessionOf } from './_session.ts';

/** What `npx skills add` accepts: a skill name, owner/repo, or a URL-ish source; nothing shell-like. */
const SKILL_SOURCE = /^[A-Za-z0-9@][A-Za-z0-9@._\/:#-]{0,199}$/;

/** `/skills list` and `/skills install <name>`. */
export const handleSkills: CommandHandler = async (interaction, deps) => {
  const row = await sessionOf(interaction, deps);
  const { paths } = deps.manager;
  if (interaction.options.getSubcommand() === 'list') {
    const skills = scanSkills(row.workdir, paths.root, paths.home);
    if (!skills.length) return { content: `No skills found for \`${row.workdir}\`.` };
    const groups = (['project', 'global', 'plugin'] as const).map((scope) => {
      const list = skills.filter((s) => s.scope === scope);
      return list.length ? `**${scope}** (${list.length})\n${list.map((s) => `• \`${s.name}\`${s.description ? ` — ${s.description}` : ''}`).join('\n')}` : '';
    });
    return { content: `${groups.filter(Boolean).join('\n\n')}\n\nRun one with \`/run\`.` };
  }
  const name = interaction.options.getString('name', true).trim();
  if (!SKILL_SOURCE.test(name) || name.includes('..')) {
    throw new CrsError(`"${name.slice(0, 60)}" is not a skill name or source.`, { hint: 'Use a name or owner/repo.' });
  }
  const cwd = row.workdir ?? paths.home;
  const result = await deps.runCommand(['npx', '--yes', 'skills', 'add', name, '--yes'], cwd);
  const tail = result.output.trim().split('\n').slice(-15).join('\n');
  if (result.code !== 0) throw new CrsError(`Installing ${name} failed (exit ${result.code}): ${tail.slice(-300)}`, { hint: 'Check the name.' });
  return { content: `Installed \`${name}\` in \`${cwd}\`. Use \`/session refresh\` to load it.\n\`\`\`\n${tail.slice(-1500)}\n\`\`\`` };
};
