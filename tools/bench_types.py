"""Suite "types" for tools/bench: hash, set and sorted-set commands, and their memory per entry.

`scenarios()` returns the Scenario objects; tools/bench registers them. Two tables:
- redis-benchmark HSET, SADD, ZADD (custom commands, -r 1000000 so __rand_int__ varies), ZPOPMIN
  on a prefilled zset (checked non-empty afterwards), and ZRANGEBYSCORE ... LIMIT 0 10 on a
  1,000,000-member zset (scores 0..999999), each at -P 1 and -P 32.
- Memory: VmRSS growth per entry for 1M fields in one hash, 1M non-integer members in one set,
  1M members in one zset.
"""

import functools

import benchlib as bl

RAND_RANGE = ("-r", "1000000")
PREFILL_PER_COMMAND = 1000      # members per ZADD while prefilling
PREFILL_COMMANDS_PER_WRITE = 20
POP_MARGIN = 1000               # members that must still be there after the pops
BIG_ZSET = b"bigz"
BIG_ZSET_SIZE = 1_000_000
POP_ZSET = b"popz"
TABLE = "types: redis-benchmark (hash, set, zset)"
NOTE = ("HSET/SADD/ZADD use -r 1000000 so fields/members spread over up to 1M distinct values; "
        "ZPOPMIN runs on a zset prefilled with more members than the run pops, checked non-empty "
        "afterwards; ZRANGEBYSCORE runs on a 1,000,000-member zset (scores 0..999999, member "
        "m<score>), prefilled by pipelined ZADD, and every reply carries 10 members.")


def zadd_members(key, first, count, prefix=b"m"):
    """One ZADD command: scores first..first+count-1, members prefix<score>."""
    args = [b"ZADD", key]
    for score in range(first, first + count):
        args += [b"%d" % score, prefix + b"%d" % score]
    return bl.encode_command(args)


def fill_zset(ctx, key, size):
    """DEL key, then ZADD size members in batches of PREFILL_PER_COMMAND; checks ZCARD."""
    commands = -(-size // PREFILL_PER_COMMAND)
    with ctx.connect() as client:
        client.call("DEL", key)
        for start in range(0, commands, PREFILL_COMMANDS_PER_WRITE):
            stop = min(start + PREFILL_COMMANDS_PER_WRITE, commands)
            client.send_raw(b"".join(
                zadd_members(key, c * PREFILL_PER_COMMAND,
                             min(PREFILL_PER_COMMAND, size - c * PREFILL_PER_COMMAND))
                for c in range(start, stop)))
            for _ in range(start, stop):
                reply = client.read_reply()
                if not isinstance(reply, int):
                    raise bl.ScenarioError(f"prefill ZADD replied {reply!r}")
        card = client.call("ZCARD", key)
    if card != size:
        raise bl.ScenarioError(f"ZCARD {key.decode()} is {card} after prefilling {size}")


def prefill_for_pops(ctx, requests, pipeline):
    """redis-benchmark rounds -n up to a multiple of -P per client, hence the clients * P slack."""
    fill_zset(ctx, POP_ZSET, requests + ctx.options.clients * pipeline + POP_MARGIN)


def check_pops_hit(ctx, requests):
    with ctx.connect() as client:
        if client.call("ZCARD", POP_ZSET) <= 0:
            raise bl.ScenarioError("the prefilled zset ran empty: some pops found no data")


def prefill_big(ctx, requests):
    """Always the full 1M members, even with --quick: the query starts at score 500000."""
    fill_zset(ctx, BIG_ZSET, BIG_ZSET_SIZE)


def check_range_reply(ctx, requests):
    """The benchmarked query must return 10 members (not an empty or error reply)."""
    with ctx.connect() as client:
        reply = client.call("ZRANGEBYSCORE", BIG_ZSET, "500000", "+inf", "LIMIT", "0", "10")
    if not isinstance(reply, list) or len(reply) != 10 or reply[0] != b"m500000":
        raise bl.ScenarioError(f"ZRANGEBYSCORE returned {reply!r}")


def check_card(key, minimum):
    def verify(ctx, requests):
        with ctx.connect() as client:
            kind = client.call("TYPE", key)
            counter = {"hash": "HLEN", "set": "SCARD", "zset": "ZCARD"}.get(kind, "EXISTS")
            card = client.call(counter, key)
        if card < minimum:
            raise bl.ScenarioError(f"{key} has {card} entries after the run")
    return verify


def benchmark_scenarios():
    # (name, label, args, setup, verify, ((pipeline, requests), ...))
    tests = (
        ("hset", "HSET", RAND_RANGE + ("HSET", "myhash", "field:__rand_int__", "value"),
         (), check_card("myhash", 1000), ((1, 100_000), (32, 2_000_000))),
        ("sadd", "SADD", RAND_RANGE + ("SADD", "myset", "member:__rand_int__"),
         (), check_card("myset", 1000), ((1, 100_000), (32, 2_000_000))),
        ("zadd", "ZADD", RAND_RANGE + ("ZADD", "myzset", "__rand_int__", "member:__rand_int__"),
         (), check_card("myzset", 1000), ((1, 100_000), (32, 2_000_000))),
        ("zpopmin", "ZPOPMIN", ("ZPOPMIN", POP_ZSET.decode()), "pop", check_pops_hit,
         ((1, 100_000), (32, 1_000_000))),
        ("zrangebyscore", "ZRANGEBYSCORE 1M LIMIT 0 10",
         ("ZRANGEBYSCORE", BIG_ZSET.decode(), "500000", "+inf", "LIMIT", "0", "10"),
         prefill_big, check_range_reply, ((1, 100_000), (32, 1_000_000))),
    )
    out = []
    for name, label, args, setup, verify, sizes in tests:
        for pipeline, requests in sizes:
            if setup == "pop":
                setup_fn = functools.partial(prefill_for_pops, pipeline=pipeline)
            else:
                setup_fn = setup
            out.append(bl.BenchmarkScenario(
                name=f"{name}_p{pipeline}", suite="types", label=label,
                description=f"redis-benchmark {' '.join(args)} -P {pipeline}",
                pipeline=pipeline, args=args, requests=requests, setup=setup_fn, verify=verify,
                table=TABLE, note=NOTE))
    return out


# ---------------------------------------------------------------------------------------------
# Memory per entry

MEMORY_BATCH = 1000  # commands per write, one entry per command
MEMORY_ENTRIES = 1_000_000
HSET_TEMPLATE = b"*4\r\n$4\r\nHSET\r\n$7\r\nbighash\r\n$16\r\nf%015d\r\n$8\r\nv%07d\r\n"
SADD_TEMPLATE = b"*3\r\n$4\r\nSADD\r\n$6\r\nbigset\r\n$16\r\nm%015d\r\n"
ZADD_TEMPLATE = b"*4\r\n$4\r\nZADD\r\n$4\r\nbigz\r\n$%d\r\n%d\r\n$16\r\nm%015d\r\n"
MEMORY_KINDS = {
    # kind: (label, command bytes for entry i, count command)
    "hash": ("1 hash x 1M fields (16-byte field, 8-byte value)",
             lambda i: HSET_TEMPLATE % (i, i % 10_000_000), ("HLEN", "bighash")),
    "set": ("1 set x 1M members (16 bytes, non-integer)",
            lambda i: SADD_TEMPLATE % i, ("SCARD", "bigset")),
    "zset": ("1 zset x 1M members (16 bytes, integer score)",
             lambda i: ZADD_TEMPLATE % (len(b"%d" % i), i, i), ("ZCARD", "bigz")),
}


def type_memory(ctx, kind):
    _, command, count_cmd = MEMORY_KINDS[kind]
    total = bl.scaled(MEMORY_ENTRIES, ctx.options.quick)
    with ctx.connect() as client:
        client.call("PING")
        rss_before, cpu_before = ctx.server.rss_bytes(), ctx.server.cpu_seconds()
        for start in range(0, total, MEMORY_BATCH):
            stop = min(start + MEMORY_BATCH, total)
            client.send_raw(b"".join(command(i) for i in range(start, stop)))
            for _ in range(start, stop):
                reply = client.read_reply()
                if reply != 1:
                    raise bl.ScenarioError(f"{kind} add replied {reply!r}")
        rss_after, cpu_after = ctx.server.rss_bytes(), ctx.server.cpu_seconds()
        if client.call(*count_cmd) != total:
            raise bl.ScenarioError(f"{' '.join(count_cmd)} is not {total}")
    return {"rss_per_elem": (rss_after - rss_before) / total,
            "cpu_us": (cpu_after - cpu_before) * 1e6 / total}


def memory_scenarios():
    table = "types: memory per field/member (VmRSS growth / entries)"
    note = (f"memory: one HSET/SADD/ZADD per entry, {MEMORY_BATCH} commands per write, every "
            "reply must be :1 (a new entry); CPU us/req = server CPU per command. "
            "--quick: 100,000.")
    return [bl.FunctionScenario(
        name=f"{kind}_memory_1m", suite="types", label=label,
        description=f"RSS growth per entry, {label}",
        pipeline=MEMORY_BATCH, metrics=("rss_per_elem", "cpu_us"), table=table, note=note,
        fn=functools.partial(type_memory, kind=kind))
        for kind, (label, _, _) in MEMORY_KINDS.items()]


def scenarios():
    return benchmark_scenarios() + memory_scenarios()
