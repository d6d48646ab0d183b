-- wrk script: POST the body in $BODY to the target URL as JSON, with `Authorization: Bearer
-- $TOKEN` when TOKEN is set (examples/loadtest/secure.sh).
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
