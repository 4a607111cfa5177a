/**
 * The tabby-ui page: the peering graph and session list, a node's status and routes, IP
 * use and the manifest preview, kept live by the API's Server-Sent Events. Types come
 * from ../src/view.ts only (the contract with the server).
 */
import type { BackendState, ClusterView, IpamView, ViewEvent } from '../src/view.js';
import type { Core } from 'cytoscape';
import { ApiFailure, api } from './api.js';
import { Banner } from './banner.js';
import { byId, h } from './dom.js';
import { PeeringGraph } from './graph.js';
import { renderIpam } from './ipam-panel.js';
import { NodePanel } from './node-panel.js';
import { wirePreview } from './preview-panel.js';
import { renderSessions, tickAges } from './sessions.js';

declare global {
  interface Window {
    /** For tests and the curious: the graph and the last ClusterView read. */
    __tabby: { cy: Core; cluster?: ClusterView };
  }
}

const RETRY_MS = 2000;
const banner = new Banner(byId('banner'));
const nodePanel = new NodePanel(byId('node-detail'));
const nodeSelect = byId<HTMLSelectElement>('node-select');
const graph = new PeeringGraph(byId('graph'), byId('tip'), (name) => selectNode(name));
window.__tabby = { cy: graph.cy };

function summary(v: ClusterView): string {
  const rr = v.nodes.filter((n) => n.routeReflectorClusterId).length;
  const up = v.sessions.filter((s) => s.state === 'Established').length;
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  return [plural(v.nodes.length, 'node'), plural(rr, 'route reflector'), plural(v.peers.length, 'external peer'), `${up}/${v.sessions.length} sessions Established`].join(' · ');
}

function fillNodeSelect(v: ClusterView): void {
  const names = v.nodes.map((n) => n.name);
  const have = [...nodeSelect.options].map((o) => o.value);
  if (names.join('\n') !== have.join('\n')) nodeSelect.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
  if (nodePanel.current && names.includes(nodePanel.current)) nodeSelect.value = nodePanel.current;
}

function selectNode(name: string): void {
  nodeSelect.value = name;
  graph.select(name);
  void nodePanel.show(name);
}

let retry: ReturnType<typeof setTimeout> | undefined;
/** Refetch after a pause when tabby-ui does not answer (one pending retry at a time). */
function retryLater(): void {
  if (retry === undefined) retry = setTimeout(() => ((retry = undefined), void refreshAll()), RETRY_MS);
}

function failed(err: unknown): void {
  if (err instanceof ApiFailure && err.status === 0) {
    banner.setUiDown(err.message);
    retryLater();
  } else {
    byId('summary').textContent = `cannot read the cluster: ${err instanceof Error ? err.message : String(err)}`;
    retryLater();
  }
}

async function refreshCluster(): Promise<void> {
  const v = await api<ClusterView>('/api/v1/cluster');
  banner.setUiDown('');
  window.__tabby.cluster = v;
  byId('summary').textContent = summary(v);
  banner.setBackends(v.backends);
  graph.update(v);
  renderSessions(byId('session-list'), v);
  fillNodeSelect(v);
  const first = v.nodes[0]?.name;
  if (!nodePanel.current && first) selectNode(first);
  else if (nodePanel.current) {
    graph.select(nodePanel.current);
    void nodePanel.show(nodePanel.current);
  }
}

async function refreshIpam(): Promise<void> {
  renderIpam(byId('ipam'), await api<IpamView>('/api/v1/ipam'));
}

async function refreshAll(): Promise<void> {
  try {
    await Promise.all([refreshCluster(), refreshIpam()]);
  } catch (err) {
    failed(err);
  }
}

/** SSE: `view` says what changed, `backends` the banner; on every (re)connect, read it all again. */
function listen(): void {
  const es = new EventSource('/api/v1/events');
  es.addEventListener('open', () => void refreshAll());
  es.addEventListener('view', (e: MessageEvent<string>) => {
    const ev = JSON.parse(e.data) as ViewEvent;
    const jobs: Promise<void>[] = [];
    if (ev.cluster) jobs.push(refreshCluster());
    if (ev.ipam) jobs.push(refreshIpam());
    Promise.all(jobs).catch(failed);
  });
  es.addEventListener('backends', (e: MessageEvent<string>) => banner.setBackends(JSON.parse(e.data) as BackendState[]));
  es.addEventListener('error', () => {
    // EventSource reconnects by itself unless the answer was not an event stream (CLOSED):
    // then start a new one after a pause. Either way, say tabby-ui is not answering.
    banner.setUiDown('the event stream broke');
    if (es.readyState === EventSource.CLOSED) setTimeout(listen, RETRY_MS);
  });
}

nodeSelect.addEventListener('change', () => selectNode(nodeSelect.value));
wirePreview(byId<HTMLFormElement>('preview-form'), byId<HTMLTextAreaElement>('preview-text'), byId('preview-out'));
setInterval(() => tickAges(document), 1000);
void refreshAll();
listen();
