// The coordinator's expected failures: the group codes of the broker catalog (src/broker/
// errors.ts), plus INVALID_REQUEST for a request the core refuses on its content (a bad regex,
// a list over its limit). src/api/errors.ts gives each its HTTP status.
import { TypedError } from '../../common/index.ts';
import { brokerErrorCatalog, type BrokerErrorCode } from '../errors.ts';

export type GroupErrorCode = BrokerErrorCode | 'INVALID_REQUEST';

export class GroupError extends TypedError<GroupErrorCode> {
  override name = 'GroupError';
  constructor(code: GroupErrorCode, message: string, details: Record<string, unknown> = {}) {
    const retriable = code === 'INVALID_REQUEST' ? false : brokerErrorCatalog[code].retriable;
    super(code, message, { retriable, details });
  }
}
