// Nexmark Q0-Q8 written with the Rill Streams DSL, one topology per query over three input
// topics: persons keyed by id, auctions keyed by seller, bids keyed by auction (so Q3 and Q8
// join without repartitioning). `kind` says how a query's final results are read from its
// output topic: every record (stream) or the last value per key (table).
import {
  StreamsBuilder,
  TimeWindows,
  joinWindows,
  jsonSerde,
  serdes,
  stringSerde,
  type KStream,
  type KTable,
  type Topology,
} from '../src/streams/index.ts';
import {
  hopMs,
  q3States,
  q6Average,
  q6Fold,
  toEuros,
  windowMs,
  type Auction,
  type Bid,
  type NexmarkEvent,
  type Person,
  type Row,
} from './nexmark-model.ts';

export const personTopic = 'nexmark-person';
export const auctionTopic = 'nexmark-auction';
export const bidTopic = 'nexmark-bid';
export const queryNames = ['q0', 'q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7', 'q8'] as const;
export type QueryName = (typeof queryNames)[number];

const row = jsonSerde<Row>();
const rows = serdes(stringSerde, row);
const personSerdes = serdes(stringSerde, jsonSerde<Person>());
const auctionSerdes = serdes(stringSerde, jsonSerde<Auction>());
const bidSerdes = serdes(stringSerde, jsonSerde<Bid>());

/** Where an event goes: its topic and key. */
export function eventRecord(e: NexmarkEvent): { topic: string; key: string; value: unknown } {
  if (e.type === 'person') return { topic: personTopic, key: String(e.person.id), value: e.person };
  if (e.type === 'auction') {
    return { topic: auctionTopic, key: String(e.auction.seller), value: e.auction };
  }
  return { topic: bidTopic, key: String(e.bid.auction), value: e.bid };
}

export const eventTimeOf = (e: NexmarkEvent): number =>
  e.type === 'person'
    ? e.person.dateTime
    : e.type === 'auction'
      ? e.auction.dateTime
      : e.bid.dateTime;

export interface NexmarkQuery {
  readonly topology: Topology;
  readonly output: string;
  readonly kind: 'stream' | 'table';
}

const windowStart = (t: number): number => t - (t % windowMs);

function auctionsById(builder: StreamsBuilder, name: string): KTable<string, Auction> {
  return builder
    .stream(auctionTopic, auctionSerdes)
    .selectKey((_seller, a) => String(a.id), { keySerde: stringSerde })
    .groupByKey()
    .reduce((_old, latest) => latest, { name });
}

const inRange = (v: { b: Bid; a: Auction }): boolean =>
  v.b.dateTime >= v.a.dateTime && v.b.dateTime <= v.a.expires;

export function nexmarkQuery(name: QueryName, applicationId = `nexmark-${name}`): NexmarkQuery {
  const builder = new StreamsBuilder({ applicationId });
  const bids = (): ReturnType<typeof builder.stream<string, Bid>> =>
    builder.stream(bidTopic, bidSerdes);
  const output = `${applicationId}-out`;
  let kind: 'stream' | 'table' = 'stream';
  switch (name) {
    case 'q0':
      bids().to(output, serdes(stringSerde, jsonSerde<Bid>()));
      break;
    case 'q1':
      bids()
        .mapValues((b): Row => ({ ...b, price: toEuros(b.price) }), { valueSerde: row })
        .to(output, rows);
      break;
    case 'q2':
      bids()
        .filter((_k, b) => b.auction % 123 === 0)
        .mapValues((b): Row => ({ auction: b.auction, price: b.price }), { valueSerde: row })
        .to(output, rows);
      break;
    case 'q3': {
      const persons = builder
        .table(personTopic, personSerdes, { name: 'q3-persons' })
        .filter((_id, p) => q3States.has(p.state));
      builder
        .stream(auctionTopic, auctionSerdes)
        .filter((_seller, a) => a.category === 10)
        .join(persons, (a, p): Row => ({ name: p.name, city: p.city, state: p.state, id: a.id }), {
          name: 'q3-join',
          valueSerde: row,
        })
        .to(output, rows);
      break;
    }
    case 'q4':
      kind = 'table';
      q4(builder, output);
      break;
    case 'q5':
      kind = 'table';
      q5(builder, output);
      break;
    case 'q6':
      kind = 'table';
      q6(builder, output);
      break;
    case 'q7':
      q7(builder, output);
      break;
    case 'q8':
      kind = 'table';
      q8(builder, output);
      break;
  }
  return { topology: builder.build(), output, kind };
}

type BidAuction = { b: Bid; a: Auction };
const bidAuction = jsonSerde<BidAuction>();

/**
 * An auction's max in-range bid so far and the max before this bid (null: its first). Q4 and
 * Q6 forward a max only when it rises (as Flink's aggregations skip unchanged results), so
 * the per-category and per-seller stages see one small record per rise, not one per bid.
 */
type AuctionMax = { auction: number; category: number; seller: number; price: number };
type MaxChange = AuctionMax & { previous: number | null };

function auctionMaxChanges(
  builder: StreamsBuilder,
  query: 'q4' | 'q6',
): KStream<string, MaxChange | null> {
  const auctions = auctionsById(builder, `${query}-auctions`);
  return builder
    .stream(bidTopic, bidSerdes)
    .join(auctions, (b, a): BidAuction => ({ b, a }), {
      name: `${query}-bid-auction`,
      valueSerde: bidAuction,
    })
    .filter((_k, v) => inRange(v))
    .groupByKey()
    .aggregate(
      (): MaxChange | null => null,
      (_k, { a, b }, max): MaxChange => ({
        auction: a.id,
        category: a.category,
        seller: a.seller,
        price: Math.max(b.price, max?.price ?? 0),
        previous: max?.price ?? null,
      }),
      { name: query === 'q4' ? 'q4-max' : 'q6-max', serde: jsonSerde<MaxChange | null>() },
    )
    .toStream()
    .filter((_k, v) => v !== null && v.price !== v.previous);
}

function q4(builder: StreamsBuilder, output: string): void {
  type Sum = { sum: number; count: number };
  auctionMaxChanges(builder, 'q4')
    // Prices are integers: the sum stays exact, so sum / count equals the model's average.
    .map(
      (_k, v) =>
        [String(v?.category), { price: v?.price ?? 0, previous: v?.previous ?? null }] as const,
      {
        serdes: serdes(stringSerde, jsonSerde<{ price: number; previous: number | null }>()),
      },
    )
    .groupByKey()
    .aggregate(
      (): Sum => ({ sum: 0, count: 0 }),
      (_k, v, s) => ({
        sum: s.sum + v.price - (v.previous ?? 0),
        count: s.count + (v.previous === null ? 1 : 0),
      }),
      { name: 'q4-category', serde: jsonSerde<Sum>() },
    )
    .toStream()
    .mapValues(
      (s, category): Row => ({ category: Number(category), avg: (s?.sum ?? 0) / (s?.count ?? 1) }),
      { valueSerde: row },
    )
    .to(output, rows);
}

function q5(builder: StreamsBuilder, output: string): void {
  type Hot = { windowStart: number; count: number; auctions: number[] };
  builder
    .stream(bidTopic, bidSerdes)
    .groupByKey()
    .windowedBy(TimeWindows.hopping(windowMs, hopMs, { graceMs: 0, emit: 'final' }))
    .count({ name: 'q5-counts' })
    .toStream()
    .map(
      (wk, n) => [String(wk.window.startMs), { auction: Number(wk.key), count: n ?? 0 }] as const,
      { serdes: serdes(stringSerde, jsonSerde<{ auction: number; count: number }>()) },
    )
    .groupByKey()
    .aggregate(
      (): Hot => ({ windowStart: 0, count: 0, auctions: [] }),
      (start, v, hot) => {
        if (v.count > hot.count)
          return { windowStart: Number(start), count: v.count, auctions: [v.auction] };
        if (v.count < hot.count) return hot;
        return { ...hot, auctions: [...hot.auctions, v.auction].sort((a, b) => a - b) };
      },
      { name: 'q5-max', serde: jsonSerde<Hot>() },
    )
    .toStream()
    .to(output, serdes(stringSerde, jsonSerde<Hot | null>()));
}

function q6(builder: StreamsBuilder, output: string): void {
  auctionMaxChanges(builder, 'q6')
    .map(
      (_k, v) => [String(v?.seller), { auction: v?.auction ?? 0, price: v?.price ?? 0 }] as const,
      {
        serdes: serdes(stringSerde, jsonSerde<{ auction: number; price: number }>()),
      },
    )
    .groupByKey()
    .aggregate(
      (): [number, number][] => [],
      (_seller, v, maxes) => [...q6Fold(new Map(maxes), v.auction, v.price)],
      { name: 'q6-seller', serde: jsonSerde<[number, number][]>() },
    )
    .toStream()
    .mapValues(
      (maxes, seller): Row => ({ seller: Number(seller), avg: q6Average(new Map(maxes ?? [])) }),
      { valueSerde: row },
    )
    .to(output, rows);
}

function q7(builder: StreamsBuilder, output: string): void {
  type Best = { price: number; bids: Bid[] };
  builder
    .stream(bidTopic, bidSerdes)
    .groupBy(() => 'all', { keySerde: stringSerde })
    .windowedBy(TimeWindows.tumbling(windowMs, { graceMs: 0, emit: 'final' }))
    .aggregate(
      (): Best => ({ price: -1, bids: [] }),
      (_k, b, best) => {
        if (b.price > best.price) return { price: b.price, bids: [b] };
        return b.price === best.price ? { ...best, bids: [...best.bids, b] } : best;
      },
      { name: 'q7-max', serde: jsonSerde<Best>() },
    )
    .toStream()
    .flatMap(
      (wk, best) =>
        (best?.bids ?? []).map(
          (b) => [String(wk.window.startMs), { windowStart: wk.window.startMs, ...b }] as const,
        ),
      { serdes: rows },
    )
    .to(output, rows);
}

function q8(builder: StreamsBuilder, output: string): void {
  const auctions = builder.stream(auctionTopic, auctionSerdes);
  builder
    .stream(personTopic, personSerdes)
    .joinWindowed(
      auctions,
      (p, a): Row | null =>
        windowStart(p.dateTime) === windowStart(a.dateTime)
          ? { id: p.id, name: p.name, windowStart: windowStart(p.dateTime) }
          : null,
      joinWindows(windowMs, { graceMs: 0 }),
      { name: 'q8-join', valueSerde: jsonSerde<Row | null>() },
    )
    .filter((_k, v) => v !== null)
    .selectKey((_k, v) => `${String(v?.id)}/${String(v?.windowStart)}`, { keySerde: stringSerde })
    .groupByKey()
    .reduce((first) => first, { name: 'q8-dedupe' })
    .toStream()
    .to(output, serdes(stringSerde, jsonSerde<Row | null>()));
}

/** A query's final results from its output records (in partition, offset order). */
export function finalRows(
  kind: 'stream' | 'table',
  records: readonly { key: string | null; value: Row | null }[],
): Row[] {
  if (kind === 'stream') return records.flatMap((r) => (r.value === null ? [] : [r.value]));
  const last = new Map<string | null, Row | null>();
  for (const r of records) last.set(r.key, r.value);
  return [...last.values()].filter((v): v is Row => v !== null);
}
