// The Kafka API registry and request dispatcher: each API registers its key, name, supported
// version range and first flexible version with a handler; dispatch() reads a frame's header,
// finds the API, runs it and prepends the response header. ApiVersions is answered from the
// registry itself, including Kafka's v0-format UNSUPPORTED_VERSION fallback (KIP-511) for a
// version above ours. Any other unknown key or version, or a body that does not parse, is a
// KafkaProtocolError: the connection closes, as Kafka closes it.
import type { FastifyBaseLogger } from 'fastify';
import type { Broker, GroupCoordinator } from '../../broker/index.ts';
import { assert, type Clock, type WallClock } from '../../common/index.ts';
import type { ServerMetrics } from '../server/server-metrics.ts';
import type { HttpExchange } from '../wire.ts';
import { kafkaErrorCode } from './error-codes.ts';
import type { KafkaConfig } from './kafka-config.ts';
import { KafkaProtocolError } from './protocol/errors.ts';
import {
  apiVersionsKey,
  readRequestHeader,
  readRequestPrefix,
  responseWriter,
  type RequestHeader,
} from './protocol/header.ts';
import { KafkaReader } from './protocol/reader.ts';
import { KafkaWriter } from './protocol/writer.ts';

/** The broker services every API handler calls: the same ones the HTTP routes call. */
export interface KafkaServices {
  readonly broker: Broker;
  readonly groups: GroupCoordinator;
  readonly config: KafkaConfig;
  readonly clock: Clock;
  readonly wallClock: WallClock;
  /** Sends a produce to the partition's leader over HTTP/2 (as the HTTP route forwards). */
  readonly forwarder: HttpExchange;
  readonly logger: FastifyBaseLogger;
  /** The node's Prometheus counters: Kafka produce and fetch count as the HTTP routes do. */
  readonly metrics: ServerMetrics;
}

/** One request's context. */
export interface KafkaRequestContext {
  readonly services: KafkaServices;
  /** Aborts when the connection closes (long polls stop waiting). */
  readonly signal: AbortSignal;
  /** The peer's address, for logs. */
  readonly remoteAddress: string;
}

/**
 * A handler's answer: the response body (after the response header) as a writer, or as chunks
 * sent as they are (Fetch's stored batches), or null for no response at all (Produce acks=0).
 */
export type KafkaResponseBody = KafkaWriter | readonly Uint8Array[] | null;

export interface KafkaApi {
  readonly apiKey: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** First flexible version (Kafka's "flexibleVersions"); above maxVersion if none is. */
  readonly flexibleFrom: number;
  /** Reads the body from `reader` (after the header) and answers it. */
  handle(
    context: KafkaRequestContext,
    reader: KafkaReader,
    header: RequestHeader,
  ): Promise<KafkaResponseBody>;
}

/** A response frame, its int32 size prefix included, as chunks to write in order. */
export type KafkaResponseFrame = readonly Uint8Array[];

export class KafkaDispatcher {
  private readonly apis = new Map<number, KafkaApi>();

  constructor() {
    this.registerApi({
      apiKey: apiVersionsKey,
      name: 'ApiVersions',
      minVersion: 0,
      maxVersion: 3,
      flexibleFrom: 3,
      handle: async (_context, reader, header) => this.apiVersions(reader, header),
    });
  }

  registerApi(api: KafkaApi): void {
    assert(!this.apis.has(api.apiKey), `api key ${api.apiKey} is registered twice`);
    assert(api.minVersion >= 0 && api.minVersion <= api.maxVersion, `${api.name} versions`);
    assert(Number.isInteger(api.flexibleFrom), `${api.name} flexibleFrom`);
    this.apis.set(api.apiKey, api);
  }

  /** The registered APIs by key, for ApiVersions and docs. */
  list(): readonly KafkaApi[] {
    return [...this.apis.values()].sort((a, b) => a.apiKey - b.apiKey);
  }

  /**
   * Answers one request frame (its size prefix removed). Resolves to the response frame, or
   * null when the request takes no answer; throws KafkaProtocolError when the connection must
   * close.
   */
  async dispatch(context: KafkaRequestContext, frame: Buffer): Promise<KafkaResponseFrame | null> {
    const reader = new KafkaReader(frame);
    const prefix = readRequestPrefix(new KafkaReader(frame));
    const api = this.apis.get(prefix.apiKey);
    if (api === undefined) {
      throw new KafkaProtocolError('KAFKA_MALFORMED_REQUEST', `unknown api key ${prefix.apiKey}`);
    }
    const inRange = prefix.apiVersion >= api.minVersion && prefix.apiVersion <= api.maxVersion;
    if (!inRange && prefix.apiKey === apiVersionsKey) {
      // KIP-511: a version we do not know may have a header we cannot read; answer in v0.
      const body = this.apiVersionsBody(kafkaErrorCode.UNSUPPORTED_VERSION, 0);
      return frameOf(new KafkaWriter(16).int32(prefix.correlationId).raw(body.finish()));
    }
    if (!inRange) {
      throw new KafkaProtocolError(
        'KAFKA_MALFORMED_REQUEST',
        `${api.name} v${prefix.apiVersion} is outside v${api.minVersion}-v${api.maxVersion}`,
      );
    }
    const header = readRequestHeader(reader, api.flexibleFrom);
    const body = await api.handle(context, reader, header);
    if (body === null) return null;
    const head = responseWriter(header, 64);
    if (body instanceof KafkaWriter) return frameOf(head.raw(body.finish()));
    return frameOf(head, body);
  }

  private async apiVersions(reader: KafkaReader, header: RequestHeader): Promise<KafkaWriter> {
    if (header.apiVersion >= 3) {
      // client_software_name and _version (KIP-511), for logs only.
      reader.compactString();
      reader.compactString();
      reader.skipTaggedFields();
    }
    return Promise.resolve(this.apiVersionsBody(kafkaErrorCode.NONE, header.apiVersion));
  }

  private apiVersionsBody(errorCode: number, version: number): KafkaWriter {
    const flexible = version >= 3;
    const writer = new KafkaWriter(512);
    writer.int16(errorCode);
    writer.arrayOf(flexible, this.list(), (w, api) => {
      w.int16(api.apiKey).int16(api.minVersion).int16(api.maxVersion).tagsOf(flexible);
    });
    if (version >= 1) writer.int32(0); // throttle_time_ms
    return writer.tagsOf(flexible);
  }
}

/** Frames a response: int32 size, then the header+body writer, then any raw chunks. */
function frameOf(head: KafkaWriter, chunks: readonly Uint8Array[] = []): KafkaResponseFrame {
  const first = head.finish();
  let size = first.length;
  for (const chunk of chunks) size += chunk.length;
  const prefix = Buffer.allocUnsafe(4);
  prefix.writeInt32BE(size);
  return [prefix, first, ...chunks];
}
