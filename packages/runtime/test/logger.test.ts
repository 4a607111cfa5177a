/**
 * The JSON lines of the process logger: each key once per line however loggers are nested
 * (pino appends child bindings, so a component logger made from another would carry
 * "component" twice), TABBY_TRACE levels, redaction in children.
 */
import { describe, expect, it } from 'vitest';
import { childLogger, componentLogger, createLogger, type Logger } from '../src/index.js';
import { logSink } from './log-sink.js';


/** How often each top-level key of a JSON line occurs in the raw text (JSON.parse keeps only the last of duplicates). */
function keyCounts(line: string): Record<string, number> {
  const keys = Object.keys(JSON.parse(line) as Record<string, unknown>);
  return Object.fromEntries(keys.map((k) => [k, line.split(`"${k}":`).length - 1]));
}

function expectEachKeyOnce(line: string): void {
  const counts = keyCounts(line);
  expect(Object.entries(counts).filter(([, n]) => n !== 1), line).toEqual([]);
}

function setup(trace: string[] = [], level: 'info' | 'debug' = 'info'): { root: Logger; lines: () => string[]; parsed: () => Record<string, unknown>[] } {
  const s = logSink();
  const root = createLogger({ service: 'tabby-test', level, trace, destination: s.stream });
  return { root, lines: s.raw, parsed: s.lines };
}

describe('component loggers', () => {
  it('carry one "component", the newest, when made from another component logger', () => {
    const { root, lines, parsed } = setup();
    const agent = componentLogger(root, 'agent');
    const fsm = componentLogger(agent, 'bgp-fsm');
    agent.info('from the agent');
    fsm.info({ state: 'Established' }, 'from the fsm');
    expect(lines()).toHaveLength(2);
    for (const line of lines()) {
      expectEachKeyOnce(line);
      expect(line.split('"component":').length - 1).toBe(1);
    }
    expect(parsed().map((l) => [l.component, l.msg, l.name])).toEqual([
      ['agent', 'from the agent', 'tabby-test'],
      ['bgp-fsm', 'from the fsm', 'tabby-test'],
    ]);
  });

  it('also when code that knows only pino calls .child (as packages/bgp does)', () => {
    const { root, lines, parsed } = setup();
    const agent = componentLogger(root, 'agent');
    const bgp = agent.child({ component: 'bgp' });
    const session = bgp.child({ component: 'bgp-session', peer: '127.0.0.12:1790' });
    const again = childLogger(session, { peer: '127.0.0.13:1790' });
    for (const l of [agent, bgp, session, again]) l.info('hello');
    for (const line of lines()) expectEachKeyOnce(line);
    expect(parsed().map((l) => [l.component, l.peer])).toEqual([
      ['agent', undefined],
      ['bgp', undefined],
      ['bgp-session', '127.0.0.12:1790'],
      ['bgp-session', '127.0.0.13:1790'],
    ]);
  });

  it('keep the other bindings of the parent', () => {
    const { root, lines, parsed } = setup();
    const withPeer = componentLogger(root, 'bgp-session', { peer: 'p1', node: 'node1' });
    componentLogger(withPeer, 'bgp-fsm').info('x');
    expectEachKeyOnce(lines()[0]);
    expect(parsed()[0]).toMatchObject({ component: 'bgp-fsm', peer: 'p1', node: 'node1' });
  });

  it('log at debug when traced, whatever the nesting, and otherwise at the parent\'s level', () => {
    const { root, parsed } = setup(['bgp-session']);
    const agent = componentLogger(root, 'agent');
    const bgp = agent.child({ component: 'bgp' });
    const session = bgp.child({ component: 'bgp-session', peer: 'p1' });
    agent.debug('agent debug');
    bgp.debug('bgp debug');
    session.debug('session debug');
    session.child({ peer: 'p2' }).debug('session child debug');
    expect(parsed().map((l) => l.msg)).toEqual(['session debug', 'session child debug']);
  });

  it('trace a component\'s sub-components with it, and everything with "all"', () => {
    const agentTraced = setup(['agent']);
    const agent = componentLogger(agentTraced.root, 'agent');
    componentLogger(agent, 'bgp').debug('bgp debug');
    componentLogger(agentTraced.root, 'grpc').debug('grpc debug');
    expect(agentTraced.parsed().map((l) => l.msg)).toEqual(['bgp debug']);

    const all = setup(['all']);
    componentLogger(all.root, 'grpc').debug('grpc debug');
    all.root.debug('root debug');
    expect(all.parsed().map((l) => l.msg)).toEqual(['grpc debug']);
  });

  it('redact secrets in children as in the root', () => {
    const { root, lines } = setup();
    componentLogger(componentLogger(root, 'store'), 'grpc').info({ password: 'hunter2', peer: { password: 'x' } }, 'call');
    expect(lines()[0]).not.toContain('hunter2');
    expect(JSON.parse(lines()[0])).toMatchObject({ password: '[redacted]', peer: { password: '[redacted]' } });
  });
});
