-- Prints latency percentiles as CSV lines at the end of the run.
-- (As wrk's scripts/report.lua.)

done = function(summary, latency, requests)
  io.write("------------------------------\n")
  for _, p in ipairs({ 50, 90, 99, 99.999 }) do
    local n = latency:percentile(p)
    io.write(string.format("%g%%,%d\n", p, n))
  end
end
