// A log-bucketed latency histogram: 1 % wide buckets from 1 microsecond up,
// so that several load-generator processes can be merged exactly by the runner
// (bucket i holds values v with BASE^(i-1) <= v < BASE^i microseconds; bucket 0
// holds values below 1 microsecond).

export const BASE = 1.01;
const LOG_BASE = Math.log(BASE);

export class Histogram {
  constructor() {
    this.reset();
  }

  reset() {
    this.buckets = new Map();
    this.count = 0;
    this.sumUs = 0;
    this.minUs = Infinity;
    this.maxUs = 0;
  }

  /** Record one value in microseconds. */
  record(us) {
    const index = us < 1 ? 0 : Math.floor(Math.log(us) / LOG_BASE) + 1;
    this.buckets.set(index, (this.buckets.get(index) ?? 0) + 1);
    this.count += 1;
    this.sumUs += us;
    if (us < this.minUs) this.minUs = us;
    if (us > this.maxUs) this.maxUs = us;
  }

  /** The upper edge of the bucket holding quantile q (0..1), in milliseconds. */
  quantileMs(q) {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (const index of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(index);
      if (seen >= rank) return Math.min(BASE ** index, this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  toJSON() {
    return {
      base: BASE,
      buckets: Object.fromEntries(this.buckets),
      count: this.count,
      sum_us: this.sumUs,
      min_us: this.count ? this.minUs : null,
      max_us: this.count ? this.maxUs : null,
      p50_ms: this.quantileMs(0.5),
      p99_ms: this.quantileMs(0.99),
    };
  }
}
