-- wrk: print one machine-readable line when the run ends, for bench/api.py.
--
--   WRK_RESULT {"requests": N, "duration_us": N, ..., "p50_us": N, "p99_us": N}
--
-- Latencies are wrk's own per-request times in microseconds (no coordinated-omission
-- correction: wrk waits for each response before sending the next on a connection).
-- "non2xx" is wrk's errors.status: responses with a status of 400 or more.

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"non2xx": %d, "timeouts": %d, "mean_us": %.1f, "max_us": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
