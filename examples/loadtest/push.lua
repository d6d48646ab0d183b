-- wrk script: single-row pushes to the demo's push source, each for its own driver id, so
-- every request writes a new entity.
local counter = 0
local thread_id = 0
function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end
request = function()
  counter = counter + 1
  local id = 100000000 + thread_id * 10000000 + counter
  local body = string.format(
    '{"push_source_name":"driver_stats_push_source","df":{"driver_id":[%d],"event_timestamp":["2026-11-24 10:00:00"],"created":["2026-11-24 10:00:00"],"conv_rate":[0.5],"acc_rate":[0.5],"avg_daily_trips":[7],"driver_metadata":[{"vehicle_type":"suv"}],"driver_config":["{}"],"driver_profile":[{"name":"n","age":"30"}]},"to":"online"}',
    id)
  return wrk.format("POST", "/push", {["Content-Type"] = "application/json"}, body)
end

-- Show the first failed answer, if any: a load test that measures errors measures nothing.
local shown = false
response = function(status, headers, body)
  if status ~= 200 and not shown then
    shown = true
    io.stderr:write(string.format("push answered %d: %s\n", status, body))
  end
end
