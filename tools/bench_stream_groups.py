"""Consumer-group worker loop for tools/bench suite "streams" (issue 6, part 2).

`scenarios()` returns the Scenario objects; tools/bench_streams.py adds them to its suite. One
table: a producer XADDs N jobs into one stream while 10 workers of one consumer group loop
`XREADGROUP GROUP g wI COUNT 10 BLOCK 100 STREAMS jobs >` and acknowledge what they got with one
`XACK` (sent together with their next XREADGROUP). Reported: jobs/s end to end (first XADD to
last delivery), push-to-delivery latency, server CPU per job; every job must be delivered exactly
once and the group's PEL must be empty at the end.
"""

import array
import contextlib
import select
import time

import benchlib as bl

GROUP_JOBS = 200_000
GROUP_WORKERS = 10
GROUP_COUNT = 10
GROUP_BLOCK_MS = 100
PRODUCER_BATCH = 10     # XADD commands per producer write
PRODUCER_WINDOW = 200   # at most this many jobs added but not yet delivered
JOB_SIZE = 64
JOB_HEAD = b"%019d:%010d:"  # send time (perf_counter_ns), job id: 31 bytes
JOB_PAD = b"j" * (JOB_SIZE - 31)
XADD_HEAD = b"*5\r\n$4\r\nXADD\r\n$4\r\njobs\r\n$1\r\n*\r\n$1\r\nf\r\n$64\r\n"
STALL_TIMEOUT_S = 10
NOTE = (
    f"consumer-group load: one Python process on the load-generator CPU, epoll over non-blocking "
    f"sockets: {GROUP_WORKERS} worker connections of group g each looping `XREADGROUP GROUP g wI "
    f"COUNT {GROUP_COUNT} BLOCK {GROUP_BLOCK_MS} STREAMS jobs >` and, for what it got, one `XACK "
    f"jobs g id...` sent with its next XREADGROUP; one producer pipelining `XADD jobs * f "
    f"<{JOB_SIZE}-byte job>` {PRODUCER_BATCH} per write with at most {PRODUCER_WINDOW} jobs added "
    "but not yet delivered. jobs/s = jobs / (last delivery - first XADD); latency = delivery time "
    "- send time carried in the job. CPU us/req = server CPU per job (XADD + its share of "
    "XREADGROUP and XACK). Checked: every job delivered once, XPENDING empty afterwards. When "
    "loadgen CPU % is near 100 the Python client bounds jobs/s: compare CPU us/req.")


class Incomplete(Exception):
    """The buffer does not hold a whole reply yet."""


def parse(buf, pos):
    """One RESP2 reply from buf at pos: (value, next pos). Bulks are bytes, null arrays None."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    kind, rest = buf[pos:pos + 1], buf[pos + 1:end]
    pos = end + 2
    if kind == b":":
        return int(rest), pos
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None, pos
        if len(buf) < pos + size + 2:
            raise Incomplete
        return buf[pos:pos + size], pos + size + 2
    if kind == b"*":
        count = int(rest)
        if count < 0:
            return None, pos
        items = []
        for _ in range(count):
            item, pos = parse(buf, pos)
            items.append(item)
        return items, pos
    raise bl.ScenarioError(f"unexpected reply {bytes(buf[pos - 2 - len(rest) - 1:end])[:80]!r}")


def read_command(worker):
    return bl.encode_command(("XREADGROUP", "GROUP", "g", f"w{worker}", "COUNT", GROUP_COUNT,
                              "BLOCK", GROUP_BLOCK_MS, "STREAMS", "jobs", ">"))


def group_workers(ctx):
    jobs = ctx.options.jobs or bl.scaled(GROUP_JOBS, ctx.options.quick)
    with contextlib.ExitStack() as stack:
        producer = stack.enter_context(ctx.connect())
        producer.call("DEL", "jobs")
        producer.call("XGROUP", "CREATE", "jobs", "g", "$", "MKSTREAM")
        workers = [stack.enter_context(ctx.connect()) for _ in range(GROUP_WORKERS)]
        result = GroupRun(ctx, producer, workers, jobs).run()
        for sock in (w.sock for w in workers):
            sock.setblocking(True)
        summary = producer.call("XPENDING", "jobs", "g")
        if summary[0] != 0:
            raise bl.ScenarioError(f"{summary[0]} jobs still pending after the run")
        if producer.call("XLEN", "jobs") != jobs:
            raise bl.ScenarioError("XLEN jobs is not the number of jobs added")
        return result


class GroupRun:
    """The event loop. Each worker always has exactly one XREADGROUP outstanding (plus the XACK
    replies it has not read yet); the producer keeps the window of undelivered jobs full."""

    def __init__(self, ctx, producer, workers, jobs):
        self.ctx, self.producer, self.jobs = ctx, producer, jobs
        self.socks = {w.sock.fileno(): w.sock for w in workers}
        self.reads = {w.sock.fileno(): read_command(i) for i, w in enumerate(workers)}
        self.bufs = {fd: b"" for fd in self.socks}
        self.expect = {fd: [] for fd in self.socks}  # "read" / ack count, oldest first
        self.latencies = array.array("q")
        self.seen = bytearray(jobs)
        self.sent = self.added = self.received = self.acked = 0
        self.producer_buf, self.id_next = b"", False

    def run(self):
        poller = select.epoll()
        try:
            for fd, sock in self.socks.items():
                sock.setblocking(False)
                sock.send(self.reads[fd])
                self.expect[fd].append("read")
                poller.register(fd, select.EPOLLIN)
            poller.register(self.producer.sock.fileno(), select.EPOLLIN)
            return self.loop(poller)
        finally:
            poller.close()

    def loop(self, poller):
        producer_fd = self.producer.sock.fileno()
        jobs, now_ns = self.jobs, time.perf_counter_ns
        cpu_before, client_before = self.ctx.server.cpu_seconds(), time.process_time()
        first_push = last_delivery = now_ns()
        while self.received < jobs or self.acked < jobs or self.added < jobs:
            room = PRODUCER_WINDOW - (self.sent - self.received)
            if self.sent < jobs and room >= min(PRODUCER_BATCH, jobs - self.sent):
                self.push(min(PRODUCER_BATCH, jobs - self.sent))
            events = poller.poll(STALL_TIMEOUT_S)
            if not events:
                raise bl.ScenarioError(f"stalled: {self.received}/{jobs} delivered, "
                                       f"{self.acked} acknowledged, {self.added} added")
            for fd, _ in events:
                if fd == producer_fd:
                    self.read_added()
                elif self.read_worker(fd, now_ns()):
                    last_delivery = now_ns()
        wall_s = (last_delivery - first_push) / 1e9
        cpu = self.ctx.server.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_before
        if self.seen.count(1) != jobs:
            raise bl.ScenarioError(f"{jobs - self.seen.count(1)} jobs never delivered")
        lat = sorted(self.latencies)
        return {"jobs_s": jobs / wall_s, "cpu_us": cpu * 1e6 / jobs,
                "p50_ms": percentile(lat, 0.50) / 1e6, "p99_ms": percentile(lat, 0.99) / 1e6,
                "server_busy": 100 * cpu / wall_s, "client_busy": 100 * client_cpu / wall_s}

    def push(self, count):
        now = time.perf_counter_ns()
        self.producer.send_raw(b"".join(
            XADD_HEAD + JOB_HEAD % (now, job) + JOB_PAD + b"\r\n"
            for job in range(self.sent, self.sent + count)))
        self.sent += count

    def read_added(self):
        data = self.producer.sock.recv(1 << 16)
        if not data:
            raise bl.ScenarioError("server closed the producer connection")
        buf, pos = self.producer_buf + data, 0
        while (end := buf.find(b"\r\n", pos)) >= 0:  # "$N" lines and ids alternate
            line = buf[pos:end]
            if self.id_next:
                self.added += 1
            elif not line.startswith(b"$"):
                raise bl.ScenarioError(f"XADD replied {line[:80]!r}")
            self.id_next = not self.id_next
            pos = end + 2
        self.producer_buf = buf[pos:]

    def read_worker(self, fd, now):
        """Handles every complete reply on a worker. True when it delivered jobs."""
        data = self.socks[fd].recv(1 << 16)
        if not data:
            raise bl.ScenarioError("server closed a worker connection")
        buf, pos, delivered = self.bufs[fd] + data, 0, False
        expect = self.expect[fd]
        while pos < len(buf):
            try:
                reply, pos_next = parse(buf, pos)
            except Incomplete:
                break
            pos = pos_next
            want = expect.pop(0)
            if want == "read":
                delivered |= self.on_read(fd, reply, now)
            elif reply != want:
                raise bl.ScenarioError(f"XACK replied {reply!r}, expected {want}")
            else:
                self.acked += want
        self.bufs[fd] = buf[pos:]
        return delivered

    def on_read(self, fd, reply, now):
        if reply is None:  # BLOCK timed out: ask again
            self.socks[fd].send(self.reads[fd])
            self.expect[fd].append("read")
            return False
        if not isinstance(reply, list) or len(reply) != 1 or reply[0][0] != b"jobs":
            raise bl.ScenarioError(f"unexpected XREADGROUP reply {reply!r}"[:120])
        ids = []
        for entry_id, fields in reply[0][1]:
            job = int(fields[1][20:30])
            if self.seen[job]:
                raise bl.ScenarioError(f"job {job} delivered twice")
            self.seen[job] = 1
            self.latencies.append(now - int(fields[1][:19]))
            ids.append(entry_id)
        self.received += len(ids)
        self.socks[fd].send(bl.encode_command([b"XACK", b"jobs", b"g"] + ids) + self.reads[fd])
        self.expect[fd] += [len(ids), "read"]
        return True


def percentile(sorted_values, fraction):
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def scenarios():
    return [bl.FunctionScenario(
        name="xreadgroup_workers", suite="streams",
        label=f"{GROUP_WORKERS} workers XREADGROUP COUNT {GROUP_COUNT} BLOCK {GROUP_BLOCK_MS} + "
              "XACK",
        description=f"{GROUP_WORKERS} consumer-group workers (XREADGROUP + XACK), 1 XADD producer",
        pipeline=PRODUCER_BATCH,
        metrics=("jobs_s", "cpu_us", "p50_ms", "p99_ms", "server_busy", "client_busy"),
        table="streams: consumer-group worker loop", note=NOTE, fn=group_workers)]
