-- wrk's script in the bench's ingress section: POST /v1/log_event with the gzip bodies
-- 1.gz .. N.gz of a folder in turn, and count the answers other than 202 Accepted.
-- Arguments: the folder, N, the API key, the client time header's value (ms).
local requests = {}
local counter = 0
not_accepted = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Content-Encoding"] = "gzip",
    ["STATSIG-API-KEY"] = args[3],
    ["STATSIG-CLIENT-TIME"] = args[4],
  }
  for i = 1, tonumber(args[2]) do
    local file = assert(io.open(args[1] .. "/" .. i .. ".gz", "rb"))
    requests[i] = wrk.format("POST", "/v1/log_event", headers, file:read("*a"))
    file:close()
  end
end

function request()
  counter = counter % #requests + 1
  return requests[counter]
end

function response(status, headers, body)
  if status ~= 202 then
    not_accepted = not_accepted + 1
  end
end

function done(summary, latency, requests)
  local refused = 0
  for _, thread in ipairs(threads) do
    refused = refused + thread:get("not_accepted")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "micros": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"not_accepted": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, refused, errors.connect + errors.read + errors.write + errors.timeout))
end
