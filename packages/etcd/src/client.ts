import type { EtcdMember } from '@tabby/proto';
import type { Etcd3, IOptions } from 'etcd3';
import type { EtcdSettings } from './settings.js';

/**
 * The `etcd3` client options every Tabby etcd client starts from: the members, TLS, and a
 * deadline on each unary call (`timeoutMs`; watches have none). Callers add their own
 * (gRPC reconnect tuning, fault handling) and pass the result to `new Etcd3(...)`.
 */
export function etcdClientOptions(settings: EtcdSettings, timeoutMs = 5_000): IOptions {
  const tls = settings.tls;
  return {
    hosts: [...settings.endpoints],
    dialTimeout: timeoutMs,
    ...(tls ? { credentials: { rootCertificate: tls.ca, privateKey: tls.key, certChain: tls.cert } } : {}),
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
  };
}

/** etcd's cluster ID, revision, members and leader, as `etcdctl member list` and `endpoint status` show them. */
export async function etcdMembers(client: Etcd3): Promise<{ clusterId: string; members: EtcdMember[]; revision: number }> {
  const [list, st] = await Promise.all([client.cluster.memberList({ linearizable: true }), client.maintenance.status()]);
  const hex = (id: string): string => BigInt(id).toString(16);
  return {
    clusterId: hex(list.header.cluster_id),
    revision: Number(st.header.revision),
    members: list.members
      .map((m) => ({ id: hex(m.ID), name: m.name, clientUrls: m.clientURLs, peerUrls: m.peerURLs, leader: m.ID === st.leader, learner: Boolean(m.isLearner) }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}
