// Failures of reading a Kafka request off the wire: a frame that does not parse closes its
// connection (Kafka's rule: the broker cannot answer a request it cannot read). Codes are ours;
// they never reach a client as a Kafka error code, only as the closed connection and a log line.
import { TypedError } from '../../../common/index.ts';

export const kafkaProtocolErrorCatalog = {
  /** The bytes end before a field does, or a field's value is impossible (negative length). */
  KAFKA_MALFORMED_REQUEST: { retriable: false },
  /** An array, string or frame is longer than its named bound (…Max). */
  KAFKA_REQUEST_TOO_LARGE: { retriable: false },
} as const;

export type KafkaProtocolErrorCode = keyof typeof kafkaProtocolErrorCatalog;

export class KafkaProtocolError extends TypedError<KafkaProtocolErrorCode> {
  override name = 'KafkaProtocolError';
  constructor(code: KafkaProtocolErrorCode, message: string) {
    super(code, message, { retriable: kafkaProtocolErrorCatalog[code].retriable });
  }
}
