-- GET the CICOPA state at a random year.
dofile(os.getenv("WRK_COMMON"))
request = function()
  return wrk.format("GET", "/api/organisations/cicopa/state?at=" .. math.random(1900, 2025))
end
