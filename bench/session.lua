-- wrk script: send the gateway session cookie, print one parsable summary line.
local cookie = os.getenv("BENCH_COOKIE")
if cookie and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end
wrk.headers["Accept"] = "application/json"
-- More headers, one "Name: value" a line (what an edge sends to a forward-auth path).
local extra = os.getenv("BENCH_HEADERS")
if extra then
  for name, value in extra:gmatch("([^:\n]+):%s*([^\n]*)") do
    wrk.headers[name] = value
  end
end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1000000
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %.2f %.3f %.3f %d %d\n",
    summary.requests / seconds,
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.requests, bad))
end
