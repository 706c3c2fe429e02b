-- wrk script for tests/load/serve_wrk.sh: load on `roamguard serve`.
--
-- MODE=score     POST /v1/score, each request a distinct generated event (EVENTS, JSON Lines):
--                thread j of THREADS sends lines j+1, j+1+THREADS, ... so no two requests share
--                an event_id until the file is used up (then it starts over: replays, counted).
-- MODE=verdicts  GET /v1/verdicts/{event_id} of the first SCORED lines of EVENTS (all of them
--                scored by a previous MODE=score run, but the very first: see init), cycling.
-- RESULT=path    where done() writes key=value figures; every non-2xx answer counts as an error.

local mode = os.getenv("MODE") or "score"
local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local requests = {}
local next_request = 1
sent = 0
non2xx = 0
replays = 0

local function event_id(line)
  return line:match('"event_id"%s*:%s*"([^"]*)"')
end

local function url_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  local me = tonumber(id)
  local stride = tonumber(os.getenv("THREADS") or "1")
  local limit = tonumber(os.getenv("SCORED") or "0")
  local n = 0
  for line in io.lines(os.getenv("EVENTS")) do
    if mode == "verdicts" and n >= limit then break end
    -- wrk calls request() once on thread 0 before the run to check the script
    -- (script_verify_request): the first line is taken but never sent, so it is never read back.
    if n % stride == me and not (mode == "verdicts" and n == 0) then
      if mode == "score" then
        requests[#requests + 1] = wrk.format("POST", "/v1/score", { ["Content-Type"] = "application/json" }, line)
      else
        requests[#requests + 1] = wrk.format("GET", "/v1/verdicts/" .. url_encode(event_id(line)))
      end
    end
    n = n + 1
  end
  if #requests == 0 then error("no requests for thread " .. me) end
end

function request()
  local r = requests[next_request]
  next_request = next_request + 1
  if next_request > #requests then
    next_request = 1
  end
  sent = sent + 1
  if mode == "score" and sent > #requests then
    replays = replays + 1
  end
  return r
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local non2xx_total, replays_total, min_sent = 0, 0, nil
  for _, t in ipairs(threads) do
    non2xx_total = non2xx_total + t:get("non2xx")
    replays_total = replays_total + t:get("replays")
    local s = t:get("sent")
    if min_sent == nil or s < min_sent then min_sent = s end
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  local out = assert(io.open(os.getenv("RESULT"), "w"))
  out:write(string.format("mode=%s\n", mode))
  out:write(string.format("requests=%d\n", summary.requests))
  out:write(string.format("seconds=%.3f\n", seconds))
  out:write(string.format("rps=%.0f\n", summary.requests / seconds))
  out:write(string.format("p50_ms=%.3f\n", latency:percentile(50) / 1000))
  out:write(string.format("p90_ms=%.3f\n", latency:percentile(90) / 1000))
  out:write(string.format("p99_ms=%.3f\n", latency:percentile(99) / 1000))
  out:write(string.format("max_ms=%.3f\n", latency.max / 1000))
  out:write(string.format("non2xx=%d\n", non2xx_total))
  out:write(string.format("socket_errors=%d\n", e.connect + e.read + e.write + e.timeout))
  out:write(string.format("status_errors=%d\n", e.status))
  out:write(string.format("replays=%d\n", replays_total))
  -- Every thread's first (sent - connections) requests have been answered: with THREADS
  -- interleaved threads, the first SCORED lines of EVENTS are all scored.
  out:write(string.format("min_sent_per_thread=%d\n", min_sent or 0))
  out:close()
end
