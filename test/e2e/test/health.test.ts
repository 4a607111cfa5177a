/**
 * `tabbyctl health ADDR`, what the container image's HEALTHCHECK runs: against a real
 * tabby-store (SERVING, per service, unknown service), a tabby-topology that cannot reach
 * its store (NOT_SERVING until it has synced), and an address where nothing listens.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, freePort, startService, tempDir } from '@tabby/harness';
import { tabbyctl } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-health-');
let store: string;
let topology: string;

beforeAll(async () => {
  store = (await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`])).address;
  // Nothing listens on these: topology stays NOT_SERVING, it has never synced.
  const deadStore = `127.0.0.1:${await freePort()}`;
  const deadIpam = `127.0.0.1:${await freePort()}`;
  topology = (await startService(group, 'topology', ['--listen', '127.0.0.1:0', '--store', deadStore, '--ipam', deadIpam])).address;
});

afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

const run = (args: string[]) => tabbyctl(args, { cwd: dir.path });

it('a serving store: SERVING, exit 0, for the server and for its service', async () => {
  expect(await run(['health', store])).toMatchObject({ code: 0, stdout: 'SERVING\n', stderr: '' });
  expect(await run(['health', store, '--service', 'tabby.v1.ResourceStore'])).toMatchObject({ code: 0, stdout: 'SERVING\n' });
});

it('a service the server does not have: exit 1 and says so', async () => {
  const r = await run(['health', store, '--service', 'tabby.v1.Nope']);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`${store} does not know the service "tabby.v1.Nope" (SERVICE_UNKNOWN)\n`);
});

it('a topology that has not synced with its store: NOT_SERVING, exit 1', async () => {
  expect(await run(['health', topology])).toMatchObject({ code: 1, stdout: 'NOT_SERVING\n' });
});

it('nothing listening: exit 1 with one line naming the address', async () => {
  const addr = `127.0.0.1:${await freePort()}`;
  const r = await run(['health', addr, '--timeout', '2']);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toBe(`cannot reach ${addr} (connection refused: nothing listens there)\n`);
});

it('bad arguments: exit 1 with what is wrong', async () => {
  expect((await run(['health', 'store:abc'])).stderr).toBe('invalid address "store:abc": expected HOST:PORT (IPv6 as [ADDR]:PORT)\n');
  expect((await run(['health', store, '--timeout', '0'])).stderr).toBe('invalid --timeout "0": a number of seconds greater than 0\n');
});
