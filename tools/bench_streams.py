"""Suite "streams" for tools/bench (issue 6): stream commands and memory per entry.

`scenarios()` returns the Scenario objects; tools/bench registers them. Two tables:
- redis-benchmark XADD s * f <16 bytes> at -P 1 and -P 32; XRANGE ... COUNT 10 and XREAD COUNT 10
  from the middle of a 1,000,000-entry stream, at -P 1 and -P 32.
- Memory: VmRSS growth per entry for 1,000,000 `XADD s * f <16 bytes>` in one stream.
- The consumer-group worker loop (XREADGROUP + XACK): tools/bench_stream_groups.py.
"""

import functools

import benchlib as bl
import bench_stream_groups

VALUE16 = "0123456789abcdef"
TABLE = "streams: redis-benchmark"
BIG_STREAM = b"bigstream"
BIG_SIZE = 1_000_000
PREFILL_BATCH = 1000
MIDDLE = "500000-0"
NOTE = ("XADD appends to one stream with automatic ids (`*`), checked by XLEN afterwards; XRANGE "
        f"and XREAD read 10 entries after id {MIDDLE} of a 1,000,000-entry stream (ids i-0, one "
        "16-byte field), prefilled by pipelined XADD; every reply is checked to hold 10 entries.")
XADD_TEMPLATE = b"*5\r\n$4\r\nXADD\r\n$9\r\nbigstream\r\n$%d\r\n%d-0\r\n$1\r\nf\r\n$16\r\nv%015d\r\n"


def check_len(minimum):
    def verify(ctx, requests):
        with ctx.connect() as client:
            length = client.call("XLEN", "mystream")
        if length < minimum(requests):
            raise bl.ScenarioError(f"XLEN mystream is {length} after {requests} XADDs")
    return verify


def prefill_big(ctx, requests):
    """The full 1M entries even with --quick: the reads start in the middle."""
    with ctx.connect() as client:
        client.call("DEL", BIG_STREAM)
        for start in range(1, BIG_SIZE + 1, PREFILL_BATCH):
            stop = min(start + PREFILL_BATCH, BIG_SIZE + 1)
            client.send_raw(b"".join(XADD_TEMPLATE % (len(b"%d" % i) + 2, i, i)
                                     for i in range(start, stop)))
            for _ in range(start, stop):
                reply = client.read_reply()
                if not isinstance(reply, bytes):
                    raise bl.ScenarioError(f"prefill XADD replied {reply!r}")
        if client.call("XLEN", BIG_STREAM) != BIG_SIZE:
            raise bl.ScenarioError("the prefilled stream is short")


def check_read(command):
    def verify(ctx, requests):
        with ctx.connect() as client:
            reply = client.call(*command)
        entries = reply[0][1] if command[0] == "XREAD" else reply
        if not isinstance(entries, list) or len(entries) != 10:
            raise bl.ScenarioError(f"{command[0]} returned {reply!r}")
    return verify


def benchmark_scenarios():
    xrange = ("XRANGE", BIG_STREAM.decode(), MIDDLE, "+", "COUNT", "10")
    xread = ("XREAD", "COUNT", "10", "STREAMS", BIG_STREAM.decode(), MIDDLE)
    # (name, label, args, setup, verify, ((pipeline, requests), ...))
    tests = (
        ("xadd", "XADD * (16-byte field)", ("XADD", "mystream", "*", "f", VALUE16), (),
         check_len(lambda n: n), ((1, 100_000), (32, 2_000_000))),
        ("xrange", "XRANGE 1M COUNT 10", xrange, prefill_big, check_read(xrange),
         ((1, 100_000), (32, 500_000))),
        ("xread", "XREAD COUNT 10 (1M)", xread, prefill_big, check_read(xread),
         ((1, 100_000), (32, 500_000))),
    )
    out = []
    for name, label, args, setup, verify, sizes in tests:
        for pipeline, requests in sizes:
            out.append(bl.BenchmarkScenario(
                name=f"{name}_p{pipeline}", suite="streams", label=label,
                description=f"redis-benchmark {' '.join(args)} -P {pipeline}",
                pipeline=pipeline, args=args, requests=requests, setup=setup, verify=verify,
                table=TABLE, note=NOTE))
    return out


# ---------------------------------------------------------------------------------------------
# Memory per entry

MEMORY_BATCH = 1000
MEMORY_ENTRIES = 1_000_000
AUTO_TEMPLATE = b"*5\r\n$4\r\nXADD\r\n$7\r\nmemtest\r\n$1\r\n*\r\n$1\r\nf\r\n$16\r\nv%015d\r\n"


def stream_memory(ctx):
    total = bl.scaled(MEMORY_ENTRIES, ctx.options.quick)
    with ctx.connect() as client:
        client.call("PING")
        rss_before, cpu_before = ctx.server.rss_bytes(), ctx.server.cpu_seconds()
        for start in range(0, total, MEMORY_BATCH):
            stop = min(start + MEMORY_BATCH, total)
            client.send_raw(b"".join(AUTO_TEMPLATE % i for i in range(start, stop)))
            for _ in range(start, stop):
                reply = client.read_reply()
                if not isinstance(reply, bytes):
                    raise bl.ScenarioError(f"XADD replied {reply!r}")
        rss_after, cpu_after = ctx.server.rss_bytes(), ctx.server.cpu_seconds()
        if client.call("XLEN", "memtest") != total:
            raise bl.ScenarioError(f"XLEN memtest is not {total}")
    return {"rss_per_elem": (rss_after - rss_before) / total,
            "cpu_us": (cpu_after - cpu_before) * 1e6 / total}


def memory_scenarios():
    note = (f"memory: `XADD memtest * f <16 bytes>`, {MEMORY_BATCH} commands per write, every "
            "reply must be an id; RSS bytes/elem = VmRSS growth / entries; CPU us/req = server "
            "CPU per command. --quick: 100,000.")
    return [bl.FunctionScenario(
        name="stream_memory_1m", suite="streams", label="1 stream x 1M entries (f, 16 bytes)",
        description="RSS growth per entry, XADD * f <16 bytes> x 1M",
        pipeline=MEMORY_BATCH, metrics=("rss_per_elem", "cpu_us"),
        table="streams: memory per entry (VmRSS growth / entries)", note=note,
        fn=functools.partial(stream_memory))]


def scenarios():
    return benchmark_scenarios() + memory_scenarios() + bench_stream_groups.scenarios()
