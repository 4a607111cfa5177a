import { once } from 'node:events';
import { kindOf, metaOf, prepareResource, resourceId, validationMessage, type KindName } from '@tabby/api';
import type { NodeConfig, Resource, TopologyServer, WatchNodeConfigResponse } from '@tabby/proto';
import { ServiceError, type AsyncServiceImplementation } from '@tabby/runtime';
import type { AnalysisWorker } from './analysis.js';
import { TOPOLOGY_KINDS } from './compile/compiler.js';
import { UnknownNodeError } from './compile/errors.js';
import { explain } from './compile/explain.js';
import { sessionGraph } from './compile/graph.js';
import { toPeerConfig, toPeering } from './convert.js';
import type { TopologyState } from './state.js';

function requireSynced(state: TopologyState): void {
  if (!state.synced) throw new ServiceError('unavailable', 'tabby-topology is not in sync with the store yet (it serves once every resource has been listed); retry shortly');
}

function requireNode(node: string): void {
  if (node === '') throw new ServiceError('invalid-argument', 'node may not be empty');
}

/** The resources of a Preview: validated and defaulted, with those that do not affect BGP set apart. */
function previewInput(state: TopologyState, apply: readonly Resource[], del: readonly Resource[]) {
  const ignored: string[] = [];
  const toApply: Resource[] = [];
  const toDelete: { kind: KindName; name: string }[] = [];
  for (const r of apply) {
    const kind = kindOf(r);
    if (!TOPOLOGY_KINDS.includes(kind.kind)) {
      ignored.push(resourceId(r));
      continue;
    }
    const prepared = prepareResource(r, { op: 'validate' });
    if (prepared.errors.length > 0) throw new ServiceError('invalid-argument', `${resourceId(r)}: ${validationMessage(prepared.errors)}`);
    toApply.push(prepared.resource);
  }
  for (const r of del) {
    const kind = kindOf(r);
    const name = metaOf(r).name;
    if (name === '') throw new ServiceError('invalid-argument', `${kind.kind} to delete has no metadata.name`);
    if (!TOPOLOGY_KINDS.includes(kind.kind)) ignored.push(resourceId(r));
    else if (!state.compiler.has(kind.kind, name)) ignored.push(`${resourceId(r)} (does not exist)`);
    else toDelete.push({ kind: kind.kind, name });
  }
  return { ignored, toApply, toDelete };
}

/** The gRPC Topology service over the derived state; Check and Preview run in `analysis`'s worker. */
export function topologyService(state: TopologyState, analysis: AnalysisWorker): AsyncServiceImplementation<TopologyServer> {
  return {
    getNodeConfig: (req) => {
      requireNode(req.node);
      requireSynced(state);
      if (!state.compiler.config(req.node)) throw new UnknownNodeError(req.node);
      return Promise.resolve({ config: state.nodeConfig(req.node) });
    },

    watchNodeConfig: async (call, signal) => {
      const node = call.request.node;
      requireNode(node);
      await state.whenSynced(signal);
      let latest: NodeConfig | undefined = state.nodeConfig(node);
      let wake: (() => void) | undefined;
      const unsubscribe = state.watch(node, () => {
        // A slow reader skips to the newest configuration instead of queueing old ones.
        latest = state.nodeConfig(node);
        wake?.();
      });
      const onAbort = (): void => wake?.();
      signal.addEventListener('abort', onAbort);
      try {
        while (!signal.aborted) {
          if (latest) {
            const message: WatchNodeConfigResponse = { config: latest };
            latest = undefined;
            if (!call.write(message)) await once(call, 'drain', { signal }).catch(() => undefined);
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      } finally {
        unsubscribe();
        signal.removeEventListener('abort', onAbort);
      }
    },

    listPeerings: (req) => {
      requireSynced(state);
      const only = req.node === '' ? undefined : req.node;
      if (only !== undefined && !state.compiler.config(only)) throw new UnknownNodeError(only);
      const configs = state.compiler.allConfigs();
      const names = only !== undefined ? [only] : [...configs.keys()].sort();
      return Promise.resolve({
        nodes: names.map((n) => {
          const c = configs.get(n);
          return {
            name: n,
            asNumber: c?.asNumber ?? 0,
            ipv4Address: c?.ipv4 ?? '',
            ipv6Address: c?.ipv6 ?? '',
            routeReflectorClusterId: c?.clusterId ?? '',
            sessions: c?.peers.length ?? 0,
            prefixes: c?.prefixes.length ?? 0,
          };
        }),
        peerings: sessionGraph(configs, only).map(toPeering),
      });
    },

    explain: (req) => {
      requireNode(req.node);
      if (req.peer === '') throw new ServiceError('invalid-argument', 'peer may not be empty: give an address or a node name');
      requireSynced(state);
      const e = explain(state.compiler, req.node, req.peer);
      return Promise.resolve({ sessions: e.sessions.map((s) => ({ peer: toPeerConfig(s.peer), reasons: [...s.reasons] })), notes: [...e.notes] });
    },

    preview: async (req) => {
      requireSynced(state);
      if (req.apply.length === 0 && req.delete.length === 0) throw new ServiceError('invalid-argument', 'nothing to preview: give resources to apply or delete');
      const { ignored, toApply, toDelete } = previewInput(state, req.apply, req.delete);
      return { ...(await analysis.preview(toApply, toDelete)), ignored };
    },

    check: () => {
      requireSynced(state);
      return analysis.check();
    },
  };
}
