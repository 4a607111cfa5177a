import type { Resource } from '@tabby/proto';
import { expect } from 'vitest';
import { API_VERSION, parseManifest, type ManifestResource } from '../src/index.js';

/** Parses a manifest that must hold exactly one resource and no error. */
export function parseOne(text: string): ManifestResource {
  const result = parseManifest(text);
  expect(result.errors.map((e) => e.message)).toEqual([]);
  expect(result.resources).toHaveLength(1);
  return result.resources[0];
}

/** Parses a manifest that must hold no error; returns its resources. */
export function parseAll(text: string): Resource[] {
  const result = parseManifest(text);
  expect(result.errors.map((e) => e.message)).toEqual([]);
  return result.resources.map((r) => r.resource);
}

/** The error messages of a manifest that must not yield any resource. */
export function manifestErrors(text: string, source?: string): string[] {
  const result = parseManifest(text, source === undefined ? {} : { source });
  return result.errors.map((e) => e.message);
}

/** A resource of a kind built from its metadata and spec, read the way a manifest is read. */
export function resourceOf(kind: string, metadata: object, spec: object): Resource {
  return parseOne(JSON.stringify({ apiVersion: API_VERSION, kind, metadata, spec })).resource;
}
