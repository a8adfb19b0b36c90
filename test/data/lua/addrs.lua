-- Looks up the target once, keeps the addresses that accept a connection and
-- gives each thread a random one. (As wrk's scripts/addr.lua.)

local addrs = nil

function setup(thread)
  if not addrs then
    addrs = wrk.lookup(wrk.host, wrk.port or "http")
    for i = #addrs, 1, -1 do
      if not wrk.connect(addrs[i]) then
        table.remove(addrs, i)
      end
    end
  end
  thread.addr = addrs[math.random(#addrs)]
end

function init(args)
  print(string.format("thread addr: %s", tostring(wrk.thread.addr)))
end
