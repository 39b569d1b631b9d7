// What one load-generator process counts: completed round trips (or sessions)
// with their latency in the measured window (for the fan-out, the broadcasts
// received and each tick's time to its last client), and every kind of failure.

import { Histogram } from "./histogram.mjs";

const MAX_SAMPLES = 5;

export class Stats {
  constructor() {
    this.latency = new Histogram();
    this.delivered = 0;
    this.errors = {};
    this.samples = [];
    this.mismatches = 0;
    this.unexpectedCloses = 0;
  }

  /** Start the measured window: latency and counts restart, failures are kept. */
  resetWindow() {
    this.latency.reset();
    this.delivered = 0;
  }

  /** One completed round trip (or session) that took `ms` milliseconds. */
  record(ms) {
    this.latency.record(ms * 1000);
  }

  /** One broadcast event received by one client. */
  deliver() {
    this.delivered += 1;
  }

  sample(text) {
    if (this.samples.length < MAX_SAMPLES) this.samples.push(text);
  }

  /** `n` failures of one kind; `detail` is kept as a sample. */
  error(kind, detail, n = 1) {
    this.errors[kind] = (this.errors[kind] ?? 0) + n;
    this.sample(`${kind}: ${detail}`);
  }

  mismatch(client, expected, got) {
    this.mismatches += 1;
    this.sample(`client ${client} expected ${String(expected).slice(0, 30)} got ${String(got).slice(0, 30)}`);
  }

  unexpectedClose(client, code, reason) {
    this.unexpectedCloses += 1;
    this.sample(`client ${client} closed by the server: code ${code} ${reason}`);
  }

  failures() {
    return {
      errors: this.errors,
      mismatches: this.mismatches,
      unexpected_closes: this.unexpectedCloses,
      samples: this.samples,
    };
  }
}
