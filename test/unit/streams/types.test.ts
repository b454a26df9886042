// Goal: the DSL infers key and value types at every step, so a wrong function does not compile.
// Method: expectTypeOf on the steps of a topology (checked by tsc; vitest runs it as a test).
import { expectTypeOf, test } from 'vitest';
import {
  StreamsBuilder,
  TimeWindows,
  joinWindows,
  jsonSerde,
  numberSerde,
  serdes,
  stringSerde,
  type KGroupedStream,
  type KStream,
  type KTable,
  type Windowed,
} from '../../../src/streams/index.ts';

interface Bid {
  readonly auction: number;
  readonly price: number;
}

test('every step of the DSL carries its key and value types', () => {
  const builder = new StreamsBuilder({ applicationId: 'types' });
  const bids = builder.stream('bids', serdes(stringSerde, jsonSerde<Bid>()));
  expectTypeOf(bids).toEqualTypeOf<KStream<string, Bid>>();
  const prices = bids.mapValues((bid) => bid.price, { valueSerde: numberSerde });
  expectTypeOf(prices).toEqualTypeOf<KStream<string, number>>();
  const byAuction = bids.selectKey((_k, bid) => bid.auction);
  expectTypeOf(byAuction).toEqualTypeOf<KStream<number, Bid>>();
  const pairs = bids.map((k, bid) => [bid.price > 10, k + String(bid.auction)] as const);
  expectTypeOf(pairs).toEqualTypeOf<KStream<boolean, string>>();
  const words = bids.flatMap((k) => [[k, k.length] as const]);
  expectTypeOf(words).toEqualTypeOf<KStream<string, number>>();
  const branches = bids.split({ cheap: (_k, b) => b.price < 5, dear: () => true });
  expectTypeOf(branches.cheap).toEqualTypeOf<KStream<string, Bid>>();
  const grouped = byAuction.groupBy((_k, bid) => String(bid.price), { keySerde: stringSerde });
  expectTypeOf(grouped).toEqualTypeOf<KGroupedStream<string, Bid>>();
  const counts = grouped.count({ name: 'c' });
  expectTypeOf(counts).toEqualTypeOf<KTable<string, number>>();
  const max = grouped.aggregate(
    () => 0,
    (_k, bid, m) => Math.max(m, bid.price),
    {
      name: 'm',
      serde: numberSerde,
    },
  );
  expectTypeOf(max).toEqualTypeOf<KTable<string, number>>();
  const windowed = grouped
    .windowedBy(TimeWindows.tumbling(10, { graceMs: 0, emit: 'final' }))
    .count({ name: 'w' });
  expectTypeOf(windowed).toEqualTypeOf<KTable<Windowed<string>, number>>();
  const users = builder.table('users', serdes(stringSerde, stringSerde), { name: 'users' });
  const enriched = bids.leftJoin(users, (bid, region) => ({ ...bid, region }), { name: 'j' });
  expectTypeOf(enriched).toEqualTypeOf<
    KStream<string, { region: string | null; auction: number; price: number }>
  >();
  const joined = bids.joinWindowed(prices, (b, p) => b.price - p, joinWindows(5, { graceMs: 0 }), {
    name: 'ss',
  });
  expectTypeOf(joined).toEqualTypeOf<KStream<string, number>>();
  expectTypeOf(users.toStream()).toEqualTypeOf<KStream<string, string | null>>();
  // @ts-expect-error: a predicate over a Bid cannot take a number.
  prices.filter((_k, bid: Bid) => bid.price > 0);
});
