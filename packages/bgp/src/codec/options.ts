import type { PathAttributes } from '../types.js';

/** Per-session settings of the codec. */
export interface CodecOptions {
  /**
   * Both sides announced the 4-octet AS capability (RFC 6793 §4.1): AS_PATH and AGGREGATOR
   * carry 4-octet AS numbers. When false the peer is a 2-octet ("OLD") speaker: the codec
   * writes AS_TRANS plus AS4_PATH / AS4_AGGREGATOR, and merges them back on decode.
   */
  readonly fourOctetAs: boolean;
  /**
   * Attribute interning (see {@link decodeUpdate}): UPDATEs whose path attributes are
   * byte-identical (MP_REACH_NLRI / MP_UNREACH_NLRI aside, MP next hops included) share one
   * decoded {@link PathAttributes} object. The caller owns the map and bounds its size.
   */
  readonly attributeCache?: Map<string, PathAttributes>;
  /**
   * The IPv4 Withdrawn Routes and NLRI fields of an UPDATE come as numbers
   * ({@link UpdateDecodeResult.ipv4}, see `Ipv4Key`) instead of text in the message, whose
   * `withdrawn` and `nlri` are then empty: what a session feeding a full table into its RIB
   * uses, with no string per prefix. Use the result's `endOfRib` then, not the message's shape.
   */
  readonly ipv4Keys?: boolean;
}
