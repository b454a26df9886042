// POST /v1/producers {producerName?} → {producerId, producerEpoch}: a new idempotent producer
// identity from any node (Kafka's InitProducerId). Without a name, an id from the node's block
// at epoch 0; with one, the name's next epoch, which fences the instance before it.
import { producerIdLimits } from '../../../broker/index.ts';
import { invalid, isPlainObject } from '../request-checks.ts';
import type { RillApp, RouteContext } from '../route-context.ts';

export function registerProducerRoutes(app: RillApp, context: RouteContext): void {
  app.post('/v1/producers', async (request) => {
    const name = producerNameOf(request.body);
    return context.broker.initProducer(name);
  });
}

/** The optional name of an empty or `{producerName?}` body. Codes: INVALID_REQUEST. */
function producerNameOf(body: unknown): string | null {
  if (body === undefined || body === null) return null;
  if (!isPlainObject(body)) throw invalid('the body must be a JSON object');
  for (const key of Object.keys(body)) {
    if (key !== 'producerName') throw invalid(`unknown field '${key}' (known: producerName)`);
  }
  const name = body['producerName'];
  if (name === undefined || name === null) return null;
  const charsMax = producerIdLimits.producerNameCharsMax;
  if (typeof name !== 'string' || name.length === 0 || name.length > charsMax) {
    throw invalid(`producerName must be a string of 1 to ${charsMax} characters`);
  }
  return name;
}
