import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CNI_CODE_TABLE, COMMANDS, CURRENT_VERSION, INSTALL_USAGE, IPAM_KEYS, KNOWN_CNI_ARGS, SUPPORTED_VERSIONS, TABBY_KEYS, TEMPLATE_PLACEHOLDERS } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const row = (start: string): string | undefined => readme.split('\n').find((l) => l.startsWith(start));

describe('README', () => {
  it('lists every error code with its name', () => {
    for (const { code, name } of CNI_CODE_TABLE) expect(row(`| ${code} | ${name} |`), `row for ${code} ${name}`).toBeDefined();
  });
  it('documents every ipam and tabby key', () => {
    for (const k of IPAM_KEYS) expect(row(`| \`ipam.${k}\``), `ipam.${k}`).toBeDefined();
    for (const k of TABBY_KEYS.filter((x) => x !== 'tls')) expect(row(`| \`tabby.${k}\``), `tabby.${k}`).toBeDefined();
    for (const k of ['ca', 'cert', 'key']) expect(row(`| \`tabby.tls.${k}\``)).toBeDefined();
  });
  it('names every CNI_ARGS key and version', () => {
    for (const k of KNOWN_CNI_ARGS) expect(readme).toContain(`\`${k}\``);
    expect(readme).toContain(JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: SUPPORTED_VERSIONS }));
  });
  it('says what every command does', () => {
    for (const c of COMMANDS) expect(readme, c).toMatch(new RegExp(`^\\*\\*${c}\\*\\*`, 'm'));
  });
  it('documents every flag, variable and placeholder of tabby-cni install', () => {
    const section = readme.slice(readme.indexOf('## Install'), readme.indexOf('\n## ', readme.indexOf('## Install') + 1));
    const flags = [...INSTALL_USAGE.matchAll(/^\s+(--[a-z0-9-]+)/gm)].map((m) => m[1]).filter((f) => f !== '--help');
    expect(flags.length).toBeGreaterThan(15);
    for (const f of flags) expect(section, f).toContain(`\`${f}`);
    for (const m of INSTALL_USAGE.matchAll(/\b((?:CNI|TABBY|HOST_CNI|KUBERNETES)_[A-Z0-9_]+)\b/g)) expect(section, m[1]).toContain(m[1]);
    for (const p of TEMPLATE_PLACEHOLDERS) expect(section, p).toContain(`\`${p}\``);
  });
});
