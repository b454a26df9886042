// Kafka request and response headers (the protocol guide's "Headers"). Request header v1:
// api_key int16, api_version int16, correlation_id int32, client_id nullable string; v2 (sent
// with every flexible request version) adds a tag section. Response header v0: correlation_id;
// v1 (flexible versions) adds a tag section, except ApiVersions, whose response header is
// always v0 so that a client can read it before it knows the broker's versions (KIP-511).
import { KafkaProtocolError } from './errors.ts';
import type { KafkaReader } from './reader.ts';
import { KafkaWriter } from './writer.ts';

export const apiVersionsKey = 18;

/**
 * The first flexible version of each API Kafka defines, from its message schemas
 * ("flexibleVersions"); APIs absent here are flexible from version 0 if at all (see
 * flexibleFromOf).
 */
export const flexibleFromByApiKey: Readonly<Record<number, number>> = {
  0: 9, // Produce
  1: 12, // Fetch
  2: 6, // ListOffsets
  3: 9, // Metadata
  8: 8, // OffsetCommit
  9: 6, // OffsetFetch
  10: 3, // FindCoordinator
  11: 6, // JoinGroup
  12: 4, // Heartbeat
  13: 4, // LeaveGroup
  14: 4, // SyncGroup
  15: 5, // DescribeGroups
  16: 3, // ListGroups
  18: 3, // ApiVersions
  19: 5, // CreateTopics
  20: 4, // DeleteTopics
  22: 2, // InitProducerId
  32: 4, // DescribeConfigs
  68: 0, // ConsumerGroupHeartbeat
};

/** The first flexible version of `apiKey`, or Infinity if unknown (never flexible). */
export function flexibleFromOf(apiKey: number): number {
  return flexibleFromByApiKey[apiKey] ?? Number.POSITIVE_INFINITY;
}

export interface RequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  /** Header v2: the request body is in the flexible encoding. */
  readonly flexible: boolean;
}

/** The fixed prefix every request has whatever its version: key, version, correlation id. */
export function readRequestPrefix(
  reader: KafkaReader,
): Pick<RequestHeader, 'apiKey' | 'apiVersion' | 'correlationId'> {
  const apiKey = reader.int16();
  const apiVersion = reader.int16();
  const correlationId = reader.int32();
  return { apiKey, apiVersion, correlationId };
}

/**
 * Reads a request header; `flexibleFrom` is the API's first flexible version (header v2 from
 * there). Throws KafkaProtocolError on a truncated header.
 */
export function readRequestHeader(reader: KafkaReader, flexibleFrom: number): RequestHeader {
  const prefix = readRequestPrefix(reader);
  if (prefix.apiVersion < 0) {
    throw new KafkaProtocolError('KAFKA_MALFORMED_REQUEST', `api version ${prefix.apiVersion}`);
  }
  // client_id stays a classic nullable string in header v2 (for compatibility, KIP-482).
  const clientId = reader.nullableString();
  const flexible = prefix.apiVersion >= flexibleFrom;
  if (flexible) reader.skipTaggedFields();
  return { ...prefix, clientId, flexible };
}

export function writeRequestHeader(writer: KafkaWriter, header: RequestHeader): KafkaWriter {
  writer.int16(header.apiKey).int16(header.apiVersion).int32(header.correlationId);
  writer.nullableString(header.clientId);
  return writer.tagsOf(header.flexible);
}

/** Whether the response to this request carries header v1 (a tag section). */
export function hasFlexibleResponseHeader(header: RequestHeader): boolean {
  return header.flexible && header.apiKey !== apiVersionsKey;
}

/** A response header for `header`'s request, into a new writer the body follows. */
export function responseWriter(header: RequestHeader, capacity = 256): KafkaWriter {
  const writer = new KafkaWriter(capacity);
  writer.int32(header.correlationId);
  return writer.tagsOf(hasFlexibleResponseHeader(header));
}

/** Reads a response header (clients and tests): the correlation id. */
export function readResponseHeader(reader: KafkaReader, flexible: boolean): number {
  const correlationId = reader.int32();
  if (flexible) reader.skipTaggedFields();
  return correlationId;
}
