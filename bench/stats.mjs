// Percentiles for the web benchmarks (same rule as bench/scanner_latency.py: nearest rank).
export function percentile(values, q) {
  const ordered = [...values].sort((a, b) => a - b);
  return ordered[Math.min(ordered.length - 1, Math.round(q * (ordered.length - 1)))];
}

export function summary(values) {
  const ms = (v) => `${v.toFixed(2)} ms`;
  return `n=${values.length} p50=${ms(percentile(values, 0.5))} p99=${ms(percentile(values, 0.99))} max=${ms(Math.max(...values))}`;
}

export function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}
