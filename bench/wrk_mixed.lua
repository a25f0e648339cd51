-- 90% reads (states, event pages, timeline pages) and 10% appends; counts what it sees.
local token = os.getenv("TOKEN")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  acked, refused, reads_ok = 0, 0, 0
end

request = function()
  local roll = math.random()
  if roll < 0.10 then
    local body = '{"type": "milestone", "occurred_on": "' .. math.random(1900, 2025) .. '", "data": {"headline": "load"}}'
    return wrk.format("POST", "/api/organisations/load-" .. math.random(1, 8) .. "/events",
      {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
  elseif roll < 0.73 then
    return wrk.format("GET", "/api/organisations/cicopa/state?at=" .. math.random(1900, 2025))
  elseif roll < 0.91 then
    return wrk.format("GET", "/api/organisations/cicopa/events?limit=20&from=" .. math.random(1940, 2020))
  else
    return wrk.format("GET", "/organisations/cicopa/at/" .. math.random(1990, 2020))
  end
end

response = function(status, headers, body)
  if status == 201 then acked = acked + 1
  elseif status == 200 then reads_ok = reads_ok + 1
  else refused = refused + 1 end
end

done = function(summary, latency, requests)
  local total_acked, total_refused, total_reads = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_acked = total_acked + thread:get("acked")
    total_refused = total_refused + thread:get("refused")
    total_reads = total_reads + thread:get("reads_ok")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "acked": %d, "reads_ok": %d, "bad_status": %d, "socket_errors": %d, "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, total_acked, total_reads, total_refused,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
