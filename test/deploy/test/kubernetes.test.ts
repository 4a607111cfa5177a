import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcessGroup, REPO_ROOT, eventually, freePort, healthCheck, startEtcdCluster, tempDir } from '@tabby/harness';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { LineCounter, parseAllDocuments, parse as parseYaml } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';

// Offline checks of deploy/kubernetes: every YAML document parses, is a known Kubernetes kind,
// passes the API schema (kubernetes-models) *and* has no field the schema does not know
// (kubernetes-models, like the JSON schemas it is generated from, accepts unknown fields, so a
// typo such as `readinesProbe` would pass it and be silently dropped by a lenient apply); every
// flag and TABBY_* variable given to a Tabby container is one that binary's --help lists; and the
// objects refer to each other correctly. The last block mutates the manifests in memory and
// checks that each kind of mistake is caught, so these checks can fail.

const DIR = path.join(REPO_ROOT, 'deploy', 'kubernetes');
const NAMESPACE = 'tabby-system';
const TABBY_IMAGE = 'tabby:0.1.0';
const TABBY_BINS = ['tabby-store', 'tabby-ipam', 'tabby-topology', 'tabby-agent'] as const;
/** The gRPC port each binary listens on by default; the manifests must keep it. */
const GRPC_PORTS: Record<string, number> = { 'tabby-store': 50051, 'tabby-ipam': 50052, 'tabby-topology': 50053, 'tabby-agent': 50054 };

type Obj = Record<string, unknown>;

/** One YAML document of one file, with where it starts. */
interface Doc {
  readonly file: string;
  readonly line: number;
  readonly obj: Obj;
}

const where = (d: Doc): string => `${d.file}:${d.line} ${String(d.obj.kind)}/${String((d.obj.metadata as Obj | undefined)?.name)}`;

// ---------------------------------------------------------------------------------------------
// YAML

/** Parses a multi-document YAML text; a syntax error (or duplicate key) throws with file:line:col. */
function parseManifest(file: string, text: string): Doc[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (!Array.isArray(docs)) return [];
  const out: Doc[] = [];
  for (const doc of docs) {
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) {
      const pos = problem.linePos?.[0];
      throw new Error(`${file}:${pos?.line ?? '?'}:${pos?.col ?? '?'}: ${problem.message}`);
    }
    if (doc.contents === null) continue; // an empty document (e.g. a trailing ---)
    const obj: unknown = doc.toJS();
    const line = lineCounter.linePos(doc.contents.range[0]).line;
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${file}:${line}: a document must be a mapping`);
    out.push({ file, line, obj: obj as Obj });
  }
  return out;
}

const manifestFiles = (): string[] =>
  readdirSync(DIR)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
    .sort();

function loadManifests(): Doc[] {
  return manifestFiles().flatMap((f) => parseManifest(path.posix.join('deploy/kubernetes', f), readFileSync(path.join(DIR, f), 'utf8')));
}

const ETCD_DIR = path.join(REPO_ROOT, 'deploy', 'kubernetes-etcd');

interface Kustomization {
  resources?: string[];
  patches?: { patch: string; target?: { kind?: string; name?: string } }[];
}

/**
 * deploy/kubernetes-etcd as kustomize builds it, for the two kinds of patch it uses: a
 * strategic-merge `$patch: delete` of a whole object, and JSON-patch `replace` of a value.
 * Anything else throws, so the overlay cannot grow a patch this does not apply.
 */
function loadEtcdOverlay(): Doc[] {
  const k = parseYaml(readFileSync(path.join(ETCD_DIR, 'kustomization.yaml'), 'utf8')) as Kustomization;
  let docs: Doc[] = [];
  for (const r of k.resources ?? []) {
    if (r === '../kubernetes') docs.push(...structuredClone(loadManifests()));
    else docs.push(...parseManifest(path.posix.join('deploy/kubernetes-etcd', r), readFileSync(path.join(ETCD_DIR, r), 'utf8')));
  }
  for (const p of k.patches ?? []) {
    const body: unknown = parseYaml(p.patch);
    if (!Array.isArray(body)) {
      const del = body as Obj & { $patch?: string };
      if (del.$patch !== 'delete') throw new Error(`kustomization patch ${JSON.stringify(del)}: only $patch: delete is supported here`);
      const before = docs.length;
      docs = docs.filter((d) => !(d.obj.kind === del.kind && nameOf(d) === (del.metadata as Obj).name));
      if (docs.length !== before - 1) throw new Error(`$patch: delete of ${String(del.kind)}/${String((del.metadata as Obj).name)} matched ${before - docs.length} objects`);
      continue;
    }
    const targets = docs.filter((d) => d.obj.kind === p.target?.kind && nameOf(d) === p.target?.name);
    if (targets.length !== 1) throw new Error(`patch target ${JSON.stringify(p.target)} matched ${targets.length} objects`);
    for (const op of body as { op: string; path: string; value: unknown }[]) {
      if (op.op !== 'replace') throw new Error(`JSON patch op ${op.op}: only replace is supported here`);
      const keys = op.path.split('/').slice(1);
      let at: Obj = targets[0].obj;
      for (const key of keys.slice(0, -1)) at = at[key] as Obj;
      if (!(keys[keys.length - 1] in at)) throw new Error(`JSON patch replace of ${op.path}: no such field`);
      at[keys[keys.length - 1]] = op.value;
    }
  }
  return docs;
}

// ---------------------------------------------------------------------------------------------
// Schema: kubernetes-models, plus a strict "no unknown field" pass over the same validators

interface ModelClass {
  new (data: never): { validate(): void };
  prototype: { validate(): void };
}

/** apiVersion/kind → model class. A kind missing here fails the test: add it deliberately. */
const MODELS: Record<string, ModelClass> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/Service': Service,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
};

const modelOf = (d: Doc): ModelClass | undefined => MODELS[`${String(d.obj.apiVersion)}/${String(d.obj.kind)}`];

/** Schema errors of a document (kubernetes-models validation), or that its kind is unknown. */
function schemaProblems(docs: readonly Doc[]): string[] {
  const out: string[] = [];
  for (const d of docs) {
    const Model = modelOf(d);
    if (!Model) {
      out.push(`${where(d)}: unknown apiVersion/kind ${String(d.obj.apiVersion)}/${String(d.obj.kind)}`);
      continue;
    }
    try {
      new Model(structuredClone(d.obj) as never).validate();
    } catch (err) {
      out.push(`${where(d)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return out;
}

/**
 * Fields the schema does not know. The generated validators read every property their schema
 * declares (`data.spec`, `data.template`, ...) and enumerate the keys only of maps (labels,
 * ConfigMap data, resource quantities). Validating through proxies that record what was read
 * therefore tells, for every object, which of its keys the schema knows: an unread key of an
 * object that was not enumerated is unknown to the API (a typo, or a field of another version).
 */
function unknownFieldProblems(docs: readonly Doc[]): string[] {
  const out: string[] = [];
  for (const d of docs) {
    const Model = modelOf(d);
    if (!Model) continue; // reported by schemaProblems
    const records = new Map<object, { path: string; read: Set<string>; enumerated: boolean }>();
    const proxies = new WeakMap<object, object>();
    const wrap = (value: unknown, at: string): unknown => {
      if (value === null || typeof value !== 'object') return value;
      const cached = proxies.get(value);
      if (cached) return cached;
      const rec = { path: at, read: new Set<string>(), enumerated: false };
      records.set(value, rec);
      const proxy = new Proxy(value, {
        get(target, key, receiver) {
          const v: unknown = Reflect.get(target, key, receiver);
          if (typeof key !== 'string') return v;
          rec.read.add(key);
          return wrap(v, `${at}/${key}`);
        },
        has(target, key) {
          if (typeof key === 'string') rec.read.add(key);
          return Reflect.has(target, key);
        },
        ownKeys(target) {
          rec.enumerated = true;
          return Reflect.ownKeys(target);
        },
      });
      proxies.set(value, proxy);
      return proxy;
    };
    try {
      Model.prototype.validate.call(wrap(structuredClone(d.obj), ''));
    } catch {
      // schema errors are reported by schemaProblems; here only the keys matter
    }
    for (const [obj, rec] of records) {
      if (Array.isArray(obj) || rec.enumerated) continue;
      for (const key of Object.keys(obj)) if (!rec.read.has(key)) out.push(`${where(d)}: unknown field ${rec.path}/${key}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Flags: what each binary's --help lists

interface Flag {
  readonly name: string;
  readonly env: string;
  readonly takesValue: boolean;
}

/** The flags a binary lists in --help: `  --data-dir DIR   ... [env TABBY_DATA_DIR; default ...]`. */
function helpFlags(bin: string): Map<string, Flag> {
  const text = execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', bin), ['--help'], { encoding: 'utf8' });
  const flags = new Map<string, Flag>();
  for (const line of text.split('\n')) {
    const m = /^\s+--([a-z0-9-]+)(?: (\S+))?\s{2,}.*\[env (TABBY_[A-Z0-9_]+)/.exec(line);
    if (m) flags.set(m[1], { name: m[1], takesValue: m[2] !== undefined, env: m[3] });
  }
  if (flags.size < 5) throw new Error(`${bin} --help lists only ${flags.size} flags:\n${text}`);
  return flags;
}

type FlagTable = ReadonlyMap<string, ReadonlyMap<string, Flag>>;

const FLAGS: FlagTable = new Map(TABBY_BINS.map((b) => [b, helpFlags(b)]));

/**
 * `tabby-cni install --help`: `  --bin-dir DIR   CNI_BIN_DIR   ...` (Calico's installer's variable
 * names, not TABBY_* only). Returns the flags and every variable the text names.
 */
function installHelp(): { flags: Map<string, Flag>; env: Set<string> } {
  const text = execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tabby-cni'), ['install', '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  const flags = new Map<string, Flag>();
  for (const line of text.split('\n')) {
    const m = /^\s+--([a-z0-9-]+)(?: ([A-Z]+))?\s{2,}([A-Z][A-Z0-9_]+)/.exec(line);
    if (m) flags.set(m[1], { name: m[1], takesValue: m[2] !== undefined, env: m[3] });
  }
  const env = new Set([...text.matchAll(/\b((?:CNI|TABBY|HOST_CNI|KUBERNETES)_[A-Z0-9_]+)\b/g)].map((m) => m[1]));
  if (flags.size < 10) throw new Error(`tabby-cni install --help lists only ${flags.size} flags:\n${text}`);
  return { flags, env };
}

const INSTALL = installHelp();
/** The node's CNI directories, and where the init container mounts them (its defaults). */
const CNI_HOST_DIRS: Record<string, string> = { 'bin-dir': '/opt/cni/bin', 'conf-dir': '/etc/cni/net.d' };

// ---------------------------------------------------------------------------------------------
// Workloads and their containers

interface Workload {
  readonly doc: Doc;
  readonly name: string;
  readonly selector: Record<string, string>;
  readonly template: IPodTemplateSpec;
  readonly claims: string[];
}

function workloads(docs: readonly Doc[]): Workload[] {
  return docs
    .filter((d) => ['StatefulSet', 'Deployment', 'DaemonSet'].includes(String(d.obj.kind)))
    .map((d) => {
      const spec = (d.obj.spec ?? {}) as { selector?: { matchLabels?: Record<string, string> }; template?: IPodTemplateSpec; volumeClaimTemplates?: { metadata?: { name?: string } }[] };
      return {
        doc: d,
        name: String((d.obj.metadata as Obj | undefined)?.name),
        selector: spec.selector?.matchLabels ?? {},
        template: spec.template ?? {},
        claims: (spec.volumeClaimTemplates ?? []).map((c) => c.metadata?.name ?? ''),
      };
    });
}

const containersOf = (w: Workload): IContainer[] => [...(w.template.spec?.initContainers ?? []), ...(w.template.spec?.containers ?? [])];
const isTabby = (c: IContainer): boolean => c.image === TABBY_IMAGE || (c.image ?? '').startsWith('tabby:') || (c.command?.[0] ?? '').startsWith('tabby');
const configMaps = (docs: readonly Doc[]): Doc[] => docs.filter((d) => d.obj.kind === 'ConfigMap');
const nameOf = (d: Doc): string => String((d.obj.metadata as Obj | undefined)?.name);

/** `--flag=value` / `--flag value` / `--bool` → flag name and value; anything else is a problem. */
function parseArgs(tokens: readonly string[], flags: ReadonlyMap<string, Flag>, at: string, problems: string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (!tok.startsWith('--')) {
      problems.push(`${at}: argument "${tok}" is not a flag (the services take no positional arguments)`);
      continue;
    }
    const eq = tok.indexOf('=');
    const name = eq < 0 ? tok.slice(2) : tok.slice(2, eq);
    const flag = flags.get(name);
    if (!flag) {
      problems.push(`${at}: flag --${name} is not listed by --help`);
      continue;
    }
    if (flag.takesValue) {
      const value = eq < 0 ? tokens[++i] : tok.slice(eq + 1);
      if (value === undefined) problems.push(`${at}: flag --${name} needs a value`);
      else values.set(name, value);
    } else if (eq >= 0) {
      problems.push(`${at}: flag --${name} takes no value`);
    } else {
      values.set(name, 'true');
    }
  }
  return values;
}

/** Every flag in command/args and every TABBY_* variable of a Tabby container is listed by its binary. */
function flagProblems(docs: readonly Doc[], flagTable: FlagTable = FLAGS): string[] {
  const problems: string[] = [];
  const cms = new Map(configMaps(docs).map((d) => [nameOf(d), d]));
  /** ConfigMap name → binaries that read it through envFrom. */
  const readers = new Map<string, Set<string>>();
  for (const w of workloads(docs)) {
    for (const c of containersOf(w)) {
      if (!isTabby(c)) continue; // nats: not ours
      const at = `${where(w.doc)} container ${c.name}`;
      const bin = c.command?.[0] ?? '';
      if (bin === 'tabby-cni') {
        if (c.command?.[1] !== 'install') problems.push(`${at}: tabby-cni runs in a pod only as \`tabby-cni install\` (got ${JSON.stringify(c.command)})`);
        for (const e of c.env ?? []) if (!INSTALL.env.has(e.name)) problems.push(`${at}: env ${e.name} is not read by tabby-cni install`);
        if ((c.envFrom ?? []).length > 0) problems.push(`${at}: tabby-cni install takes its settings from env, not envFrom`);
        parseArgs([...(c.command ?? []).slice(2), ...(c.args ?? [])], INSTALL.flags, at, problems);
        continue;
      }
      const flags = flagTable.get(bin);
      if (!flags) {
        problems.push(`${at}: command must start with one of ${TABBY_BINS.join(', ')} (got ${JSON.stringify(c.command)})`);
        continue;
      }
      const envNames = new Set([...flags.values()].map((f) => f.env));
      const defined = new Set<string>();
      for (const e of c.env ?? []) {
        if (e.name.startsWith('TABBY_') && !envNames.has(e.name)) problems.push(`${at}: env ${e.name} is not a flag of ${bin}`);
        for (const ref of (e.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!defined.has(ref[1])) problems.push(`${at}: env ${e.name} refers to $(${ref[1]}), not defined before it`);
        }
        defined.add(e.name);
      }
      for (const src of c.envFrom ?? []) {
        const ref = src.configMapRef?.name;
        if (ref === undefined) continue; // secretRef and friends: reported by crossRefProblems
        readers.set(ref, (readers.get(ref) ?? new Set()).add(bin));
        const cm = cms.get(ref);
        for (const key of Object.keys((cm?.obj.data ?? {}))) defined.add(key);
      }
      const tokens = [...(c.command ?? []).slice(1), ...(c.args ?? [])];
      for (const tok of tokens) {
        for (const ref of tok.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          // Kubernetes leaves an unresolvable $(VAR) in place, literally.
          if (!defined.has(ref[1])) problems.push(`${at}: argument "${tok}" refers to $(${ref[1]}), which is not in the container's environment`);
        }
      }
      parseArgs(tokens, flags, at, problems);
    }
  }
  for (const [name, bins] of readers) {
    const cm = cms.get(name);
    if (!cm) continue; // reported by crossRefProblems
    const known = new Set([...bins].flatMap((b) => [...(flagTable.get(b)?.values() ?? [])].map((f) => f.env)));
    for (const key of Object.keys((cm.obj.data ?? {}))) {
      if (key.startsWith('TABBY_') && !known.has(key)) {
        problems.push(`${where(cm)}: ${key} is a flag of none of the binaries that read it (${[...bins].sort().join(', ')})`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// What a Tabby container is effectively given: args over env over envFrom (as the services read it)

function settingsOf(c: IContainer, docs: readonly Doc[]): Map<string, string> {
  const bin = c.command?.[0] ?? '';
  const flags = FLAGS.get(bin);
  const out = new Map<string, string>();
  if (!flags) return out;
  const envs = new Map<string, string>();
  for (const src of c.envFrom ?? []) {
    const cm = configMaps(docs).find((d) => nameOf(d) === src.configMapRef?.name);
    for (const [k, v] of Object.entries((cm?.obj.data ?? {}) as Record<string, string>)) envs.set(k, v);
  }
  for (const e of c.env ?? []) {
    const cmRef = e.valueFrom?.configMapKeyRef;
    const fromCm = cmRef ? ((configMaps(docs).find((d) => nameOf(d) === cmRef.name)?.obj.data ?? {}) as Record<string, string>)[cmRef.key] : undefined;
    envs.set(e.name, e.value ?? fromCm ?? (e.valueFrom?.fieldRef ? `fieldRef:${e.valueFrom.fieldRef.fieldPath}` : '?'));
  }
  for (const f of flags.values()) {
    const v = envs.get(f.env);
    if (v !== undefined) out.set(f.name, v);
  }
  for (const [k, v] of parseArgs([...(c.command ?? []).slice(1), ...(c.args ?? [])], flags, '', [])) out.set(k, v);
  return out;
}

const portOf = (hostPort: string | undefined): number | undefined => {
  const m = /:(\d+)$/.exec(hostPort ?? '');
  return m ? Number(m[1]) : undefined;
};

// ---------------------------------------------------------------------------------------------
// Cross-references and policy

function crossRefProblems(docs: readonly Doc[]): string[] {
  const problems: string[] = [];
  const named = (kind: string): Set<string> => new Set(docs.filter((d) => d.obj.kind === kind).map(nameOf));
  const cmNames = named('ConfigMap');
  const saNames = named('ServiceAccount');
  const serviceNames = named('Service');
  const secretNames = named('Secret');
  const ws = workloads(docs);

  // Namespace: one, tabby-system, and every other object in it.
  const nss = docs.filter((d) => d.obj.kind === 'Namespace');
  if (nss.length !== 1 || nameOf(nss[0]) !== NAMESPACE) problems.push(`expected exactly one Namespace, ${NAMESPACE} (got ${nss.map(nameOf).join(', ') || 'none'})`);
  for (const d of docs) {
    if (d.obj.kind === 'Namespace') continue;
    const ns = (d.obj.metadata as Obj | undefined)?.namespace;
    if (ns !== NAMESPACE) problems.push(`${where(d)}: metadata.namespace is ${String(ns)}, expected ${NAMESPACE}`);
  }
  const keys = new Set<string>();
  for (const d of docs) {
    const key = `${String(d.obj.kind)}/${nameOf(d)}`;
    if (keys.has(key)) problems.push(`${where(d)}: ${key} is defined twice`);
    keys.add(key);
  }

  // Services: the selector picks a workload's pods, and the ports are ports of those pods.
  for (const s of docs.filter((d) => d.obj.kind === 'Service')) {
    const spec = (s.obj.spec ?? {}) as { selector?: Record<string, string>; type?: string; ports?: { name?: string; port: number; targetPort?: string | number }[] };
    if ((spec.type ?? 'ClusterIP') !== 'ClusterIP') problems.push(`${where(s)}: type ${spec.type}, expected ClusterIP`);
    const selector = Object.entries(spec.selector ?? {});
    if (selector.length === 0) {
      problems.push(`${where(s)}: no selector`);
      continue;
    }
    const matched = ws.filter((w) => selector.every(([k, v]) => w.template.metadata?.labels?.[k] === v));
    if (matched.length === 0) problems.push(`${where(s)}: selector ${JSON.stringify(spec.selector)} matches no workload's pod labels`);
    for (const p of spec.ports ?? []) {
      const target = p.targetPort ?? p.port;
      for (const w of matched) {
        const declared = containersOf(w).flatMap((c) => c.ports ?? []);
        if (!declared.some((cp) => (typeof target === 'number' ? cp.containerPort === target : cp.name === target))) {
          problems.push(`${where(s)}: port ${p.name ?? p.port} targets ${target}, not a containerPort of ${w.name}`);
        }
      }
    }
  }

  // PodDisruptionBudgets: the selector picks a workload's pods.
  for (const b of docs.filter((d) => d.obj.kind === 'PodDisruptionBudget')) {
    const sel = Object.entries(((b.obj.spec ?? {}) as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels ?? {});
    if (sel.length === 0 || !ws.some((w) => sel.every(([k, v]) => w.template.metadata?.labels?.[k] === v))) problems.push(`${where(b)}: selector matches no workload's pod labels`);
  }

  for (const w of ws) {
    const at = where(w.doc);
    const pod = w.template.spec;
    const labels = w.template.metadata?.labels ?? {};
    if (Object.keys(w.selector).length === 0) problems.push(`${at}: empty selector.matchLabels`);
    for (const [k, v] of Object.entries(w.selector)) if (labels[k] !== v) problems.push(`${at}: selector ${k}=${v} does not match the pod template's labels`);
    if (!pod) {
      problems.push(`${at}: no pod spec`);
      continue;
    }
    if (w.doc.obj.kind === 'StatefulSet') {
      const serviceName = (w.doc.obj.spec as { serviceName?: string }).serviceName;
      if (serviceName === undefined || !serviceNames.has(serviceName)) problems.push(`${at}: serviceName ${String(serviceName)} is not a Service here`);
      const replicas = (w.doc.obj.spec as { replicas?: number }).replicas;
      if (w.claims.length > 0 && replicas !== 1) problems.push(`${at}: replicas ${String(replicas)}: one SQLite/JetStream volume per replica means one database each; keep 1`);
    }
    if (pod.serviceAccountName === undefined || !saNames.has(pod.serviceAccountName)) problems.push(`${at}: serviceAccountName ${String(pod.serviceAccountName)} is not a ServiceAccount here`);
    if (pod.enableServiceLinks !== false) problems.push(`${at}: enableServiceLinks must be false (Service links would put TABBY_<SERVICE>_PORT=... into the flags' namespace)`);

    // Volumes: every configMap volume exists, every mount names a volume or claim, every claim is mounted.
    const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
    for (const v of pod.volumes ?? []) {
      if (v.configMap && !cmNames.has(v.configMap.name ?? '')) problems.push(`${at}: volume ${v.name} refers to ConfigMap ${String(v.configMap.name)}, which is not defined`);
      if (v.persistentVolumeClaim) problems.push(`${at}: volume ${v.name}: use volumeClaimTemplates (a claim per StatefulSet pod), not a shared claim`);
      if (v.secret && !secretNames.has(v.secret.secretName ?? '')) problems.push(`${at}: volume ${v.name} refers to Secret ${String(v.secret.secretName)}, and no such Secret is defined here`);
    }
    const mounted = new Set<string>();
    for (const c of containersOf(w)) {
      for (const m of c.volumeMounts ?? []) {
        mounted.add(m.name);
        if (!volumes.has(m.name) && !w.claims.includes(m.name)) problems.push(`${at} container ${c.name}: volumeMount ${m.name} is neither a volume nor a volume claim template`);
      }
    }
    for (const claim of w.claims) if (!mounted.has(claim)) problems.push(`${at}: volume claim template ${claim} is mounted by no container`);

    // Prometheus: the annotated port is a metrics port of the pod.
    const ann = w.template.metadata?.annotations ?? {};
    const allPorts = containersOf(w).flatMap((c) => c.ports ?? []);

    const inits = new Set(pod.initContainers ?? []);
    for (const c of containersOf(w)) {
      const cat = `${at} container ${c.name}`;
      const ports = c.ports ?? [];
      const isInit = inits.has(c);
      for (const src of c.envFrom ?? []) {
        if (src.configMapRef) {
          if (!cmNames.has(src.configMapRef.name ?? '')) problems.push(`${cat}: envFrom configMapRef ${String(src.configMapRef.name)} is not defined`);
        } else {
          problems.push(`${cat}: envFrom ${JSON.stringify(src)}: only ConfigMaps of this directory`);
        }
      }
      for (const e of c.env ?? []) {
        const cmRef = e.valueFrom?.configMapKeyRef;
        if (cmRef && !cmNames.has(cmRef.name ?? '')) problems.push(`${cat}: env ${e.name} refers to ConfigMap ${String(cmRef.name)}, which is not defined`);
        else if (cmRef && !cmRef.optional) {
          const data = (configMaps(docs).find((d) => nameOf(d) === cmRef.name)?.obj.data ?? {}) as Record<string, string>;
          if (!(cmRef.key in data)) problems.push(`${cat}: env ${e.name} refers to key ${cmRef.key} of ConfigMap ${String(cmRef.name)}, which it does not have`);
        }
      }

      // Probes: liveness and readiness everywhere, on declared ports; gRPC on Tabby's.
      const probes: [string, IProbe | undefined][] = [
        ['startupProbe', c.startupProbe],
        ['livenessProbe', c.livenessProbe],
        ['readinessProbe', c.readinessProbe],
      ];
      for (const [kind, probe] of probes) {
        if (isInit) {
          // The API server refuses probes on an init container (it runs to completion).
          if (probe) problems.push(`${cat}: an init container cannot have a ${kind}`);
          continue;
        }
        if (!probe) {
          if (kind !== 'startupProbe') problems.push(`${cat}: no ${kind}`);
          continue;
        }
        const port = probe.grpc?.port ?? probe.httpGet?.port ?? probe.tcpSocket?.port;
        if (port === undefined) {
          if (!probe.exec) problems.push(`${cat}: ${kind} has no port`);
        } else if (!ports.some((p) => (typeof port === 'number' ? p.containerPort === port : p.name === port))) {
          problems.push(`${cat}: ${kind} port ${port} is not a containerPort of the container`);
        }
        if (isTabby(c) && kind !== 'startupProbe' && !probe.grpc) problems.push(`${cat}: ${kind} must be a grpc probe (the services serve grpc.health.v1)`);
      }
      if (pod.hostNetwork) {
        for (const p of ports) if (p.hostPort !== undefined && p.hostPort !== p.containerPort) problems.push(`${cat}: hostNetwork port ${p.containerPort} has hostPort ${p.hostPort}`);
      }

      // Resources: requests and limits of cpu and memory.
      for (const level of ['requests', 'limits'] as const) {
        for (const r of ['cpu', 'memory']) {
          if (c.resources?.[level]?.[r] === undefined) problems.push(`${cat}: no resources.${level}.${r}`);
        }
      }

      // Image.
      if (c.imagePullPolicy !== 'IfNotPresent') problems.push(`${cat}: imagePullPolicy ${String(c.imagePullPolicy)}, expected IfNotPresent`);
      if (isTabby(c) && c.image !== TABBY_IMAGE) problems.push(`${cat}: image ${String(c.image)}, expected ${TABBY_IMAGE}`);

      // Security: non-root, read-only, nothing added, except the agent.
      const sc = c.securityContext ?? {};
      const isAgent = c.command?.[0] === 'tabby-agent';
      const isInstall = c.command?.[0] === 'tabby-cni';
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${cat}: securityContext.allowPrivilegeEscalation must be false`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${cat}: securityContext.readOnlyRootFilesystem must be true`);
      if (sc.privileged === true) problems.push(`${cat}: privileged`);
      if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${cat}: securityContext.capabilities.drop must include ALL`);
      const added = [...(sc.capabilities?.add ?? [])].sort();
      if (isAgent) {
        if (JSON.stringify(added) !== JSON.stringify(['NET_ADMIN', 'NET_BIND_SERVICE'])) problems.push(`${cat}: capabilities.add ${JSON.stringify(added)}, expected NET_ADMIN and NET_BIND_SERVICE only`);
        if (pod.hostNetwork !== true) problems.push(`${cat}: the agent needs hostNetwork`);
        if (pod.dnsPolicy !== 'ClusterFirstWithHostNet') problems.push(`${cat}: dnsPolicy ${String(pod.dnsPolicy)}, expected ClusterFirstWithHostNet (cluster DNS on the host network)`);
        if (w.doc.obj.kind !== 'DaemonSet') problems.push(`${cat}: the agent runs as a DaemonSet`);
      } else if (isInstall) {
        // Root owns the node's CNI directories; writing there needs no capability.
        if (added.length > 0) problems.push(`${cat}: adds capabilities ${added.join(', ')} (tabby-cni install needs none)`);
        if (!isInit || w.doc.obj.kind !== 'DaemonSet' || !containersOf(w).some((o) => o.command?.[0] === 'tabby-agent')) {
          problems.push(`${cat}: tabby-cni install runs as an init container of the agent DaemonSet`);
        }
      } else {
        if (added.length > 0) problems.push(`${cat}: adds capabilities ${added.join(', ')}`);
        if (sc.runAsNonRoot !== true) problems.push(`${cat}: securityContext.runAsNonRoot must be true`);
        if (sc.runAsUser !== 10001) problems.push(`${cat}: securityContext.runAsUser ${String(sc.runAsUser)}, expected 10001`);
        if (pod.hostNetwork === true) problems.push(`${cat}: only the agent uses the host network`);
      }

      if (!isTabby(c)) continue;
      if (isInstall) {
        problems.push(...installProblems(c, pod, docs, cat));
        continue;
      }
      // What the Tabby container is given.
      const bin = c.command?.[0] ?? '';
      const settings = settingsOf(c, docs);
      const grpcPort = GRPC_PORTS[bin];
      const listen = settings.get('listen');
      if (portOf(listen) !== grpcPort) problems.push(`${cat}: --listen ${String(listen)} is not port ${grpcPort}`);
      if (!pod.hostNetwork && !listen?.startsWith('0.0.0.0:')) problems.push(`${cat}: --listen ${String(listen)}: a pod must listen on 0.0.0.0`);
      if (!ports.some((p) => p.name === 'grpc' && p.containerPort === grpcPort)) problems.push(`${cat}: no containerPort grpc ${grpcPort}`);
      if (c.livenessProbe?.grpc && c.livenessProbe.grpc.port !== grpcPort) problems.push(`${cat}: liveness probe on ${c.livenessProbe.grpc.port}, not the gRPC port ${grpcPort}`);
      const metricsPort = portOf(settings.get('metrics'));
      if (metricsPort === undefined || metricsPort === grpcPort) problems.push(`${cat}: --metrics must be set, on a port of its own`);
      else {
        if (!ports.some((p) => p.name === 'metrics' && p.containerPort === metricsPort)) problems.push(`${cat}: no containerPort metrics ${metricsPort}`);
        if (ann['prometheus.io/scrape'] !== 'true' || ann['prometheus.io/port'] !== String(metricsPort) || ann['prometheus.io/path'] !== '/metrics') {
          problems.push(`${at}: pod annotations prometheus.io/{scrape,port,path} must be "true", "${metricsPort}", "/metrics"`);
        }
      }
      for (const need of ['store', 'nats', 'log-level'].filter((f) => FLAGS.get(bin)?.has(f))) {
        if (!settings.has(need)) problems.push(`${cat}: --${need} is not given (TABBY_${need.toUpperCase().replace(/-/g, '_')})`);
      }
      if (settings.get('datastore') === 'etcd') problems.push(...etcdProblems(w, c, settings, cat, docs));
      else if (FLAGS.get(bin)?.has('data-dir')) {
        const dir = settings.get('data-dir');
        const onClaim = (c.volumeMounts ?? []).some((m) => m.mountPath === dir && w.claims.includes(m.name));
        if (!onClaim) problems.push(`${cat}: --data-dir ${String(dir)} is not the mount path of a volume claim template`);
      }
      if (isAgent) {
        const fieldOf = (env: string): string | undefined => c.env?.find((e) => e.name === env)?.valueFrom?.fieldRef?.fieldPath;
        if (fieldOf('TABBY_NODE') !== 'spec.nodeName') problems.push(`${cat}: TABBY_NODE must come from fieldRef spec.nodeName`);
        if (fieldOf('TABBY_BGP_ADDRESS') !== 'status.hostIP') problems.push(`${cat}: TABBY_BGP_ADDRESS must come from fieldRef status.hostIP`);
        if (!settings.get('topology')) problems.push(`${cat}: --topology is not given`);
        // --peer-allow (when the agent has it): empty means "every address", so it must be set.
        if (FLAGS.get(bin)?.has('peer-allow') && !settings.get('peer-allow')) problems.push(`${cat}: --peer-allow (TABBY_PEER_ALLOW) must be set: empty admits every peer`);
      }
    }
    if (allPorts.length === 0) problems.push(`${at}: declares no containerPort`);
  }
  return problems;
}

/**
 * A store or IPAM container with --datastore etcd: stateless replicas (a Deployment without
 * volume claims, two or more), --etcd-endpoints as the binaries accept them (one scheme,
 * http(s)://HOST:PORT), no --data-dir, and each TLS file it names inside a mounted Secret
 * that has that key (or one scheme and no files without TLS).
 */
function etcdProblems(w: Workload, c: IContainer, settings: ReadonlyMap<string, string>, cat: string, docs: readonly Doc[]): string[] {
  const problems: string[] = [];
  const at = where(w.doc);
  const replicas = (w.doc.obj.spec as { replicas?: number }).replicas ?? 1;
  if (w.doc.obj.kind !== 'Deployment' || w.claims.length > 0) problems.push(`${at}: --datastore etcd keeps nothing in the pod: a Deployment without volume claims`);
  if (replicas < 2) problems.push(`${at}: replicas ${replicas}: on etcd, run two or more (the point of the etcd datastore)`);
  if (settings.has('data-dir')) problems.push(`${cat}: --data-dir is for SQLite; with --datastore etcd nothing is kept in the pod`);
  const endpoints = (settings.get('etcd-endpoints') ?? '').split(',').filter((e) => e !== '');
  if (endpoints.length === 0) problems.push(`${cat}: --datastore etcd needs --etcd-endpoints (TABBY_ETCD_ENDPOINTS)`);
  for (const e of endpoints) if (!/^https?:\/\/[^/\s:]+:\d+\/?$/.test(e)) problems.push(`${cat}: --etcd-endpoints entry "${e}" is not http(s)://HOST:PORT`);
  const tls = endpoints.filter((e) => e.startsWith('https://')).length;
  if (tls > 0 && tls < endpoints.length) problems.push(`${cat}: --etcd-endpoints mixes http:// and https://`);
  const files = ['etcd-ca', 'etcd-cert', 'etcd-key'].filter((f) => (settings.get(f) ?? '') !== '');
  if (tls === 0 && files.length > 0) problems.push(`${cat}: --${files.join('/--')} need https:// --etcd-endpoints`);
  if (tls > 0 && !files.includes('etcd-ca')) problems.push(`${cat}: https:// --etcd-endpoints need --etcd-ca`);
  const pod = w.template.spec;
  for (const f of files) {
    const file = settings.get(f)!;
    const mount = (c.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath}/`));
    const secret = pod?.volumes?.find((v) => v.name === mount?.name)?.secret;
    if (!mount || !secret) problems.push(`${cat}: --${f} ${file} is not inside a mounted Secret`);
    else {
      const key = file.slice(mount.mountPath.length + 1);
      const doc = docs.find((d) => d.obj.kind === 'Secret' && nameOf(d) === secret.secretName)?.obj;
      const data = { ...((doc?.data ?? {}) as Record<string, string>), ...((doc?.stringData ?? {}) as Record<string, string>) };
      if (doc && !(key in data)) problems.push(`${cat}: --${f} ${file}: Secret ${String(secret.secretName)} has no key ${key}`);
    }
  }
  return problems;
}

/**
 * The CNI install init container: it writes the node's /opt/cni/bin and /etc/cni/net.d through
 * hostPath volumes mounted where its flags say, names the conflist's TLS files where the node
 * sees them, puts the agent's node name in the conflist and the addresses the services have.
 */
function installProblems(c: IContainer, pod: NonNullable<IPodTemplateSpec['spec']>, docs: readonly Doc[], cat: string): string[] {
  const problems: string[] = [];
  const args = new Map<string, string>();
  for (const [k, v] of parseArgs([...(c.command ?? []).slice(2), ...(c.args ?? [])], INSTALL.flags, cat, [])) args.set(k, v);
  const hostPathOfMount = (mountPath: string | undefined): string | undefined => {
    const m = (c.volumeMounts ?? []).find((vm) => vm.mountPath === mountPath);
    return pod.volumes?.find((v) => v.name === m?.name)?.hostPath?.path;
  };
  for (const [flag, hostDir] of Object.entries(CNI_HOST_DIRS)) {
    const dir = args.get(flag);
    if (dir === undefined) problems.push(`${cat}: --${flag} is not given`);
    else if (hostPathOfMount(dir) !== hostDir) problems.push(`${cat}: --${flag} ${dir} is not a mount of the node's ${hostDir} (a hostPath volume)`);
    if ((c.volumeMounts ?? []).some((m) => m.mountPath === dir && m.readOnly === true)) problems.push(`${cat}: --${flag} ${String(dir)} is mounted read-only`);
  }
  if (args.get('host-conf-dir') !== CNI_HOST_DIRS['conf-dir']) problems.push(`${cat}: --host-conf-dir ${String(args.get('host-conf-dir'))} must be ${CNI_HOST_DIRS['conf-dir']} (where the node sees the TLS files)`);
  const env = (name: string) => c.env?.find((e) => e.name === name);
  if (env('KUBERNETES_NODE_NAME')?.valueFrom?.fieldRef?.fieldPath !== 'spec.nodeName') problems.push(`${cat}: KUBERNETES_NODE_NAME must come from fieldRef spec.nodeName (the Node the agent registers)`);
  const shared = (configMaps(docs).find((d) => nameOf(d) === 'tabby-config')?.obj.data ?? {}) as Record<string, string>;
  for (const name of ['TABBY_STORE', 'TABBY_IPAM']) {
    const ref = env(name)?.valueFrom?.configMapKeyRef;
    if (ref?.name !== 'tabby-config' || ref.key !== name || shared[name] === undefined) problems.push(`${cat}: ${name} must come from tabby-config's ${name} (the address the services are given)`);
  }
  return problems;
}

function allProblems(docs: readonly Doc[]): string[] {
  return [...schemaProblems(docs), ...unknownFieldProblems(docs), ...flagProblems(docs), ...crossRefProblems(docs)];
}

// ---------------------------------------------------------------------------------------------

const DOCS = loadManifests();

describe('deploy/kubernetes', () => {
  it('parses: one Namespace, ConfigMaps, Services and a workload per component', () => {
    const kinds = DOCS.map((d) => `${String(d.obj.kind)}/${nameOf(d)}`).sort();
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Namespace/tabby-system',
        'ServiceAccount/tabby',
        'ConfigMap/tabby-config',
        'StatefulSet/tabby-nats',
        'Service/tabby-nats',
        'StatefulSet/tabby-store',
        'Service/tabby-store',
        'StatefulSet/tabby-ipam',
        'Service/tabby-ipam',
        'Deployment/tabby-topology',
        'Service/tabby-topology',
        'DaemonSet/tabby-agent',
      ]),
    );
  });

  it('kustomization.yaml lists exactly the manifest files', () => {
    const k = parseYaml(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as { resources?: string[] };
    expect([...(k.resources ?? [])].sort()).toEqual(manifestFiles());
  });

  it('every document passes the Kubernetes API schema', () => {
    expect(schemaProblems(DOCS)).toEqual([]);
  });

  it('no document has a field the API schema does not know', () => {
    expect(unknownFieldProblems(DOCS)).toEqual([]);
  });

  it('every flag and TABBY_* variable is one the binary lists in --help', () => {
    expect(flagProblems(DOCS)).toEqual([]);
  });

  it('objects refer to each other correctly; probes, resources, security, ports', () => {
    expect(crossRefProblems(DOCS)).toEqual([]);
  });

  it("the DaemonSet's install-cni init container, run as written, installs the plugin and a conflist for its node", () => {
    const agent = workloads(DOCS).find((w) => w.name === 'tabby-agent');
    const init = agent?.template.spec?.initContainers?.find((c) => c.command?.[0] === 'tabby-cni');
    expect(init, 'the agent DaemonSet has a tabby-cni install init container').toBeDefined();
    const shared = configMaps(DOCS).find((d) => nameOf(d) === 'tabby-config')!.obj.data as Record<string, string>;
    const root = mkdtempSync(path.join(tmpdir(), 'tabby-k8s-cni-'));
    try {
      // The pod's environment: fieldRef and configMapKeyRef filled in as the kubelet would.
      const env: Record<string, string> = { PATH: process.env.PATH ?? '', TABBY_CNI_RESOLVE: 'false' };
      for (const e of init!.env ?? []) {
        if (e.value !== undefined) env[e.name] = e.value;
        else if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[e.name] = 'worker-3';
        else if (e.valueFrom?.configMapKeyRef) env[e.name] = shared[e.valueFrom.configMapKeyRef.key];
      }
      // The hostPath mounts under /host, moved under a temp folder.
      const args = [...init!.command!.slice(1), ...(init!.args ?? [])].map((a) => a.replace('=/host/', `=${root}/`));
      const r = spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tabby-cni'), args, { env, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(statSync(path.join(root, 'opt/cni/bin/tabby-cni')).mode & 0o111).not.toBe(0);
      const list = JSON.parse(readFileSync(path.join(root, 'etc/cni/net.d/10-tabby.conflist'), 'utf8')) as { name: string; plugins: Record<string, unknown>[] };
      expect(list.name).toBe('k8s-pod-network');
      expect(list.plugins[0]).toMatchObject({ type: 'tabby-cni', nodename: 'worker-3', tabby: { store: shared.TABBY_STORE, ipam: shared.TABBY_IPAM } });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('tabbyctl.yaml names the addresses the services are given', () => {
    const cm = configMaps(DOCS).find((d) => nameOf(d) === 'tabbyctl');
    const shared = configMaps(DOCS).find((d) => nameOf(d) === 'tabby-config');
    expect(cm).toBeDefined();
    const file = parseYaml((cm!.obj.data as Record<string, string>)['tabbyctl.yaml']) as Record<string, string>;
    const env = shared!.obj.data as Record<string, string>;
    expect(file).toEqual({ store: env.TABBY_STORE, ipam: env.TABBY_IPAM, topology: env.TABBY_TOPOLOGY });
  });

  it.skipIf(!hasKubectl())('kubectl kustomize builds the same objects', () => {
    const out = execFileSync('kubectl', ['kustomize', DIR], { encoding: 'utf8' });
    const built = parseManifest('kubectl kustomize', out).map((d) => d.obj);
    expect(sortObjects(built)).toEqual(sortObjects(DOCS.map((d) => d.obj)));
  });
});

function hasKubectl(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const sortObjects = (objs: Obj[]): Obj[] => [...objs].sort((a, b) => `${String(a.kind)}/${String((a.metadata as Obj).name)}`.localeCompare(`${String(b.kind)}/${String((b.metadata as Obj).name)}`));

// ---------------------------------------------------------------------------------------------
// The checks catch mistakes: each mutation of a copy must be reported.

function mutated(kind: string, name: string, change: (obj: Obj) => void): Doc[] {
  const docs = structuredClone(DOCS);
  const d = docs.find((x) => x.obj.kind === kind && nameOf(x) === name);
  if (!d) throw new Error(`no ${kind}/${name}`);
  change(d.obj);
  return docs;
}

type PodObj = { spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: Obj[] } } } };
const container = (obj: Obj, i = 0): Obj => (obj as PodObj).spec.template.spec.containers[i];
const podSpec = (obj: Obj): Obj => (obj as unknown as PodObj).spec.template.spec;

describe('the checks catch mistakes', () => {
  it('a YAML syntax error, with file and line', () => {
    expect(() => parseManifest('bad.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   namespace: y\n')).toThrow(/^bad\.yaml:4:9: /);
    expect(() => parseManifest('dup.yaml', 'a: 1\nb: 2\na: 3\n')).toThrow(/^dup\.yaml:3:\d+: .*[Uu]nique|^dup\.yaml:3:\d+: .*duplicate/i);
  });

  it('a misspelled field, which kubernetes-models alone accepts', () => {
    const docs = mutated('DaemonSet', 'tabby-agent', (o) => {
      const spec = podSpec(o);
      spec.containres = spec.containers;
      const c = container(o);
      c.readinesProbe = c.readinessProbe;
      delete c.readinessProbe;
    });
    const d = docs.find((x) => x.obj.kind === 'DaemonSet')!;
    // The reason for unknownFieldProblems: the schema validation passes these typos.
    expect(() => new DaemonSet(structuredClone(d.obj) as never).validate()).not.toThrow();
    const problems = allProblems(docs);
    expect(problems).toContainEqual(expect.stringContaining('unknown field /spec/template/spec/containres'));
    expect(problems).toContainEqual(expect.stringContaining('unknown field /spec/template/spec/containers/0/readinesProbe'));
    expect(problems).toContainEqual(expect.stringContaining('no readinessProbe'));
  });

  it('a misspelled field under metadata and in a Service', () => {
    const docs = mutated('Service', 'tabby-store', (o) => {
      (o.metadata as Obj).namepsace = 'tabby-system';
      ((o.spec as { ports: Obj[] }).ports[0]).targetport = 'grpc';
    });
    const problems = unknownFieldProblems(docs);
    expect(problems).toContainEqual(expect.stringContaining('unknown field /metadata/namepsace'));
    expect(problems).toContainEqual(expect.stringContaining('unknown field /spec/ports/0/targetport'));
  });

  it('a wrong type and an unknown kind', () => {
    const docs = mutated('StatefulSet', 'tabby-store', (o) => {
      (o.spec as Obj).replicas = 'one';
    });
    docs.push({ file: 'x.yaml', line: 1, obj: { apiVersion: 'v1', kind: 'Secrets', metadata: { name: 'x', namespace: NAMESPACE } } });
    const problems = schemaProblems(docs);
    expect(problems).toContainEqual(expect.stringMatching(/StatefulSet\/tabby-store: .*replicas/));
    expect(problems).toContainEqual(expect.stringContaining('unknown apiVersion/kind v1/Secrets'));
  });

  it('a flag the binary does not have, a flag without its value, a positional argument', () => {
    const docs = mutated('StatefulSet', 'tabby-store', (o) => {
      (container(o).args as string[]).push('--listen-adress=0.0.0.0:1', 'extra', '--nats');
    });
    const problems = flagProblems(docs);
    expect(problems).toContainEqual(expect.stringContaining('flag --listen-adress is not listed by --help'));
    expect(problems).toContainEqual(expect.stringContaining('argument "extra" is not a flag'));
    expect(problems).toContainEqual(expect.stringContaining('flag --nats needs a value'));
  });

  it('a TABBY_* variable that is no flag, in env and in a shared ConfigMap', () => {
    let docs = mutated('Deployment', 'tabby-topology', (o) => {
      container(o).env = [{ name: 'TABBY_DATA_DIR', value: '/x' }];
    });
    expect(flagProblems(docs)).toContainEqual(expect.stringContaining('env TABBY_DATA_DIR is not a flag of tabby-topology'));
    docs = mutated('ConfigMap', 'tabby-config', (o) => {
      (o.data as Obj).TABBY_STROE = 'x:1';
    });
    expect(flagProblems(docs)).toContainEqual(expect.stringContaining('TABBY_STROE is a flag of none of the binaries'));
  });

  it('an argument that refers to an undefined variable', () => {
    const docs = mutated('DaemonSet', 'tabby-agent', (o) => {
      container(o).args = ['--listen=$(HOST_IP):50054', '--metrics=$(TABBY_BGP_ADDRESS):9454'];
    });
    expect(flagProblems(docs)).toContainEqual(expect.stringContaining('refers to $(HOST_IP)'));
  });

  it('a Service that selects nothing, a probe on an undeclared port, a missing ConfigMap', () => {
    let docs = mutated('Service', 'tabby-ipam', (o) => {
      (o.spec as Obj).selector = { 'app.kubernetes.io/name': 'tabby-iparn' };
    });
    expect(crossRefProblems(docs)).toContainEqual(expect.stringContaining('matches no workload'));
    docs = mutated('StatefulSet', 'tabby-store', (o) => {
      container(o).livenessProbe = { grpc: { port: 50061 } };
    });
    expect(crossRefProblems(docs)).toContainEqual(expect.stringContaining('livenessProbe port 50061 is not a containerPort'));
    docs = mutated('DaemonSet', 'tabby-agent', (o) => {
      container(o).envFrom = [{ configMapRef: { name: 'tabby-conf' } }];
    });
    const problems = crossRefProblems(docs);
    expect(problems).toContainEqual(expect.stringContaining('configMapRef tabby-conf is not defined'));
    expect(problems).toContainEqual(expect.stringContaining('--peer-allow (TABBY_PEER_ALLOW) must be set'));
  });

  it('missing limits, a wrong namespace, a root container, a data dir off its volume', () => {
    const docs = mutated('StatefulSet', 'tabby-ipam', (o) => {
      (o.metadata as Obj).namespace = 'default';
      const c = container(o);
      delete (c.resources as Obj).limits;
      (c.securityContext as Obj).runAsUser = 0;
      (c.args as string[]).push('--data-dir=/data');
    });
    const problems = crossRefProblems(docs);
    expect(problems).toContainEqual(expect.stringContaining('no resources.limits.cpu'));
    expect(problems).toContainEqual(expect.stringContaining('metadata.namespace is default'));
    expect(problems).toContainEqual(expect.stringContaining('runAsUser 0, expected 10001'));
    expect(problems).toContainEqual(expect.stringContaining('--data-dir /data is not the mount path of a volume claim template'));
  });

  it('the CNI install: a flag it does not have, a host directory not mounted, a probe, a capability', () => {
    const docs = mutated('DaemonSet', 'tabby-agent', (o) => {
      const spec = podSpec(o) as { initContainers: Obj[]; volumes: Obj[] };
      const c = spec.initContainers[0];
      (c.args as string[]).push('--bin-dri=/x');
      (c.args as string[])[1] = '--conf-dir=/host/etc/cni/net';
      c.readinessProbe = { exec: { command: ['true'] } };
      (c.securityContext as { capabilities: { add?: string[] } }).capabilities.add = ['SYS_ADMIN'];
      c.env = [...(c.env as Obj[]), { name: 'CNI_MTUU', value: '1400' }];
    });
    const problems = allProblems(docs);
    expect(problems).toContainEqual(expect.stringContaining('flag --bin-dri is not listed by --help'));
    expect(problems).toContainEqual(expect.stringContaining("--conf-dir /host/etc/cni/net is not a mount of the node's /etc/cni/net.d"));
    expect(problems).toContainEqual(expect.stringContaining('an init container cannot have a readinessProbe'));
    expect(problems).toContainEqual(expect.stringContaining('adds capabilities SYS_ADMIN'));
    expect(problems).toContainEqual(expect.stringContaining('env CNI_MTUU is not read by tabby-cni install'));
  });

  it('a selector that does not match its pod template', () => {
    const docs = mutated('Deployment', 'tabby-topology', (o) => {
      (o as unknown as PodObj).spec.template.metadata.labels['app.kubernetes.io/name'] = 'topology';
    });
    const problems = crossRefProblems(docs);
    expect(problems).toContainEqual(expect.stringContaining('does not match the pod template'));
    expect(problems).toContainEqual(expect.stringMatching(/Service\/tabby-topology: selector .* matches no workload/));
  });
});

// ---------------------------------------------------------------------------------------------
// deploy/kubernetes-etcd: the same manifests with store and IPAM as replicas on an etcd cluster

const ETCD_DOCS = loadEtcdOverlay();
const workload = (docs: readonly Doc[], kind: string, name: string): Workload | undefined => workloads(docs).find((w) => w.doc.obj.kind === kind && w.name === name);

describe('deploy/kubernetes-etcd', () => {
  it('kustomization.yaml: the parent directory, every file of its own, the StatefulSets of store and IPAM deleted', () => {
    const k = parseYaml(readFileSync(path.join(ETCD_DIR, 'kustomization.yaml'), 'utf8')) as Kustomization;
    const own = readdirSync(ETCD_DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
    expect([...(k.resources ?? [])].sort()).toEqual(['../kubernetes', ...own].sort());
    for (const name of ['tabby-store', 'tabby-ipam']) {
      expect(workload(ETCD_DOCS, 'StatefulSet', name), `StatefulSet ${name}`).toBeUndefined();
      expect(workload(ETCD_DOCS, 'Deployment', name), `Deployment ${name}`).toBeDefined();
    }
  });

  it('passes every check the parent directory passes: schema, unknown fields, flags, references', () => {
    expect(allProblems(ETCD_DOCS)).toEqual([]);
  });

  it('store and IPAM: two or more replicas with --datastore etcd, the endpoints and TLS files from tabby-etcd, behind the same Services', () => {
    const etcd = configMaps(ETCD_DOCS).find((d) => nameOf(d) === 'tabby-etcd')!.obj.data as Record<string, string>;
    expect(Object.keys(etcd).sort()).toEqual(['etcd_ca', 'etcd_cert', 'etcd_endpoints', 'etcd_key']);
    for (const name of ['tabby-store', 'tabby-ipam']) {
      const w = workload(ETCD_DOCS, 'Deployment', name)!;
      expect((w.doc.obj.spec as { replicas: number }).replicas).toBeGreaterThanOrEqual(2);
      const c = w.template.spec!.containers[0];
      const settings = settingsOf(c, ETCD_DOCS);
      expect(settings.get('datastore')).toBe('etcd');
      expect(settings.get('etcd-endpoints')).toBe(etcd.etcd_endpoints);
      const refs = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.valueFrom?.configMapKeyRef?.key]));
      expect(refs).toMatchObject({ TABBY_ETCD_ENDPOINTS: 'etcd_endpoints', TABBY_ETCD_CA: 'etcd_ca', TABBY_ETCD_CERT: 'etcd_cert', TABBY_ETCD_KEY: 'etcd_key' });
      // The parent's Service still selects these pods, and a disruption budget keeps all but one.
      const svc = ETCD_DOCS.find((d) => d.obj.kind === 'Service' && nameOf(d) === name)!;
      expect(Object.entries((svc.obj.spec as { selector: Record<string, string> }).selector).every(([k, v]) => w.template.metadata?.labels?.[k] === v)).toBe(true);
      const pdb = ETCD_DOCS.find((d) => d.obj.kind === 'PodDisruptionBudget' && nameOf(d) === name);
      expect((pdb?.obj.spec as { maxUnavailable?: number } | undefined)?.maxUnavailable).toBe(1);
    }
    expect((workload(ETCD_DOCS, 'Deployment', 'tabby-topology')!.doc.obj.spec as { replicas: number }).replicas).toBe(2);
  });

  it.skipIf(!hasKubectl())('kubectl kustomize builds the same objects', () => {
    const out = execFileSync('kubectl', ['kustomize', ETCD_DIR], { encoding: 'utf8' });
    const built = parseManifest('kubectl kustomize', out).map((d) => d.obj);
    expect(sortObjects(built)).toEqual(sortObjects(ETCD_DOCS.map((d) => d.obj)));
  });
});

describe('deploy/kubernetes-etcd containers run against a real etcd', () => {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-k8s-etcd-');
  afterAll(async () => {
    await group.stopAll();
    dir.remove();
  });

  /**
   * A Deployment's container as a local process: its command and args (0.0.0.0 → a free port on
   * 127.0.0.1), its env with configMapKeyRef values filled in from the manifests, as the kubelet
   * would, and `override` for what points outside this machine (the etcd endpoints, the store).
   */
  async function runContainer(name: string, override: Record<string, string>): Promise<string> {
    const c = workload(ETCD_DOCS, 'Deployment', name)!.template.spec!.containers[0];
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: dir.path, TABBY_NATS: '' };
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.configMapKeyRef;
      const value = e.value ?? (ref ? ((configMaps(ETCD_DOCS).find((d) => nameOf(d) === ref.name)!.obj.data as Record<string, string>)[ref.key]) : undefined);
      if (value !== undefined) env[e.name] = value;
    }
    Object.assign(env, override);
    let grpc = '';
    const args: string[] = [];
    for (const a of c.args ?? []) {
      const m = /^(--[a-z-]+=)0\.0\.0\.0:\d+$/.exec(a);
      if (!m) {
        args.push(a);
        continue;
      }
      const local = `127.0.0.1:${await freePort()}`;
      if (m[1] === '--listen=') grpc = local;
      args.push(`${m[1]}${local}`);
    }
    group.start(name, path.join(REPO_ROOT, 'node_modules', '.bin', c.command![0]), args, { env, logFile: path.join(dir.path, `${name}.log`) });
    await eventually(`${name} SERVING`, async () => (await healthCheck(grpc).catch(() => '')) === 'SERVING' || undefined, 30_000, 200);
    return grpc;
  }

  it('tabby-store and tabby-ipam start with their args and the tabby-etcd settings (no TLS) and keep their data in etcd', async () => {
    const etcd = await startEtcdCluster(group, dir.path, { size: 1 });
    const store = await runContainer('tabby-store', { TABBY_ETCD_ENDPOINTS: etcd.endpoints });
    await runContainer('tabby-ipam', { TABBY_ETCD_ENDPOINTS: etcd.endpoints, TABBY_STORE: store });
    const pool = path.join(dir.path, 'pool.yaml');
    writeFileSync(pool, 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: pool-a\nspec:\n  cidr: 10.250.0.0/16\n');
    const r = spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tabbyctl'), ['--store', store, 'apply', '-f', pool], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir.path, TABBY_CONFIG: '' } });
    expect(r.status, r.stderr).toBe(0);
    const keys = await etcd.etcdctl(['get', '--prefix', '/', '--keys-only']);
    expect(keys).toContain('/calico/resources/v3/projectcalico.org/ippools/pool-a');
    expect(keys).toMatch(/^\/tabby\/ipam\/v1\/instance\//m);
  }, 90_000);
});

describe('the etcd checks catch mistakes', () => {
  const changed = (kind: string, name: string, change: (obj: Obj) => void): Doc[] => {
    const docs = structuredClone(ETCD_DOCS);
    const d = docs.find((x) => x.obj.kind === kind && nameOf(x) === name);
    if (!d) throw new Error(`no ${kind}/${name}`);
    change(d.obj);
    return docs;
  };

  it('one replica, a --data-dir, no endpoints, a missing key', () => {
    let docs = changed('Deployment', 'tabby-store', (o) => {
      (o.spec as Obj).replicas = 1;
      (container(o).args as string[]).push('--data-dir=/var/lib/tabby/store');
      container(o).env = (container(o).env as Obj[]).filter((e) => e.name !== 'TABBY_ETCD_ENDPOINTS');
    });
    const problems = crossRefProblems(docs);
    expect(problems).toContainEqual(expect.stringContaining('replicas 1: on etcd, run two or more'));
    expect(problems).toContainEqual(expect.stringContaining('--data-dir is for SQLite'));
    expect(problems).toContainEqual(expect.stringContaining('--datastore etcd needs --etcd-endpoints'));
    docs = changed('ConfigMap', 'tabby-etcd', (o) => {
      delete (o.data as Obj).etcd_key;
    });
    expect(crossRefProblems(docs)).toContainEqual(expect.stringContaining('refers to key etcd_key of ConfigMap tabby-etcd'));
  });

  it('bad endpoints, TLS files without https, a file outside the Secret or missing from it, an undefined Secret', () => {
    let docs = changed('ConfigMap', 'tabby-etcd', (o) => {
      const data = o.data as Obj;
      data.etcd_endpoints = 'http://10.0.0.11:2379,10.0.0.12:2379';
      data.etcd_ca = '/etc/tabby-etcd/etcd-ca';
    });
    let problems = crossRefProblems(docs);
    expect(problems).toContainEqual(expect.stringContaining('entry "10.0.0.12:2379" is not http(s)://HOST:PORT'));
    expect(problems).toContainEqual(expect.stringContaining('--etcd-ca need https:// --etcd-endpoints'));
    docs = changed('ConfigMap', 'tabby-etcd', (o) => {
      const data = o.data as Obj;
      data.etcd_endpoints = 'https://10.0.0.11:2379';
      data.etcd_ca = '/etc/tabby-etcd/etcd-ca';
      data.etcd_cert = '/etc/ssl/client.pem';
    });
    problems = crossRefProblems(docs);
    expect(problems).toContainEqual(expect.stringContaining('--etcd-ca /etc/tabby-etcd/etcd-ca: Secret tabby-etcd-tls has no key etcd-ca'));
    expect(problems).toContainEqual(expect.stringContaining('--etcd-cert /etc/ssl/client.pem is not inside a mounted Secret'));
    docs = changed('Deployment', 'tabby-ipam', (o) => {
      ((podSpec(o).volumes as { name: string; secret?: { secretName: string } }[]).find((v) => v.secret)!.secret!).secretName = 'tabby-etcd-certs';
    });
    expect(crossRefProblems(docs)).toContainEqual(expect.stringContaining('refers to Secret tabby-etcd-certs, and no such Secret is defined here'));
  });
});
