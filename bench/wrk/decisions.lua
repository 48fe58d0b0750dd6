-- wrk: POST /v1/decisions for a random existing subject per request, for bench/api.py.
--
--   wrk ... -s bench/wrk/decisions.lua URL -- FIRST_ID LAST_ID TOKEN MEASURE PURPOSE
--
-- Each request asks about a subject drawn uniformly from FIRST_ID..LAST_ID, so the
-- server reads a different file every time (no single hot row).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

local first, last, measure, purpose
local headers = {}

function init(args)
  first, last = tonumber(args[1]), tonumber(args[2])
  headers["Authorization"] = "Bearer " .. args[3]
  headers["Content-Type"] = "application/json"
  measure, purpose = args[4], args[5]
  -- A different sequence per thread and per run.
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
end

function request()
  local body = string.format(
    '{"subject": %d, "measure": "%s", "purpose": "%s"}',
    math.random(first, last), measure, purpose)
  return wrk.format("POST", nil, headers, body)
end
