"""Suite "scripting" for tools/bench (issue 8): EVALSHA of cached Lua scripts.

`scenarios()` returns the Scenario objects; tools/bench registers them. One table, redis-benchmark
at -P 1 and -P 32:
- EVALSHA of a one-LPUSH script (`return redis.call('LPUSH', KEYS[1], ARGV[1])`).
- EVALSHA of a BullMQ-like job step: HSET of a job hash (4 fields), ZADD to a schedule zset,
  ZRANGEBYSCORE ... LIMIT 0 5 for due jobs, HGET, HINCRBY and ZREM of a due job. Job ids come from
  -r 10000, so the keys stay bounded however many requests run.
Both scripts are loaded with SCRIPT LOAD first; the run is checked afterwards (the list grew, the
job hashes and the schedule exist), since redis-benchmark would count error replies as answers.
A second table runs the same BullMQ-like step as a function: FUNCTION LOAD of a library
registering it, then FCALL at -P 1 and -P 32 (checked the same way).
"""

import hashlib

import benchlib as bl

LPUSH_SCRIPT = "return redis.call('LPUSH', KEYS[1], ARGV[1])"
BULLMQ_SCRIPT = """\
local jobKey = KEYS[1] .. ARGV[1]
redis.call('HSET', jobKey, 'name', 'email', 'data', ARGV[2], 'timestamp', ARGV[3],
           'attemptsMade', 0)
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], 0, ARGV[3], 'LIMIT', 0, 5)
local name = redis.call('HGET', jobKey, 'name')
redis.call('HINCRBY', jobKey, 'attemptsMade', 1)
if due[1] then redis.call('ZREM', KEYS[2], due[1]) end
return #due
"""
# No commas or quotes: redis-benchmark prints the command in its CSV output unescaped.
JOB_DATA = "to=user@example.com;subject=welcome;body=hello-there;attempts=3;backoff=1000"
PIPELINES = ((1, 100_000), (32, 1_000_000))
TABLE = "scripting: redis-benchmark EVALSHA"
NOTE = ("Scripts are loaded with SCRIPT LOAD before the run. BullMQ-like: HSET (4 fields), ZADD, "
        "ZRANGEBYSCORE LIMIT 0 5, HGET, HINCRBY, ZREM per call; job ids from -r 10000.")


# The BullMQ-like step as a FUNCTION library: the callback's parameters are named KEYS and ARGV
# so the body is the script's, unchanged.
BULLMQ_LIBRARY = ("#!lua name=benchq\nredis.register_function('bullmq_step', function(KEYS, ARGV)\n"
                  + BULLMQ_SCRIPT + "end)\n")
TABLE_FCALL = "scripting: redis-benchmark FCALL"
NOTE_FCALL = ("The library is loaded with FUNCTION LOAD before the run; the function is the "
              "BullMQ-like script above, called with FCALL.")


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def check_lpush(ctx, requests):
    with ctx.connect() as client:
        length = client.call("LLEN", "mylist")
    if not isinstance(length, int) or length < requests // 2:
        raise bl.ScenarioError(f"LLEN mylist is {length!r} after {requests} EVALSHA LPUSH")


def check_bullmq(ctx, requests):
    with ctx.connect() as client:
        reply = client.call("EVALSHA", sha1(BULLMQ_SCRIPT), "2", "bull:q:", "bull:q:delayed",
                            "1", JOB_DATA, "5")
        attempts = client.call("HGET", "bull:q:1", "attemptsMade")
    if not isinstance(reply, int) or attempts not in (b"1", "1"):
        raise bl.ScenarioError(f"BullMQ-like script replied {reply!r}, attemptsMade {attempts!r}")


def check_fcall(ctx, requests):
    with ctx.connect() as client:
        reply = client.call("FCALL", "bullmq_step", "2", "bull:f:", "bull:f:delayed", "1",
                            JOB_DATA, "5")
        attempts = client.call("HGET", "bull:f:1", "attemptsMade")
    if not isinstance(reply, int) or attempts not in (b"1", "1"):
        raise bl.ScenarioError(f"BullMQ-like function replied {reply!r}, attemptsMade {attempts!r}")


def scenarios():
    tests = (
        ("evalsha_lpush", "EVALSHA 1x LPUSH", LPUSH_SCRIPT,
         ("EVALSHA", sha1(LPUSH_SCRIPT), "1", "mylist", "__rand_int__"), check_lpush),
        ("evalsha_bullmq", "EVALSHA BullMQ-like (6 calls)", BULLMQ_SCRIPT,
         ("-r", "10000", "EVALSHA", sha1(BULLMQ_SCRIPT), "2", "bull:q:", "bull:q:delayed",
          "__rand_int__", JOB_DATA, "__rand_int__"), check_bullmq),
    )
    out = []
    for name, label, script, args, verify in tests:
        for pipeline, requests in PIPELINES:
            out.append(bl.BenchmarkScenario(
                name=f"{name}_p{pipeline}", suite="scripting", label=label,
                description=f"redis-benchmark EVALSHA ({label}) -P {pipeline}",
                pipeline=pipeline, args=args, requests=requests,
                setup=(("SCRIPT", "LOAD", script),), verify=verify, table=TABLE, note=NOTE))
    fcall_args = ("-r", "10000", "FCALL", "bullmq_step", "2", "bull:f:", "bull:f:delayed",
                  "__rand_int__", JOB_DATA, "__rand_int__")
    for pipeline, requests in PIPELINES:
        out.append(bl.BenchmarkScenario(
            name=f"fcall_bullmq_p{pipeline}", suite="scripting",
            label="FCALL BullMQ-like (6 calls)",
            description=f"redis-benchmark FCALL (BullMQ-like function) -P {pipeline}",
            pipeline=pipeline, args=fcall_args, requests=requests,
            setup=(("FUNCTION", "LOAD", "REPLACE", BULLMQ_LIBRARY),), verify=check_fcall,
            table=TABLE_FCALL, note=NOTE_FCALL))
    return out
