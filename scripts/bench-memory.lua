-- wrk script for scripts/bench-memory.sh: every key of the file once, spread over wrk's threads;
-- a thread stops after the answer to its last key.
-- usage: wrk -tT ... -s bench-memory.lua <url> -- <keys file> <T>
local next_index = 0

function setup(thread)
  thread:set("index", next_index)
  next_index = next_index + 1
end

function init(args)
  local threads, line_no = tonumber(args[2]), 0
  keys, count, sent, answered = {}, 0, 0, 0
  for line in io.lines(args[1]) do
    if line_no % threads == index then
      count = count + 1
      keys[count] = wrk.format(nil, nil, { ["X-API-Key"] = line })
    end
    line_no = line_no + 1
  end
end

function request()
  sent = sent + 1
  return keys[math.min(sent, count)]
end

function response()
  answered = answered + 1
  if answered == count then
    wrk.thread:stop()
  end
end
