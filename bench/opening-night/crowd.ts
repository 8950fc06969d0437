/**
 * The simulated crowd: each person arrives at their time, joins the waiting room (their own X-Forwarded-For, so
 * per-IP limits apply as to real people), polls /waiting-room/status when told to, and once admitted books with a
 * claimed invitation. Plain `http` with a keep-alive agent and a bound on requests in flight.
 */
import http from 'node:http';

export interface CrowdOptions {
  baseUrl: string;
  eventId: string;
  arrivals: number;
  /** Arrivals are spread uniformly over this many ms from `start`. */
  spreadMs: number;
  start: number;
  /** Stop polling at this instant. */
  until: number;
  claimTokens: string[];
  slotIds: string[];
  maxInFlight: number;
}

interface Person {
  ip: string;
  token?: string;
  position?: number;
  /** Predicted admission instant from the first status after opening. */
  predictedAt?: number;
  predictedEtaS?: number;
  admittedSeenAt?: number;
  done: boolean;
}

export interface CrowdResult {
  requests: number;
  byStatus: Map<number, number>;
  errors: number;
  statusLatencyMs: number[];
  joined: number;
  admittedSeen: number;
  booked: number;
  /** Each $book request's latency as the person saw it (what the adaptive controller reacts to, from outside). */
  bookLatencyMs: number[];
  bookRefusals: Map<string, number>;
  predictions: Array<{ position: number; predictedAt: number; etaS: number }>;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function request(base: URL, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: base.hostname, port: base.port, method, path, headers: { ...headers, ...(body ? { 'content-type': 'application/fhir+json', 'content-length': String(Buffer.byteLength(body)) } : {}) }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** A tiny binary heap of (time, person index). */
class Timeline {
  private readonly h: Array<[number, number]> = [];
  push(t: number, i: number): void {
    const h = this.h;
    h.push([t, i]);
    for (let c = h.length - 1; c > 0;) {
      const p = (c - 1) >> 1;
      if (h[p]![0] <= h[c]![0]) break;
      [h[p], h[c]] = [h[c]!, h[p]!];
      c = p;
    }
  }
  peek(): number | undefined {
    return this.h[0]?.[0];
  }
  pop(): number {
    const h = this.h;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      for (let p = 0; ;) {
        const l = 2 * p + 1;
        const r = l + 1;
        let m = p;
        if (l < h.length && h[l]![0] < h[m]![0]) m = l;
        if (r < h.length && h[r]![0] < h[m]![0]) m = r;
        if (m === p) break;
        [h[p], h[m]] = [h[m]!, h[p]!];
        p = m;
      }
    }
    return top[1];
  }
  get size(): number {
    return this.h.length;
  }
}

export async function runCrowd(o: CrowdOptions): Promise<CrowdResult> {
  const base = new URL(o.baseUrl);
  const people: Person[] = Array.from({ length: o.arrivals }, (_, i) => ({ ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, done: false }));
  const timeline = new Timeline();
  people.forEach((_, i) => timeline.push(o.start + (i / o.arrivals) * o.spreadMs, i));
  const result: CrowdResult = { requests: 0, byStatus: new Map(), errors: 0, statusLatencyMs: [], joined: 0, admittedSeen: 0, booked: 0, bookLatencyMs: [], bookRefusals: new Map(), predictions: [] };
  const tokens = [...o.claimTokens];
  let inFlight = 0;
  const count = (status: number): void => {
    result.requests++;
    result.byStatus.set(status, (result.byStatus.get(status) ?? 0) + 1);
  };
  const later = (i: number, seconds: number): void => timeline.push(Date.now() + seconds * 1000 * (0.9 + Math.random() * 0.2), i);

  async function book(p: Person): Promise<void> {
    const claim = tokens.pop();
    if (!claim) return; // nobody left holding an invitation: this person leaves
    for (let attempt = 0; attempt < 4; attempt++) {
      const slot = o.slotIds[Math.floor(Math.random() * o.slotIds.length)]!;
      const body = JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'appt-id', valueString: `Appointment/slot.${slot}` }] });
      const started = performance.now();
      const r = await request(base, 'POST', '/fhir/Appointment/$book', { 'x-forwarded-for': p.ip, 'x-claim-token': claim, 'x-queue-token': p.token! }, body);
      result.bookLatencyMs.push(performance.now() - started);
      count(r.status);
      if (r.status === 200) {
        result.booked++;
        return;
      }
      const code = /"code":"([A-Z_]+)"/.exec(r.body.slice(r.body.indexOf('OperationOutcome')))?.[1] ?? String(r.status);
      result.bookRefusals.set(code, (result.bookRefusals.get(code) ?? 0) + 1);
      if (code !== 'SLOT_FULL') return;
    }
  }

  async function step(i: number): Promise<void> {
    const p = people[i]!;
    if (!p.token) {
      const r = await request(base, 'POST', `/waiting-room/join?event=${o.eventId}`, { 'x-forwarded-for': p.ip });
      count(r.status);
      if (r.status === 201 || r.status === 200) {
        const s = JSON.parse(r.body) as { token: string; pollAfterSeconds: number };
        p.token = s.token;
        result.joined++;
        return later(i, Math.max(1, s.pollAfterSeconds));
      }
      return later(i, 5); // shed (429): try again shortly, as the Retry-After says
    }
    const t0 = performance.now();
    const r = await request(base, 'GET', '/waiting-room/status', { 'x-forwarded-for': p.ip, 'x-queue-token': p.token });
    result.statusLatencyMs.push(performance.now() - t0);
    count(r.status);
    if (r.status !== 200) return later(i, 5);
    const s = JSON.parse(r.body) as { admitted: boolean; position: number | null; etaSeconds: number | null; pollAfterSeconds: number };
    const now = Date.now();
    if (s.position !== null && p.position === undefined) {
      p.position = s.position;
      if (!s.admitted && s.etaSeconds !== null) {
        p.predictedAt = now + s.etaSeconds * 1000;
        p.predictedEtaS = s.etaSeconds;
        result.predictions.push({ position: s.position, predictedAt: p.predictedAt, etaS: s.etaSeconds });
      }
    }
    if (!s.admitted) return later(i, Math.max(1, s.pollAfterSeconds));
    p.admittedSeenAt = now;
    result.admittedSeen++;
    p.done = true;
    await book(p);
  }

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = Date.now();
      while (inFlight < o.maxInFlight && timeline.size && timeline.peek()! <= now) {
        const i = timeline.pop();
        if (people[i]!.done || now > o.until) continue;
        inFlight++;
        step(i).catch(() => void result.errors++).finally(() => inFlight--);
      }
      if ((now > o.until || timeline.size === 0) && inFlight === 0) return resolve();
      setTimeout(tick, 2);
    };
    tick();
  });
  return result;
}
