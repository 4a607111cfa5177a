/**
 * The contract of the path attribute descriptor table ({@link ATTRIBUTE_TABLE} in
 * attribute-table.ts): what a descriptor declares (type code, name, category that fixes its
 * flags, RFC 7606 action on malformation) and the functions it supplies (decode, encode,
 * format), plus the mutable draft a decode fills in.
 */
import type { ErrorAction } from '../errors.js';
import type { AsPathSegment, LargeCommunity, MpReach, MpUnreach, Origin, PathAttributes, RawAttribute } from '../types.js';

/** RFC 4271 §5 attribute categories; each fixes the Optional and Transitive flag bits. */
export type AttributeCategory = 'well-known-mandatory' | 'well-known-discretionary' | 'optional-transitive' | 'optional-non-transitive';

/** Codec settings an attribute's encoding depends on. */
export interface AttributeContext {
  /** Both sides announced the 4-octet AS capability (RFC 6793 §4.1). */
  readonly fourOctetAs: boolean;
}

/** What a decode is building: {@link PathAttributes} plus the MP attributes and the AS4 pair before the merge. */
export interface AttributeDraft {
  origin?: Origin;
  asPath?: AsPathSegment[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
  communities?: number[];
  largeCommunities?: LargeCommunity[];
  originatorId?: string;
  clusterList?: string[];
  unknown?: RawAttribute[];
  as4Path?: AsPathSegment[];
  as4Aggregator?: { asn: number; address: string };
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
}

/** Why an attribute was found malformed, as its decoder reports it. */
export interface AttributeProblem {
  /** UPDATE Message Error subcode for the NOTIFICATION (RFC 4271 §6.3). */
  readonly subcode: number;
  readonly reason: string;
  /** NOTIFICATION data: the whole attribute (type, length, value; the default) or nothing. */
  readonly data?: 'attribute' | 'none';
  /** Overrides the descriptor's {@link AttributeDescriptor.onMalformed}. */
  readonly action?: ErrorAction;
  /** For `afisafi-disable`: the family to disable. */
  readonly family?: { readonly afi: number; readonly safi: number };
}

/** What an UPDATE's attributes are encoded from. */
export interface AttributeSource {
  readonly attributes: PathAttributes;
  readonly mpReach?: MpReach;
  readonly mpUnreach?: MpUnreach;
}

/** One row of the descriptor table. */
export interface AttributeDescriptor {
  readonly type: number;
  /** The RFC's name, e.g. `AS_PATH`. */
  readonly name: string;
  readonly category: AttributeCategory;
  /**
   * The RFC 7606 approach when this attribute's length or value is malformed. (Flag errors are
   * "treat-as-withdraw" for all but the MP attributes, RFC 7606 §3.c.)
   */
  readonly onMalformed: ErrorAction;
  /** Where the encoding and the error handling are specified. */
  readonly reference: string;
  /**
   * Decodes the value in `buf[start, end)` into the draft; returns a problem when malformed
   * (and leaves the draft untouched).
   */
  readonly decode: (buf: Uint8Array, start: number, end: number, draft: AttributeDraft, ctx: AttributeContext) => AttributeProblem | undefined;
  /** The value to send, or undefined when the attribute is absent. Throws EncodeError on invalid input. */
  readonly encode: (src: AttributeSource, ctx: AttributeContext) => Uint8Array | undefined;
  /** Log text of the attribute, e.g. `as-path=65001 65002`, or undefined when absent. */
  readonly format: (src: AttributeSource) => string | undefined;
}

/** The flag bits (Optional, Transitive) a category requires. */
export function categoryFlags(category: AttributeCategory): number {
  switch (category) {
    case 'well-known-mandatory':
    case 'well-known-discretionary':
      return 0x40;
    case 'optional-transitive':
      return 0xc0;
    case 'optional-non-transitive':
      return 0x80;
  }
}
