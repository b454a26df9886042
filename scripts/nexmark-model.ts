// Nexmark for Rill Streams (issue 11): a deterministic generator of Person / Auction / Bid
// events (2% / 6% / 92%, in event-time order, 10 ms apart) and, per query Q0-Q8, an in-memory
// model of its definition — the oracle the DSL queries (scripts/nexmark-queries.ts) must match.
// The rules chosen where Nexmark leaves room are documented in docs/streams.md (Nexmark).

export interface Person {
  readonly id: number;
  readonly name: string;
  readonly emailAddress: string;
  readonly creditCard: string;
  readonly city: string;
  readonly state: string;
  readonly dateTime: number;
  readonly extra: string;
}

export interface Auction {
  readonly id: number;
  readonly itemName: string;
  readonly description: string;
  readonly initialBid: number;
  readonly reserve: number;
  readonly dateTime: number;
  readonly expires: number;
  readonly seller: number;
  readonly category: number;
  readonly extra: string;
}

export interface Bid {
  readonly auction: number;
  readonly bidder: number;
  readonly price: number;
  readonly dateTime: number;
  readonly extra: string;
}

export type NexmarkEvent =
  | { readonly type: 'person'; readonly person: Person }
  | { readonly type: 'auction'; readonly auction: Auction }
  | { readonly type: 'bid'; readonly bid: Bid };

export const nexmarkStartMs = 1_700_000_000_000;
export const eventSpacingMs = 10;
const states = ['OR', 'ID', 'CA', 'WA', 'AZ', 'NY', 'TX'];
const cities = ['Portland', 'Boise', 'Fresno', 'Seattle', 'Phoenix', 'Albany', 'Austin'];

/** mulberry32: small, fast and seedable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` events for `seed`: event i is a person when i % 50 = 0, an auction when i % 50 ∈ {1, 17, 33}. */
export function generateEvents(count: number, seed: number): NexmarkEvent[] {
  const random = rng(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const events: NexmarkEvent[] = [];
  let persons = 0;
  let auctions = 0;
  for (let i = 0; i < count; i += 1) {
    const dateTime = nexmarkStartMs + i * eventSpacingMs;
    const slot = i % 50;
    // Recent ids are likelier, as in Nexmark's generator ("hot" auctions and people).
    const recent = (n: number): number => Math.max(0, n - 1 - pick(Math.min(n, 20)));
    if (slot === 0 || persons === 0) {
      const id = persons;
      persons += 1;
      const s = pick(states.length);
      const person: Person = {
        id,
        name: `person-${id}`,
        emailAddress: `p${id}@nexmark.example`,
        creditCard: String(4000_0000_0000_0000 + id),
        city: cities[s] as string,
        state: states[s] as string,
        dateTime,
        extra: '',
      };
      events.push({ type: 'person', person });
    } else if (slot === 1 || slot === 17 || slot === 33 || auctions === 0) {
      const id = auctions;
      auctions += 1;
      const initialBid = 1 + pick(100);
      const auction: Auction = {
        id,
        itemName: `item-${id}`,
        description: `auction ${id}`,
        initialBid,
        reserve: initialBid + pick(200),
        dateTime,
        expires: dateTime + 2_000 + pick(18_000),
        seller: recent(persons),
        category: 10 + pick(5),
        extra: '',
      };
      events.push({ type: 'auction', auction });
    } else {
      const bid: Bid = {
        auction: recent(auctions),
        bidder: pick(persons),
        price: 1 + pick(10_000),
        dateTime,
        extra: '',
      };
      events.push({ type: 'bid', bid });
    }
  }
  return events;
}

/** Q1's currency conversion, shared so query and model compute the same float. */
export const toEuros = (price: number): number => Math.round(price * 908) / 1000;
export const q3States = new Set(['OR', 'ID', 'CA']);
export const windowMs = 10_000;
export const hopMs = 2_000;

const bidsOf = (events: readonly NexmarkEvent[]): Bid[] =>
  events.flatMap((e) => (e.type === 'bid' ? [e.bid] : []));
const auctionsOf = (events: readonly NexmarkEvent[]): Auction[] =>
  events.flatMap((e) => (e.type === 'auction' ? [e.auction] : []));
const personsOf = (events: readonly NexmarkEvent[]): Person[] =>
  events.flatMap((e) => (e.type === 'person' ? [e.person] : []));

/** A result row: what a query writes (stream queries) or holds at the end (table queries). */
export type Row = Readonly<Record<string, unknown>>;

/** The winning (max) price of each auction among its bids within [dateTime, expires]. */
function winners(
  events: readonly NexmarkEvent[],
): Map<number, { auction: Auction; price: number }> {
  const auctions = new Map<number, Auction>();
  const out = new Map<number, { auction: Auction; price: number }>();
  for (const e of events) {
    if (e.type === 'auction') auctions.set(e.auction.id, e.auction);
    if (e.type !== 'bid') continue;
    const a = auctions.get(e.bid.auction);
    if (a === undefined || e.bid.dateTime < a.dateTime || e.bid.dateTime > a.expires) continue;
    const old = out.get(a.id);
    if (old === undefined || e.bid.price > old.price)
      out.set(a.id, { auction: a, price: e.bid.price });
  }
  return out;
}

export const models: Record<string, (events: readonly NexmarkEvent[]) => Row[]> = {
  q0: (events) => bidsOf(events).map((b) => ({ ...b })),
  q1: (events) => bidsOf(events).map((b) => ({ ...b, price: toEuros(b.price) })),
  q2: (events) =>
    bidsOf(events)
      .filter((b) => b.auction % 123 === 0)
      .map((b) => ({ auction: b.auction, price: b.price })),
  q3: (events) => {
    const persons = new Map<number, Person>();
    const rows: Row[] = [];
    for (const e of events) {
      if (e.type === 'person' && q3States.has(e.person.state)) persons.set(e.person.id, e.person);
      if (e.type !== 'auction' || e.auction.category !== 10) continue;
      const p = persons.get(e.auction.seller);
      if (p !== undefined)
        rows.push({ name: p.name, city: p.city, state: p.state, id: e.auction.id });
    }
    return rows;
  },
  q4: (events) => {
    const byCategory = new Map<number, number[]>();
    for (const { auction, price } of winners(events).values()) {
      byCategory.set(auction.category, [...(byCategory.get(auction.category) ?? []), price]);
    }
    return [...byCategory].map(([category, prices]) => ({
      category,
      avg: prices.reduce((a, b) => a + b, 0) / prices.length,
    }));
  },
  q5: (events) => {
    const bids = bidsOf(events);
    const streamTime = Math.max(-1, ...bids.map((b) => b.dateTime));
    const counts = new Map<number, Map<number, number>>();
    for (const b of bids) {
      const last = b.dateTime - (b.dateTime % hopMs);
      for (let start = last; start > b.dateTime - windowMs; start -= hopMs) {
        const perAuction = counts.get(start) ?? new Map<number, number>();
        perAuction.set(b.auction, (perAuction.get(b.auction) ?? 0) + 1);
        counts.set(start, perAuction);
      }
    }
    const rows: Row[] = [];
    for (const [start, perAuction] of counts) {
      if (start + windowMs > streamTime) continue; // Not closed: never emitted.
      const max = Math.max(...perAuction.values());
      const auctions = [...perAuction].filter(([, n]) => n === max).map(([a]) => a);
      rows.push({ windowStart: start, count: max, auctions: auctions.sort((a, b) => a - b) });
    }
    return rows;
  },
  q6: (events) => {
    const perSeller = new Map<number, Map<number, number>>();
    const auctions = new Map<number, Auction>();
    for (const e of events) {
      if (e.type === 'auction') auctions.set(e.auction.id, e.auction);
      if (e.type !== 'bid') continue;
      const a = auctions.get(e.bid.auction);
      if (a === undefined || e.bid.dateTime < a.dateTime || e.bid.dateTime > a.expires) continue;
      perSeller.set(a.seller, q6Fold(perSeller.get(a.seller) ?? new Map(), a.id, e.bid.price));
    }
    return [...perSeller].map(([seller, maxes]) => ({ seller, avg: q6Average(maxes) }));
  },
  q7: (events) => {
    const bids = bidsOf(events);
    const streamTime = Math.max(-1, ...bids.map((b) => b.dateTime));
    const best = new Map<number, Bid[]>();
    for (const b of bids) {
      const start = b.dateTime - (b.dateTime % windowMs);
      const list = best.get(start) ?? [];
      if (list.length === 0 || b.price > (list[0] as Bid).price) best.set(start, [b]);
      else if (b.price === (list[0] as Bid).price) list.push(b);
    }
    return [...best]
      .filter(([start]) => start + windowMs <= streamTime)
      .flatMap(([start, list]) => list.map((b) => ({ windowStart: start, ...b })));
  },
  q8: (events) => {
    const rows = new Map<string, Row>();
    const persons = personsOf(events);
    const sellers = new Set(
      auctionsOf(events).map((a) => `${a.seller}/${a.dateTime - (a.dateTime % windowMs)}`),
    );
    for (const p of persons) {
      const start = p.dateTime - (p.dateTime % windowMs);
      if (sellers.has(`${p.id}/${start}`))
        rows.set(`${p.id}/${start}`, { id: p.id, name: p.name, windowStart: start });
    }
    return [...rows.values()];
  },
};

/** Q6: a seller's last 10 auctions (by id) with their max price; older ones drop out. */
export function q6Fold(
  maxes: ReadonlyMap<number, number>,
  auction: number,
  price: number,
): Map<number, number> {
  const next = new Map(maxes);
  const kept = [...next.keys()].sort((a, b) => b - a);
  if (!next.has(auction) && kept.length >= 10 && auction < (kept[9] as number)) return next;
  next.set(auction, Math.max(price, next.get(auction) ?? 0));
  for (const old of [...next.keys()].sort((a, b) => b - a).slice(10)) next.delete(old);
  return next;
}

export function q6Average(maxes: ReadonlyMap<number, number>): number {
  const prices = [...maxes.values()];
  return prices.reduce((a, b) => a + b, 0) / prices.length;
}

/** Rows compared as a multiset of canonical JSON (key order fixed). */
export function canonicalRows(rows: readonly Row[]): string[] {
  return rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).sort()))).sort();
}
