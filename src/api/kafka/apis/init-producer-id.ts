// InitProducerId (key 22), v0-v4: an idempotent producer's id and epoch from the same
// broker.initProducer as POST /v1/producers. A transactional id is refused (no transactions:
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED). From v3 a client may ask to bump its own epoch by
// sending its id and epoch; Rill issues a fresh identity instead, which the client accepts.
import type { KafkaApi } from '../dispatcher.ts';
import { kafkaErrorCode, kafkaErrorCodeOf } from '../error-codes.ts';
import { KafkaWriter } from '../protocol/writer.ts';

export const initProducerIdApi: KafkaApi = {
  apiKey: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 2,
  async handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const transactionalId = reader.nullableStringOf(flexible);
    reader.int32(); // transaction_timeout_ms
    if (version >= 3) {
      reader.int64(); // producer_id
      reader.int16(); // producer_epoch
    }
    reader.tagsOf(flexible);
    let errorCode: number = kafkaErrorCode.NONE;
    let producerId = -1n;
    let producerEpoch = -1;
    if (transactionalId !== null) {
      errorCode = kafkaErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else {
      try {
        const identity = await context.services.broker.initProducer(null);
        producerId = BigInt(identity.producerId);
        producerEpoch = identity.producerEpoch;
      } catch (error) {
        errorCode = kafkaErrorCodeOf(error);
      }
    }
    const w = new KafkaWriter(32);
    w.int32(0).int16(errorCode).int64(producerId).int16(producerEpoch);
    return w.tagsOf(flexible);
  },
};
