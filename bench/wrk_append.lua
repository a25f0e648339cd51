-- POST a milestone to one organisation (ORG set) or to one of eight at random.
dofile(os.getenv("WRK_COMMON"))
local token = os.getenv("TOKEN")
local org = os.getenv("ORG")
request = function()
  local target = (org ~= nil and org ~= "") and org or ("bench-writer-" .. math.random(1, 8))
  local body = '{"type": "milestone", "occurred_on": "' .. math.random(1900, 2025) .. '", "data": {"headline": "wrk"}}'
  return wrk.format("POST", "/api/organisations/" .. target .. "/events",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
