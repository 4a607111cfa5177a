/**
 * The peering graph: cytoscape laid out by ELK. Nodes, route reflectors (grouped in a
 * compound parent per RR cluster id) and external peers; an edge per session coloured by
 * state. Live updates change element data in place and lay out again only when the set of
 * elements changes, so nothing jumps when a session flaps.
 */
import cytoscape, { type Core, type ElementDefinition, type EventObject, type SingularElementReturnValue, type StylesheetJson } from 'cytoscape';
import elk from 'cytoscape-elk';
import type { ClusterView, GraphSession } from '../src/view.js';
import { STATE_COLOURS, stateClass, stateFor } from './format.js';

cytoscape.use(elk);

const STYLE: StylesheetJson = [
  {
    selector: 'node',
    style: {
      label: 'data(label)',
      'font-size': 11,
      'text-valign': 'bottom',
      'text-margin-y': 4,
      color: '#1f2933',
      width: 34,
      height: 34,
      'background-color': '#3b6ea5',
      'border-width': 2,
      'border-color': '#24496f',
    },
  },
  { selector: 'node.rr', style: { shape: 'hexagon', 'background-color': '#7b4fa3', 'border-color': '#4f2f6e', width: 40, height: 40 } },
  { selector: 'node.peer', style: { shape: 'diamond', 'background-color': '#f3f4f6', 'border-color': '#6b7280', 'border-style': 'dashed' } },
  { selector: 'node.agent-down', style: { 'background-color': '#c7ccd1', 'border-color': '#d23c3c' } },
  {
    selector: 'node.cluster',
    style: {
      shape: 'round-rectangle',
      'background-color': '#f3eefa',
      'border-color': '#b9a3d6',
      'border-width': 1,
      'text-valign': 'top',
      'text-margin-y': -4,
      padding: '14px',
      color: '#4f2f6e',
    },
  },
  { selector: 'node:selected', style: { 'border-width': 4, 'border-color': '#111827' } },
  {
    selector: 'edge',
    style: {
      width: 3,
      'curve-style': 'bezier',
      'line-color': 'data(colour)',
      label: 'data(label)',
      'font-size': 9,
      color: '#4b5563',
      'text-rotation': 'autorotate',
      'text-background-color': '#ffffff',
      'text-background-opacity': 0.85,
      'text-background-padding': '1px',
    },
  },
  { selector: 'edge.nonviable', style: { 'line-style': 'dashed' } },
];

/** A session's edge label: the family only when the graph carries both. */
const edgeLabel = (s: GraphSession, dual: boolean): string => (dual ? `${s.family} ${s.state}` : s.state);

/** The tooltip of a session: its state and its age, then INFO and why it cannot come up. */
export function sessionTitle(s: GraphSession, now = Date.now()): string {
  const lines = [`${s.from} → ${s.to} (${s.family}, ${s.type})`, stateFor(s.state, s.since, now)];
  if (s.info && s.info !== s.state) lines.push(s.info);
  if (!s.viable) lines.push(`cannot come up: ${s.problem}`);
  return lines.join('\n');
}

function elements(view: ClusterView): ElementDefinition[] {
  const dual = new Set(view.sessions.map((s) => s.family)).size > 1;
  const clusterOf = new Map<string, string>();
  for (const c of view.clusters) for (const r of c.reflectors) clusterOf.set(r, c.clusterId);
  const els: ElementDefinition[] = view.clusters.map((c) => ({ group: 'nodes', data: { id: `cluster:${c.clusterId}`, label: `RR cluster ${c.clusterId}` }, classes: 'cluster' }));
  for (const n of view.nodes) {
    const cid = clusterOf.get(n.name) ?? (n.routeReflectorClusterId || undefined);
    const classes = [n.routeReflectorClusterId ? 'rr' : 'tabby', n.agent === 'Ready' ? '' : 'agent-down'].filter(Boolean).join(' ');
    const parent = cid !== undefined && view.clusters.some((c) => c.clusterId === cid) ? `cluster:${cid}` : undefined;
    els.push({ group: 'nodes', data: { id: n.name, label: n.name, kind: 'node', parent, title: `${n.name} AS ${n.asNumber}\n${n.ipv4Address || n.ipv6Address}\nagent ${n.agent}${n.routeReflectorClusterId ? `\nroute reflector, cluster ${n.routeReflectorClusterId}` : ''}` }, classes });
  }
  for (const p of view.peers) els.push({ group: 'nodes', data: { id: p.id, label: `${p.address}${p.port && p.port !== 179 ? `:${p.port}` : ''}`, kind: 'peer', title: `external peer ${p.address} AS ${p.asNumber}` }, classes: 'peer' });
  const ids = new Set(els.map((e) => String(e.data.id)));
  // An edge to an element the view does not carry would make cytoscape throw: skip it (the
  // session list still shows it).
  for (const s of view.sessions.filter((x) => ids.has(x.from) && ids.has(x.to))) {
    els.push({
      group: 'edges',
      data: { id: s.id, source: s.from, target: s.to, state: s.state, colour: STATE_COLOURS[stateClass(s.state)], label: edgeLabel(s, dual), session: s },
      classes: s.viable ? '' : 'nonviable',
    });
  }
  return els;
}

/** The key of the set of elements (and their parents): a change means a new layout. */
const shapeKey = (els: readonly ElementDefinition[]): string =>
  els
    .map((e) => `${e.data.id ?? ''}<${String(e.data.parent ?? '')}|${String(e.data.source ?? '')}>${String(e.data.target ?? '')}`)
    .sort()
    .join(',');

export class PeeringGraph {
  readonly cy: Core;
  private shape = '';
  private readonly tip: HTMLElement;

  constructor(container: HTMLElement, tip: HTMLElement, onSelect: (node: string) => void) {
    this.cy = cytoscape({ container, style: STYLE, wheelSensitivity: 0.2, minZoom: 0.3, maxZoom: 3, boxSelectionEnabled: false, autoungrabify: false });
    this.tip = tip;
    this.cy.on('tap', 'node', (e: EventObject) => {
      const t = e.target as SingularElementReturnValue;
      if (t.data('kind') === 'node') onSelect(t.id());
    });
    this.cy.on('mouseover', 'node, edge', (e: EventObject) => this.showTip(e));
    this.cy.on('mousemove', 'node, edge', (e: EventObject) => this.moveTip(e));
    this.cy.on('mouseout', 'node, edge', () => (this.tip.hidden = true));
  }

  /** Brings the graph to `view`: data in place, a layout only when elements come or go. */
  update(view: ClusterView): void {
    const els = elements(view);
    const key = shapeKey(els);
    if (key !== this.shape) {
      this.cy.elements().remove();
      this.cy.add(els);
      this.shape = key;
      this.layout();
      return;
    }
    this.cy.batch(() => {
      for (const e of els) {
        const el = this.cy.getElementById(String(e.data.id));
        el.data(e.data);
        el.classes(e.classes ?? '');
      }
    });
  }

  select(node: string): void {
    this.cy.$(':selected').unselect();
    this.cy.getElementById(node).select();
  }

  private layout(): void {
    const compound = this.cy.nodes('.cluster').length > 0;
    const options = {
      name: 'elk',
      fit: true,
      padding: 30,
      nodeDimensionsIncludeLabels: true,
      elk: compound
        ? { algorithm: 'layered', 'elk.direction': 'DOWN', 'elk.hierarchyHandling': 'INCLUDE_CHILDREN', 'elk.spacing.nodeNode': 50, 'elk.layered.spacing.nodeNodeBetweenLayers': 70 }
        : { algorithm: 'stress', 'elk.stress.desiredEdgeLength': 160 },
    };
    this.cy.layout(options).run();
  }

  private showTip(e: EventObject): void {
    const t = e.target as SingularElementReturnValue;
    const s = t.isEdge() ? (t.data('session') as GraphSession | undefined) : undefined;
    this.tip.textContent = s ? sessionTitle(s) : String(t.data('title') ?? t.id());
    this.tip.hidden = false;
    this.moveTip(e);
  }

  private moveTip(e: EventObject): void {
    const p = e.renderedPosition ?? { x: 0, y: 0 };
    this.tip.style.left = `${p.x + 14}px`;
    this.tip.style.top = `${p.y + 14}px`;
  }
}
