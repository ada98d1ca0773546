-- wrk script of the webhook ingest benchmark (scripts/bench prepends `secret`, `company_id`, `project_id`,
-- `rfi_ids`, `webhook_path` and `run_tag`, five Crockford characters new for each run, so that a second run
-- against the same server sends new events, not redeliveries): every request is a Procore v2.0 RFI `update`
-- event with its own ulid and id,
-- sent as Procore sends it (POST, JSON, `Authorization: Bearer <secret>`). At the end it prints one line,
-- "BENCHJSON {...}", with the counts and the latency distribution (microseconds).

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads + 1)
  table.insert(threads, thread)
end

local counter = 0
local headers = {}

function init(args)
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. secret
  headers["User-Agent"] = "Procore-Webhooks/2.0"
end

local function timestamp()
  return os.date("!%Y-%m-%dT%H:%M:%S.000000Z")
end

function request()
  counter = counter + 1
  -- 26 Crockford characters, unique per (thread, request); the id is unique too.
  local ulid = string.format("01J%s%02d%016d", run_tag, thread_index, counter)
  local id = run_number * 100000000000 + thread_index * 1000000000 + counter
  local rfi = rfi_ids[(counter % #rfi_ids) + 1]
  local body = string.format(
    '{"id":%d,"ulid":"%s","timestamp":"%s","resource_name":"RFIs","event_type":"update",' ..
    '"resource_id":%d,"company_id":%d,"project_id":%d,"user_id":7001,"api_version":"v2.0",' ..
    '"metadata":{"source_user_id":7001,"source_project_id":%d,"source_operation_id":null,' ..
    '"source_company_id":%d,"source_application_id":null}}',
    id, ulid, timestamp(), rfi, company_id, project_id, project_id, company_id)
  return wrk.format("POST", webhook_path, headers, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
