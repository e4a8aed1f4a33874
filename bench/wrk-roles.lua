-- Creates a role with a name of its own on every request (POST /v1/roles), with $AUTH as the
-- Authorization header. Run with one wrk thread, so that one counter numbers every connection's
-- requests. Prints the same RESULT line as wrk-bodies.lua, counting non-2xx answers as errors.
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = os.getenv("AUTH") }
local prefix = os.getenv("PREFIX") or "role"
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("POST", "/v1/roles", headers,
    string.format('{"name": "%s-%d"}', prefix, counter))
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
