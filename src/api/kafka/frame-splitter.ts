// Splits a connection's byte stream into Kafka request frames: int32 size, then that many
// bytes. Pure (no sockets): chunks in, whole frames out. A size below the smallest header or
// above requestBytesMax (socket.request.max.bytes) is KafkaProtocolError: the connection closes
// before a byte of the body is buffered.
import { LengthFrameSplitter } from '../../common/index.ts';
import { KafkaProtocolError } from './protocol/errors.ts';

/** api_key + api_version + correlation_id + client_id length: the smallest request header. */
const headerBytesMin = 10;

export class FrameSplitter extends LengthFrameSplitter {
  constructor(requestBytesMax: number) {
    super((size) =>
      size < headerBytesMin || size > requestBytesMax
        ? new KafkaProtocolError(
            size > requestBytesMax ? 'KAFKA_REQUEST_TOO_LARGE' : 'KAFKA_MALFORMED_REQUEST',
            `request frame of ${size} bytes (socket.request.max.bytes ${requestBytesMax})`,
          )
        : null,
    );
  }
}

/**
 * Whether a connection's first bytes are a Kafka request frame: a positive int32 size, then an
 * api key and version that are non-negative int16s. Undefined while fewer than 8 bytes came.
 * An HTTP request starts with an ASCII letter, which no frame under 1 GiB does.
 */
export function isKafkaFrameStart(head: Buffer): boolean | undefined {
  const first = head[0];
  if (first === undefined) return undefined;
  if (first >= 0x41) return false;
  if (head.length < 8) return undefined;
  return head.readInt32BE(0) > 0 && head.readInt16BE(4) >= 0 && head.readInt16BE(6) >= 0;
}
