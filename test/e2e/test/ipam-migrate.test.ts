/**
 * `tabbyctl ipam migrate` against real tabby-store, tabby-ipam and nats-server processes:
 * the checks on the target pool, the plan it prints, `--wait` following the old pool down
 * to empty while another process recreates the workloads one by one (then deleting it),
 * and an interrupted wait leaving the old pool disabled and in place. The plan and the
 * refusals are compared with golden/ipam-migrate.txt (UPDATE_GOLDEN=1 rewrites it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessGroup, tempDir, type TestProcess } from '@tabby/harness';
import { addressMask, startIpamCluster, type IpamCluster } from './ipam-cluster.js';
import { TABBYCTL, Transcript, tabbyctl, type CliResult } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-ipam-migrate-');
let cluster: IpamCluster;
let t: Transcript;

const poolYaml = (name: string, cidr: string, extra = ''): string => `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n${extra}`;

function run(args: readonly string[], stdin?: string): Promise<CliResult> {
  return tabbyctl(args, { cwd: dir.path, env: cluster.env, stdin });
}

/** tabbyctl in the background, stopped by PID with the rest of the test's processes. */
function background(args: readonly string[]): TestProcess {
  return group.start('tabbyctl ipam migrate', process.execPath, [TABBYCTL, ...args], {
    cwd: dir.path,
    env: { ...process.env, HOME: dir.path, TABBY_CONFIG: '', ...cluster.env },
  });
}

async function addWorkload(name: string, extra: string[] = []): Promise<string> {
  const r = await run(['workload', 'add', name, '--node', 'n1', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return /^ {2}addresses: ([0-9.]+)\/32/m.exec(r.stdout)![1];
}

beforeAll(async () => {
  cluster = await startIpamCluster(group, dir.path);
  t = new Transcript(dir.path, cluster.env, addressMask(['172.20', '172.21', '172.22']));
  expect((await run(['create', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: n1\nspec: {}\n')).code).toBe(0);
  expect((await run(['create', '-f', '-'], poolYaml('blue', '172.20.0.0/16'))).code).toBe(0);
  await cluster.waitForPool('blue');
}, 60_000);

afterAll(async () => {
  cluster?.close();
  await group.stopAll();
  dir.remove();
});

describe('ipam migrate', () => {
  it('refuses an unsafe target, then disables the old pool and lists what to recreate', async () => {
    for (let i = 0; i < 4; i++) expect(await addWorkload(`default/app-${i}`)).toMatch(/^172\.20\./);
    expect((await t.run(['ipam', 'migrate', '--from', 'blue', '--to', 'green'], undefined, { note: 'the target must exist, be enabled and of the same family' })).code).toBe(1);
    expect((await t.run(['create', '-f', '-'], poolYaml('green', '172.21.0.0/16', '  disabled: true\n'))).code).toBe(0);
    expect((await t.run(['ipam', 'migrate', '--from', 'blue', '--to', 'green'])).code).toBe(1);
    expect((await t.run(['create', '-f', '-'], poolYaml('v6', 'fd00:20::/48'))).code).toBe(0);
    expect((await t.run(['ipam', 'migrate', '--from', 'blue', '--to', 'v6'])).code).toBe(1);
    expect((await t.run(['ipam', 'migrate', '--from', 'blue', '--to', 'blue'])).code).toBe(1);
    expect((await t.run(['ipam', 'migrate', '--from', 'blue', '--to', 'green', '--timeout', '1m'])).code).toBe(1);
    expect((await t.run(['ipam', 'migrate', '--from', 'blue', '--to', 'green', '--wait', '--interval', 'soon'])).code).toBe(1);
    expect((await t.run(['get', 'ippool', 'blue', '-o', 'wide'], undefined, { note: 'nothing changed' })).stdout).toMatch(/^blue +172\.20\.0\.0\/16 +false +Never +Never +false /m);

    expect((await t.run(['patch', 'ippool', 'green', '-p', '{"spec":{"disabled":false}}'], undefined, { note: 'with green enabled, blue is disabled and its workloads listed' })).code).toBe(0);
    await cluster.waitForPool('green', false);
    const plan = await t.run(['ipam', 'migrate', '--from', 'blue', '--to', 'green']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('Disabled IP pool blue (172.20.0.0/16)');
    expect(plan.stdout).toMatch(/^default {5}app-3 {6}n1 {5}172\.20\.\d+\.\d+\/32 +$/m);
    expect((await t.run(['get', 'ippool', 'blue', '-o', 'wide'])).stdout).toMatch(/^blue +172\.20\.0\.0\/16 +false +Never +Never +true /m);
    expect((await t.run(['ipam', 'migrate', '--from', 'blue', '--to', 'green'], undefined, { note: 'running it again changes nothing' })).code).toBe(0);

    const [actual, expected] = t.golden(new URL('../golden/ipam-migrate.txt', import.meta.url).pathname);
    expect(actual).toBe(expected);
  }, 60_000);

  it('--wait follows the old pool down while another process recreates its workloads, then deletes it', async () => {
    await cluster.waitForPool('blue', true);
    const migrate = background(['ipam', 'migrate', '--from', 'blue', '--to', 'green', '--wait', '--interval', '200ms', '--timeout', '90s']);
    await migrate.waitForLine(/^4 workloads left in blue$/, 20_000);
    for (let i = 0; i < 4; i++) {
      // "kubectl delete pod": the workload goes, then comes back with an address from green
      expect((await run(['workload', 'delete', `default/app-${i}`])).code).toBe(0);
      expect(await addWorkload(`default/app-${i}`)).toMatch(/^172\.21\./);
      await migrate.waitForLine(new RegExp(`^${3 - i} workloads? left in blue$`), 20_000);
    }
    const { code } = await migrate.exited();
    const lines = migrate.output().split('\n');
    expect(code, migrate.output()).toBe(0);
    const counts = lines.map((l) => /^(\d+) workloads? left in blue$/.exec(l)?.[1]).filter((n) => n !== undefined).map(Number);
    expect(counts).toEqual([4, 3, 2, 1, 0]);
    expect(lines.filter((l) => l !== '').pop()).toBe('Deleted IP pool blue: migration to green complete.');
    expect((await run(['get', 'ippool', 'blue'])).code).toBe(1);
    const weps = (await run(['get', 'wep', '-A'])).stdout.split('\n').filter((l) => l.startsWith('default '));
    expect(weps).toHaveLength(4);
    for (const l of weps) expect(l).toMatch(/ 172\.21\.\d+\.\d+\/32 /);
  }, 120_000);

  it('an interrupted --wait leaves the old pool disabled and in place; a second run finishes the job', async () => {
    expect((await run(['create', '-f', '-'], poolYaml('red', '172.22.0.0/16', '  assignmentMode: Manual\n'))).code).toBe(0);
    await cluster.waitForPool('red');
    expect(await addWorkload('default/red-0', ['--pool', 'red'])).toMatch(/^172\.22\./);
    const migrate = background(['ipam', 'migrate', '--from', 'red', '--to', 'green', '--wait', '--interval', '200ms']);
    await migrate.waitForLine(/^1 workload left in red$/, 20_000);
    migrate.signal('SIGINT');
    const { code } = await migrate.exited();
    expect(code, migrate.output()).toBe(130);
    expect(migrate.output()).toContain('interrupted with 1 workload left in red: red stays disabled and is not deleted; run this command again to keep waiting\n');
    expect((await run(['get', 'ippool', 'red', '-o', 'wide'])).stdout).toMatch(/^red +172\.22\.0\.0\/16 +false +Never +Never +true /m);
    expect((await run(['delete', 'pool', 'red'])).code).toBe(1);

    expect((await run(['workload', 'delete', 'default/red-0'])).code).toBe(0);
    const again = await run(['ipam', 'migrate', '--from', 'red', '--to', 'green', '--wait']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('IP pool red (172.22.0.0/16) is already disabled.\n');
    expect(again.stdout).toMatch(/0 workloads left in red\nDeleted IP pool red: migration to green complete\.\n$/);
  }, 60_000);
});
