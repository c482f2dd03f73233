"""Suite "lists" for tools/bench (issue 3): list commands, a BRPOP worker queue, list memory.

`scenarios()` returns the Scenario objects; tools/bench registers them. Three tables:
- redis-benchmark LPUSH, RPUSH, LPOP, RPOP at -P 1 and -P 32 (its key is "mylist", 3-byte values);
  the pops run on a list prefilled with more elements than the run can pop, checked afterwards.
- BRPOP workers: 50 connections looping `BRPOP queue 0`, one producer LPUSHing 64-byte jobs that
  carry their send time; jobs/s end to end and push-to-pop latency, all from one Python process.
- Memory: VmRSS growth per 16-byte element, one list of 1M elements and 1000 lists of 1000.
"""

import array
import contextlib
import functools
import select
import time

import benchlib as bl

# ---------------------------------------------------------------------------------------------
# redis-benchmark LPUSH / RPUSH / LPOP / RPOP

LIST_PIPELINES = ((1, 100_000), (32, 4_000_000))  # (pipeline, requests): 1-3 s on redis 7
BENCH_KEY = b"mylist"           # redis-benchmark 7.0's key for every list test (no -r, no cluster)
PREFILL_PER_COMMAND = 1000      # elements per RPUSH while prefilling
PREFILL_COMMANDS_PER_WRITE = 50
POP_MARGIN = 1000               # elements that must still be there after the pops


def prefill_for_pops(ctx, requests, pipeline):
    """RPUSH enough 3-byte elements under "mylist" that every pop of the run finds one.
    redis-benchmark rounds -n up to a multiple of -P per client, hence the clients * P slack."""
    count = requests + ctx.options.clients * pipeline + POP_MARGIN
    command = bl.encode_command([b"RPUSH", BENCH_KEY] + [b"xxx"] * PREFILL_PER_COMMAND)
    commands = -(-count // PREFILL_PER_COMMAND)
    with ctx.connect() as client:
        client.call("DEL", BENCH_KEY)
        for start in range(0, commands, PREFILL_COMMANDS_PER_WRITE):
            batch = min(PREFILL_COMMANDS_PER_WRITE, commands - start)
            client.send_raw(command * batch)
            for _ in range(batch):
                reply = client.read_reply()
                if not isinstance(reply, int):
                    raise bl.ScenarioError(f"prefill RPUSH replied {reply!r}")


def check_pops_hit(ctx, requests):
    with ctx.connect() as client:
        left = client.call("LLEN", BENCH_KEY)
    if left <= 0:
        raise bl.ScenarioError("the prefilled list ran empty: some pops found no data")


def check_pushes_landed(ctx, requests):
    with ctx.connect() as client:
        length = client.call("LLEN", BENCH_KEY)
    if length < requests:
        raise bl.ScenarioError(f"LLEN mylist is {length} after {requests} pushes")


def benchmark_scenarios():
    out = []
    for test in ("LPUSH", "RPUSH", "LPOP", "RPOP"):
        pop = test.endswith("POP")
        for pipeline, requests in LIST_PIPELINES:
            out.append(bl.BenchmarkScenario(
                name=f"{test.lower()}_p{pipeline}", suite="lists", label=test,
                description=f"redis-benchmark -t {test.lower()} -P {pipeline}"
                            + (" on a prefilled list" if pop else ""),
                pipeline=pipeline, args=("-t", test.lower()), requests=requests,
                setup=functools.partial(prefill_for_pops, pipeline=pipeline) if pop else (),
                verify=check_pops_hit if pop else check_pushes_landed,
                table="lists: redis-benchmark (key mylist, 3-byte values)",
                note="pops run on a list prefilled with more elements than the run pops; "
                     "afterwards the list must still be non-empty (every pop hit data)."))
    return out


# ---------------------------------------------------------------------------------------------
# BRPOP workers

BRPOP_JOBS = 200_000
BRPOP_WORKERS = 50
BRPOP_BATCH = 10        # LPUSH commands per producer write
BRPOP_WINDOW = 50       # at most this many jobs pushed but not yet popped
JOB_SIZE = 64
JOB_HEAD = b"%019d:%010d:"                 # send time (perf_counter_ns), job id: 31 bytes
JOB_PAD = b"j" * (JOB_SIZE - 31)
LPUSH_HEAD = b"*3\r\n$5\r\nLPUSH\r\n$5\r\nqueue\r\n$64\r\n"
BRPOP_COMMAND = bl.encode_command(("BRPOP", "queue", "0"))
REPLY_HEAD = b"*2\r\n$5\r\nqueue\r\n$64\r\n"
REPLY_LEN = len(REPLY_HEAD) + JOB_SIZE + 2
SENT_AT = slice(len(REPLY_HEAD), len(REPLY_HEAD) + 19)
JOB_ID = slice(len(REPLY_HEAD) + 20, len(REPLY_HEAD) + 30)
STALL_TIMEOUT_S = 10
BRPOP_NOTE = (
    f"BRPOP load: one Python process on the load-generator CPU, epoll over non-blocking sockets: "
    f"{BRPOP_WORKERS} worker connections each looping `BRPOP queue 0`, one producer connection "
    f"pipelining `LPUSH queue <{JOB_SIZE}-byte job>` {BRPOP_BATCH} per write with at most "
    f"{BRPOP_WINDOW} jobs pushed but not yet popped. Each job carries its send time "
    "(perf_counter_ns); latency = worker receive time - that time. jobs/s = jobs / (last pop - "
    "first push). CPU us/req = server CPU per job (push + pop). server CPU % and loadgen CPU % "
    "show which side is saturated: when the server is below ~90% and the load generator near "
    "100%, the Python client bounds jobs/s and latency, so compare CPU us/req instead.")


def brpop_workers(ctx):
    jobs = ctx.options.jobs or bl.scaled(BRPOP_JOBS, ctx.options.quick)
    with contextlib.ExitStack() as stack:
        producer = stack.enter_context(ctx.connect())
        workers = [stack.enter_context(ctx.connect()) for _ in range(BRPOP_WORKERS)]
        for worker in workers:
            worker.send_raw(BRPOP_COMMAND)
        wait_blocked(producer, BRPOP_WORKERS)
        return BrpopRun(ctx, producer, workers, jobs).run()


def wait_blocked(client, count):
    deadline = time.monotonic() + STALL_TIMEOUT_S
    while time.monotonic() < deadline:
        info = client.call("INFO", "clients").decode()
        if f"blocked_clients:{count}\r" in info:
            return
        time.sleep(0.01)
    raise bl.ScenarioError(f"{count} BRPOP workers did not all block within {STALL_TIMEOUT_S} s")


class BrpopRun:
    """The event loop: the producer keeps the window full, each worker re-sends BRPOP as soon as
    its job arrives. Every job must be popped exactly once."""

    def __init__(self, ctx, producer, workers, jobs):
        self.ctx, self.producer, self.jobs = ctx, producer, jobs
        self.workers = {w.sock.fileno(): w.sock for w in workers}
        self.pending = {fd: b"" for fd in self.workers}
        self.latencies = array.array("q")
        self.seen = bytearray(jobs)
        self.sent = self.acked = 0

    def run(self):
        for sock in self.workers.values():
            sock.setblocking(False)
        poller = select.epoll()
        try:
            for fd in self.workers:
                poller.register(fd, select.EPOLLIN)
            poller.register(self.producer.sock.fileno(), select.EPOLLIN)
            return self.loop(poller)
        finally:
            poller.close()

    def loop(self, poller):
        """Hot path, written with locals: at ~150k jobs/s the Python side is about as busy as
        the server, so every attribute lookup shows in the result."""
        producer_fd, workers, pending = self.producer.sock.fileno(), self.workers, self.pending
        seen, latencies, jobs, now_ns = self.seen, self.latencies.append, self.jobs, \
            time.perf_counter_ns
        received = 0
        cpu_before, client_before = self.ctx.server.cpu_seconds(), time.process_time()
        first_push = last_pop = now_ns()
        while received < jobs or self.acked < jobs:
            room = BRPOP_WINDOW - (self.sent - received)
            if self.sent < jobs and room >= min(BRPOP_BATCH, jobs - self.sent):
                self.push(min(BRPOP_BATCH, jobs - self.sent))
            events = poller.poll(STALL_TIMEOUT_S)
            if not events:
                raise bl.ScenarioError(f"stalled: {received}/{jobs} jobs popped, "
                                       f"{self.acked} pushes acknowledged")
            for fd, _ in events:
                if fd == producer_fd:
                    self.read_acks()
                    continue
                sock = workers[fd]
                data = sock.recv(4096)
                now = now_ns()
                if pending[fd] or len(data) != REPLY_LEN:
                    data = pending[fd] = self.join_partial(pending[fd], data)
                    if len(data) < REPLY_LEN:
                        continue
                if len(data) != REPLY_LEN or not data.startswith(REPLY_HEAD):
                    raise bl.ScenarioError(f"unexpected BRPOP reply {data[:80]!r}")
                pending[fd] = b""
                sock.send(BRPOP_COMMAND)  # 27 bytes into an empty socket buffer: all of it
                job = int(data[JOB_ID])
                if seen[job]:
                    raise bl.ScenarioError(f"job {job} popped twice")
                seen[job] = 1
                latencies(now - int(data[SENT_AT]))
                received += 1
                last_pop = now
        wall_s = (last_pop - first_push) / 1e9
        cpu = self.ctx.server.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_before
        if seen.count(1) != jobs:
            raise bl.ScenarioError(f"{jobs - seen.count(1)} jobs never popped")
        lat = sorted(self.latencies)
        return {"jobs_s": jobs / wall_s, "cpu_us": cpu * 1e6 / jobs,
                "p50_ms": percentile(lat, 0.50) / 1e6, "p99_ms": percentile(lat, 0.99) / 1e6,
                "server_busy": 100 * cpu / wall_s, "client_busy": 100 * client_cpu / wall_s}

    def push(self, count):
        now = time.perf_counter_ns()
        self.producer.send_raw(b"".join(
            LPUSH_HEAD + JOB_HEAD % (now, job) + JOB_PAD + b"\r\n"
            for job in range(self.sent, self.sent + count)))
        self.sent += count

    def read_acks(self):
        data = self.producer.sock.recv(1 << 16)
        if not data:
            raise bl.ScenarioError("server closed the producer connection")
        if b"-" in data:  # LPUSH replies :N with N >= 1; a '-' can only start an error
            raise bl.ScenarioError(f"LPUSH replied {data[:80]!r}")
        self.acked += data.count(b"\n")

    @staticmethod
    def join_partial(pending, data):
        """Slow path: a reply split across reads. Returns what the worker has so far."""
        if not data:
            raise bl.ScenarioError("server closed a worker connection")
        data = pending + data
        if not REPLY_HEAD.startswith(data[:len(REPLY_HEAD)]):
            raise bl.ScenarioError(f"unexpected BRPOP reply {data[:80]!r}")
        return data


def percentile(sorted_values, fraction):
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


# ---------------------------------------------------------------------------------------------
# Memory per element

MEMORY_BATCH = 1000  # RPUSH commands per write
RPUSH_TEMPLATE = b"*3\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n$16\r\ne%015d\r\n"  # 16 bytes, not a number


def list_memory(ctx, lists, per_list):
    """RPUSH per_list elements into each of `lists` lists (list by list, one element per
    command, MEMORY_BATCH commands per write); VmRSS growth and server CPU per element."""
    total = lists * per_list
    keys = [b"list:%d" % n for n in range(lists)]
    with ctx.connect() as client:
        client.call("PING")
        rss_before, cpu_before = ctx.server.rss_bytes(), ctx.server.cpu_seconds()
        for start in range(0, total, MEMORY_BATCH):
            stop = min(start + MEMORY_BATCH, total)
            client.send_raw(b"".join(
                RPUSH_TEMPLATE % (len(keys[i // per_list]), keys[i // per_list], i)
                for i in range(start, stop)))
            for _ in range(start, stop):
                reply = client.read_reply()
                if not isinstance(reply, int):
                    raise bl.ScenarioError(f"RPUSH replied {reply!r}")
        rss_after, cpu_after = ctx.server.rss_bytes(), ctx.server.cpu_seconds()
        for key in (keys[0], keys[-1]):
            if client.call("LLEN", key) != per_list:
                raise bl.ScenarioError(f"LLEN {key.decode()} is not {per_list}")
    return {"rss_per_elem": (rss_after - rss_before) / total,
            "cpu_us": (cpu_after - cpu_before) * 1e6 / total}


def memory_scenarios():
    table = "lists: memory per 16-byte element ('e%015d', VmRSS growth / elements)"
    note = (f"memory: one RPUSH per element, {MEMORY_BATCH} commands per write, lists filled one "
            "after the other; CPU us/req = server CPU per RPUSH.")
    one = bl.FunctionScenario(
        name="list_memory_1x1m", suite="lists", label="1 list x 1,000,000",
        description="RSS growth per element, 1,000,000 x 16 bytes in one list (--quick: 100,000)",
        pipeline=MEMORY_BATCH, metrics=("rss_per_elem", "cpu_us"), table=table, note=note,
        fn=lambda ctx: list_memory(ctx, 1, bl.scaled(1_000_000, ctx.options.quick)))
    many = bl.FunctionScenario(
        name="list_memory_1000x1000", suite="lists", label="1000 lists x 1000",
        description="RSS growth per element, 1000 lists x 1000 x 16 bytes (--quick: 100 lists)",
        pipeline=MEMORY_BATCH, metrics=("rss_per_elem", "cpu_us"), table=table, note=note,
        fn=lambda ctx: list_memory(ctx, bl.scaled(1000, ctx.options.quick), 1000))
    return [one, many]


def scenarios():
    brpop = bl.FunctionScenario(
        name="brpop_workers", suite="lists", label=f"BRPOP x{BRPOP_WORKERS} workers",
        description=f"{BRPOP_WORKERS} BRPOP workers, 1 LPUSH producer, {JOB_SIZE}-byte jobs "
                    f"(--jobs, default {BRPOP_JOBS:,}): jobs/s and push-to-pop latency",
        pipeline=BRPOP_BATCH, metrics=("jobs_s", "cpu_us", "p50_ms", "p99_ms", "server_busy",
                                               "client_busy"),
        table="lists: BRPOP worker queue (push-to-pop)", note=BRPOP_NOTE, fn=brpop_workers)
    return benchmark_scenarios() + [brpop] + memory_scenarios()
