import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Skill {
  name: string;
  description: string;
  scope: 'project' | 'global' | 'plugin';
}

/** The one-line `description:` of a SKILL.md front matter (folded `>` blocks joined). */
export function skillDescription(skillMd: string): string {
  try {
    const text = readFileSync(skillMd, 'utf8');
    const front = /^---\n([\s\S]*?)\n---/.exec(text)?.[1] ?? '';
    const match = /^description:\s*(?:[>|][-+]?\s*\n)?([\s\S]*?)(?=\n[A-Za-z_-]+:|$)/m.exec(front);
    return (match?.[1] ?? '').replace(/\s+/g, ' ').replace(/^["']|["']$/g, '').trim().slice(0, 100);
  } catch {
    return '';
  }
}

function skillsIn(dir: string, scope: Skill['scope'], prefix = ''): Skill[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .filter((entry) => existsSync(join(dir, entry, 'SKILL.md')))
    .map((entry) => ({ name: `${prefix}${entry}`, description: skillDescription(join(dir, entry, 'SKILL.md')), scope }));
}

/** Plugin skills from `<root>/plugins/installed_plugins.json` (`{plugins: {name@market: [{installPath}]}}`). */
function pluginSkills(root: string): Skill[] {
  try {
    const data = JSON.parse(readFileSync(join(root, 'plugins/installed_plugins.json'), 'utf8'));
    return Object.entries((data?.plugins ?? {}) as Record<string, Array<{ installPath?: string }>>).flatMap(([key, installs]) => {
      const path = installs?.[0]?.installPath;
      return path && statSync(path, { throwIfNoEntry: false })?.isDirectory() ? skillsIn(join(path, 'skills'), 'plugin', `${key.split('@')[0]}:`) : [];
    });
  } catch {
    return [];
  }
}

/** Skills a session in `workdir` can use: the project's, the user's (`<root>/skills`, `~/.agents/skills`) and plugins'. */
export function scanSkills(workdir: string | null, root: string, home: string): Skill[] {
  const all = [
    ...(workdir ? [...skillsIn(join(workdir, '.claude/skills'), 'project'), ...skillsIn(join(workdir, 'skills'), 'project')] : []),
    ...skillsIn(join(root, 'skills'), 'global'),
    ...skillsIn(join(home, '.agents/skills'), 'global'),
    ...pluginSkills(root),
  ];
  const seen = new Set<string>();
  return all.filter((skill) => !seen.has(skill.name) && seen.add(skill.name)).sort((a, b) => a.name.localeCompare(b.name));
}
