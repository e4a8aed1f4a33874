-- Cycles through request bodies, one JSON document per line of $BODIES, POSTing each to the URL
-- wrk was given, with $AUTH (if set) as the Authorization header.
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do
  bodies[#bodies + 1] = line
end
local headers = { ["Content-Type"] = "application/json" }
local auth = os.getenv("AUTH")
if auth and #auth > 0 then
  headers["Authorization"] = auth
end
local index = 0

request = function()
  index = index % #bodies + 1
  return wrk.format("POST", nil, headers, bodies[index])
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
