"""Suite "pubsub" for tools/bench (issue 4): PUBLISH throughput and fan-out to many subscribers.

`scenarios()` returns the Scenario objects; tools/bench registers them. Two tables:
- redis-benchmark `PUBLISH chan payload` at -P 1 and -P 32, with 0 subscribers and with 10
  raw-socket subscribers that a thread of this process drains continuously (epoll, read and
  discard); every subscriber must then have received every published message (INFO commandstats).
- Fan-out: one publisher, 1 / 100 / 1000 subscribers, all in one Python process on the
  load-generator CPU; deliveries/s, publish-to-receive latency, per-subscriber count and order.
"""

import array
import contextlib
import resource
import select
import threading
import time

import benchlib as bl


def add_metric(metric):
    """Adds a metric to benchlib's catalogue (idempotent; a clash with another meaning is a bug)."""
    if bl.METRICS.setdefault(metric.key, metric) != metric:
        raise ValueError(f"metric {metric.key} already defined differently")


add_metric(bl.Metric("deliveries_s", "deliveries/s", True, ",.0f"))
add_metric(bl.Metric("cpu_us_delivery", "CPU us/delivery", False, ".3f"))

STALL_TIMEOUT_S = 10

# ---------------------------------------------------------------------------------------------
# redis-benchmark PUBLISH with 0 or 10 drained subscribers

PUBLISH_PIPELINES = ((1, 100_000), (32, 3_000_000))  # (pipeline, requests): 1-3 s on redis 7
PUBLISH_SUBSCRIBERS = (0, 10)
CHANNEL = b"chan"
PAYLOAD = b"payload"
MESSAGE = bl.encode_command((b"message", CHANNEL, PAYLOAD))  # what each subscriber receives
DRAIN_BUFFER = 1 << 20
PUBLISH_NOTE = (
    "PUBLISH load: redis-benchmark on the load-generator CPU, -c CLIENTS, custom command "
    f"`PUBLISH {CHANNEL.decode()} {PAYLOAD.decode()}`. With subscribers: raw-socket connections "
    "SUBSCRIBEd to that channel, drained by one thread of the bench process on the same CPU "
    "(epoll, recv into a 1 MB buffer, discard); after redis-benchmark exits the run waits until "
    "every subscriber has received exactly one message per PUBLISH the server counted (INFO "
    "commandstats), so CPU us/req (server CPU per PUBLISH) includes writing every delivery. "
    "loadgen CPU % = redis-benchmark + drain thread; near 100% means the shared load-generator "
    "CPU, not the server, bounds rps.")


def publish_calls(client):
    """cmdstat_publish calls from INFO commandstats (0 before the first PUBLISH)."""
    for line in client.call("INFO", "commandstats").decode().splitlines():
        if line.startswith("cmdstat_publish:"):
            return int(line.split("calls=", 1)[1].split(",", 1)[0])
    return 0


def subscribe_all(clients, channel):
    """SUBSCRIBE every client to channel; each must confirm with a count of 1."""
    command = bl.encode_command((b"SUBSCRIBE", channel))
    for client in clients:
        client.send_raw(command)
    for client in clients:
        reply = client.read_reply()
        if reply != [b"subscribe", channel, 1]:
            raise bl.ScenarioError(f"SUBSCRIBE replied {reply!r}")


def check_numsub(client, channel, count):
    reply = client.call("PUBSUB", "NUMSUB", channel)
    if reply != [channel, count]:
        raise bl.ScenarioError(f"PUBSUB NUMSUB {channel.decode()} is {reply!r}, not {count}")


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Drainer(threading.Thread):
    """Reads and discards everything the subscribers receive, counting bytes per subscriber and
    keeping the last message's worth of bytes to check what arrived last."""

    def __init__(self, clients):
        super().__init__(daemon=True)
        self.socks = {c.sock.fileno(): c.sock for c in clients}
        self.received = {fd: 0 for fd in self.socks}
        self.tails = {fd: b"" for fd in self.socks}
        self.stopping = threading.Event()
        self.error = None
        self.cpu_seconds = 0.0

    def run(self):
        started = time.thread_time()
        try:
            self.drain()
        except (OSError, bl.ScenarioError) as e:
            self.error = e
        finally:
            self.cpu_seconds = time.thread_time() - started

    def drain(self):
        buf = bytearray(DRAIN_BUFFER)
        view = memoryview(buf)
        keep = len(MESSAGE)
        with select.epoll() as poller:
            for fd, sock in self.socks.items():
                sock.setblocking(False)
                poller.register(fd, select.EPOLLIN)
            while not self.stopping.is_set():
                for fd, _ in poller.poll(0.05):
                    n = self.socks[fd].recv_into(buf)
                    if n == 0:
                        raise bl.ScenarioError("the server closed a subscriber connection "
                                               "(output buffer limit?)")
                    self.received[fd] += n
                    tail = bytes(view[max(0, n - keep):n])
                    self.tails[fd] = tail if n >= keep else (self.tails[fd] + tail)[-keep:]

    def wait_for(self, expected):
        """Waits until every subscriber received `expected` bytes; raises on a stall."""
        last_total, last_change = -1, time.monotonic()
        while min(self.received.values(), default=expected) < expected:
            if self.error is not None:
                raise self.error
            total = sum(self.received.values())
            if total != last_total:
                last_total, last_change = total, time.monotonic()
            elif time.monotonic() - last_change > STALL_TIMEOUT_S:
                raise bl.ScenarioError(f"subscribers stalled: {min(self.received.values())} of "
                                       f"{expected} bytes")
            time.sleep(0.002)

    def finish(self):
        """Stops the thread; the caller checks `error` (not raised here: it runs in `finally`)."""
        self.stopping.set()
        self.join()


def publish_run(ctx, pipeline, requests, subscribers):
    requests = ctx.options.requests or bl.scaled(requests, ctx.options.quick)
    with contextlib.ExitStack() as stack:
        control = stack.enter_context(ctx.connect())
        subs = [stack.enter_context(ctx.connect()) for _ in range(subscribers)]
        subscribe_all(subs, CHANNEL)
        check_numsub(control, CHANNEL, subscribers)
        calls_before = publish_calls(control)
        drainer = Drainer(subs)
        drainer.start()
        try:
            started, cpu_before, kids_before = (time.monotonic(), ctx.server.cpu_seconds(),
                                                children_cpu_seconds())
            row = bl.run_redis_benchmark(ctx, pipeline, requests,
                                         ("PUBLISH", CHANNEL.decode(), PAYLOAD.decode()))
            published = publish_calls(control) - calls_before
            drainer.wait_for(published * len(MESSAGE))
            wall = time.monotonic() - started
            cpu = ctx.server.cpu_seconds() - cpu_before
            kids = children_cpu_seconds() - kids_before
        finally:
            drainer.finish()
        if drainer.error is not None:
            raise drainer.error
        check_deliveries(drainer, published)
    result = {"rps": float(row["rps"]), "cpu_us": cpu * 1e6 / published,
              "server_busy": 100 * cpu / wall, "client_busy": 100 * (kids + drainer.cpu_seconds)
              / wall}
    for key in ("p50", "p99"):
        if row.get(f"{key}_latency_ms"):
            result[f"{key}_ms"] = float(row[f"{key}_latency_ms"])
    return result


def check_deliveries(drainer, published):
    if published < 1:
        raise bl.ScenarioError("the server counted no PUBLISH")
    for fd, got in drainer.received.items():
        if got != published * len(MESSAGE):
            raise bl.ScenarioError(f"a subscriber received {got} bytes, expected {published} "
                                   f"messages of {len(MESSAGE)} bytes")
        if drainer.tails[fd] != MESSAGE:
            raise bl.ScenarioError(f"a subscriber's last bytes are {drainer.tails[fd]!r}")


def publish_scenarios():
    out = []
    for subscribers in PUBLISH_SUBSCRIBERS:
        for pipeline, requests in PUBLISH_PIPELINES:
            out.append(bl.FunctionScenario(
                name=f"publish_s{subscribers}_p{pipeline}", suite="pubsub",
                label=f"PUBLISH, {subscribers} subscribers",
                description=f"redis-benchmark PUBLISH -P {pipeline}, {subscribers} drained "
                            "subscribers",
                pipeline=pipeline,
                metrics=("rps", "cpu_us", "p50_ms", "p99_ms", "server_busy", "client_busy"),
                table="pubsub: redis-benchmark PUBLISH (7-byte payload)", note=PUBLISH_NOTE,
                fn=lambda ctx, p=pipeline, r=requests, s=subscribers: publish_run(ctx, p, r, s)))
    return out


# ---------------------------------------------------------------------------------------------
# Fan-out: one publisher, many subscribers, publish-to-receive latency

FANOUT_RUNS = ((1, 500_000), (100, 30_000), (1000, 3_000))  # (subscribers, messages)
# At most this many messages published but not yet delivered, FANOUT_BATCH per write. Smaller
# windows leave both sides waiting for each other (each is idle while the other works) and then
# measure wake-up latency rather than the server; with 50 the server is the busy side.
FANOUT_WINDOW = 50
FANOUT_BATCH = 10
FANOUT_CHANNEL = b"fan"
FANOUT_SIZE = 64
FANOUT_BODY = b"%019d:%010d:"    # publish time (perf_counter_ns), sequence number: 31 bytes
FANOUT_PAD = b"m" * (FANOUT_SIZE - 31)
PUBLISH_HEAD = b"*3\r\n$7\r\nPUBLISH\r\n$3\r\nfan\r\n$64\r\n"
DELIVERY_HEAD = b"*3\r\n$7\r\nmessage\r\n$3\r\nfan\r\n$64\r\n"
DELIVERY_LEN = len(DELIVERY_HEAD) + FANOUT_SIZE + 2
SENT_AT = slice(len(DELIVERY_HEAD), len(DELIVERY_HEAD) + 19)
SEQ_START = len(DELIVERY_HEAD) + 20
SEQ_END = SEQ_START + 10
RECV_SIZE = 1 << 16
# The last digit of every sequence number in a read, in order, must be a slice of this.
LAST_DIGITS = b"0123456789" * (RECV_SIZE // DELIVERY_LEN // 10 + 3)
FANOUT_NOTE = (
    "fan-out load: ONE Python process on the load-generator CPU (epoll over non-blocking sockets) "
    f"is both the publisher and every subscriber. The publisher pipelines `PUBLISH fan "
    f"<{FANOUT_SIZE}-byte message>` {FANOUT_BATCH} per write with at most {FANOUT_WINDOW} "
    "messages in flight (the pipeline column; in flight = published - deliveries received / "
    "subscribers), so latency includes waiting behind up to that many messages' deliveries in "
    "the server. Each message carries its publish "
    "time (perf_counter_ns) and a sequence number; latency = receive time - publish time, for "
    "every delivery (the drain loop reads the time from the payload of the first message of each "
    "read and takes the others' from the publisher's record, checked equal). Every subscriber "
    "must receive every message in order: per read, the first sequence number must follow the "
    "previous read's last, the last must be first + count - 1 and the last digits of all must "
    "run 0-9 in turn; at the end, count and last sequence number per subscriber. deliveries/s "
    "= messages x subscribers / (last receive - first publish); CPU us/delivery = server CPU / "
    "deliveries. When loadgen CPU % is near 100 and server CPU % well below, the Python side "
    "bounds deliveries/s and latency (it adds its own queueing): compare CPU us/delivery instead.")


def raise_fd_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise bl.ScenarioError(f"needs {needed} file descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def fanout(ctx, subscribers, messages):
    messages = bl.scaled(messages, ctx.options.quick)
    raise_fd_limit(subscribers + 100)
    with contextlib.ExitStack() as stack:
        publisher = stack.enter_context(ctx.connect())
        subs = [stack.enter_context(ctx.connect()) for _ in range(subscribers)]
        subscribe_all(subs, FANOUT_CHANNEL)
        check_numsub(publisher, FANOUT_CHANNEL, subscribers)
        for sub in subs:
            if sub._pos != len(sub._buf):
                raise bl.ScenarioError("a subscriber got data before the first PUBLISH")
        return FanoutRun(ctx, publisher, subs, messages).run()


class FanoutRun:
    """The event loop: the publisher keeps the window full, subscribers are read as data comes.
    Per read only the first and last message are parsed; reads are logged (time, first sequence
    number, count) and turned into per-delivery latencies after the timed part."""

    def __init__(self, ctx, publisher, subs, messages):
        self.ctx, self.publisher, self.messages = ctx, publisher, messages
        self.socks = {s.sock.fileno(): s.sock for s in subs}
        self.ack = b":%d\r\n" % len(subs)
        self.ack_pending = b""
        self.sent_at = array.array("q")
        self.sent = self.acked = 0

    def run(self):
        for sock in self.socks.values():
            sock.setblocking(False)
        with select.epoll() as poller:
            for fd in self.socks:
                poller.register(fd, select.EPOLLIN)
            poller.register(self.publisher.sock.fileno(), select.EPOLLIN)
            return self.loop(poller)

    def loop(self, poller):
        """Hot path, written with locals (see BrpopRun.loop in bench_lists.py)."""
        publisher_fd, socks, messages = self.publisher.sock.fileno(), self.socks, self.messages
        subscribers, window, batch = len(socks), FANOUT_WINDOW, FANOUT_BATCH
        pending = {fd: b"" for fd in socks}
        expected = {fd: 0 for fd in socks}  # next sequence number per subscriber
        counts = {fd: 0 for fd in socks}
        reads_t, reads_first, reads_count = array.array("q"), array.array("q"), array.array("q")
        sent_at, now_ns, head_len = self.sent_at, time.perf_counter_ns, len(DELIVERY_HEAD)
        total = messages * subscribers
        delivered = 0
        cpu_before, client_before = self.ctx.server.cpu_seconds(), time.process_time()
        first_publish = last_receive = now_ns()
        while delivered < total or self.acked < messages:
            room = window - (self.sent - delivered // subscribers)
            while self.sent < messages and room >= min(batch, messages - self.sent):
                count = min(batch, messages - self.sent)
                self.publish(count)
                room -= count
            events = poller.poll(STALL_TIMEOUT_S)
            if not events:
                raise bl.ScenarioError(f"stalled: {delivered}/{total} deliveries, "
                                       f"{self.acked}/{messages} PUBLISH replies")
            for fd, _ in events:
                if fd == publisher_fd:
                    self.read_acks()
                    continue
                data = socks[fd].recv(RECV_SIZE)
                now = now_ns()
                if not data:
                    raise bl.ScenarioError("the server closed a subscriber connection")
                if pending[fd]:
                    data = pending[fd] + data
                k = len(data) // DELIVERY_LEN
                if k * DELIVERY_LEN != len(data):
                    pending[fd] = data[k * DELIVERY_LEN:]
                    if k == 0:
                        continue
                else:
                    pending[fd] = b""
                first = int(data[SEQ_START:SEQ_END])
                last_at = (k - 1) * DELIVERY_LEN
                if (first != expected[fd] or not data.startswith(DELIVERY_HEAD)
                        or data[last_at:last_at + head_len] != DELIVERY_HEAD
                        or int(data[last_at + SEQ_START:last_at + SEQ_END]) != first + k - 1
                        or data[SEQ_END - 1::DELIVERY_LEN] != LAST_DIGITS[first % 10:first % 10 + k]
                        or int(data[SENT_AT]) != sent_at[first]):
                    raise bl.ScenarioError(f"subscriber expected message {expected[fd]}, read "
                                           f"{k} starting {data[:DELIVERY_LEN]!r}")
                expected[fd] = first + k
                counts[fd] += k
                reads_t.append(now)
                reads_first.append(first)
                reads_count.append(k)
                delivered += k
                last_receive = now
        wall_s = (last_receive - first_publish) / 1e9
        cpu = self.ctx.server.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_before
        for fd in socks:
            if counts[fd] != messages or expected[fd] != messages:
                raise bl.ScenarioError(f"a subscriber got {counts[fd]} of {messages} messages, "
                                       f"last sequence number {expected[fd] - 1}")
        lat = sorted(self.latencies(reads_t, reads_first, reads_count))
        return {"deliveries_s": total / wall_s, "cpu_us_delivery": cpu * 1e6 / total,
                "p50_ms": percentile(lat, 0.50) / 1e6, "p99_ms": percentile(lat, 0.99) / 1e6,
                "server_busy": 100 * cpu / wall_s, "client_busy": 100 * client_cpu / wall_s}

    def publish(self, count):
        now = time.perf_counter_ns()
        self.publisher.send_raw(b"".join(
            PUBLISH_HEAD + FANOUT_BODY % (now, seq) + FANOUT_PAD + b"\r\n"
            for seq in range(self.sent, self.sent + count)))
        self.sent_at.extend([now] * count)
        self.sent += count

    def read_acks(self):
        data = self.publisher.sock.recv(1 << 16)
        if not data:
            raise bl.ScenarioError("server closed the publisher connection")
        data = self.ack_pending + data
        k = len(data) // len(self.ack)
        if data[:k * len(self.ack)] != self.ack * k:
            raise bl.ScenarioError(f"PUBLISH replied {data[:80]!r}, expected {self.ack!r}")
        self.ack_pending = data[k * len(self.ack):]
        self.acked += k

    def latencies(self, reads_t, reads_first, reads_count):
        sent_at, out = self.sent_at, array.array("q")
        for t, first, k in zip(reads_t, reads_first, reads_count):
            if k == 1:
                out.append(t - sent_at[first])
            else:
                out.extend(t - s for s in sent_at[first:first + k])
        return out


def percentile(sorted_values, fraction):
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def fanout_scenarios():
    out = []
    for subscribers, messages in FANOUT_RUNS:
        out.append(bl.FunctionScenario(
            name=f"fanout_{subscribers}", suite="pubsub",
            label=f"1 publisher -> {subscribers} subscriber{'s' if subscribers > 1 else ''}",
            description=f"PUBLISH fan-out to {subscribers} subscribers, {messages:,} messages "
                        "(--quick: a tenth): deliveries/s, publish-to-receive latency",
            pipeline=FANOUT_WINDOW,
            metrics=("deliveries_s", "cpu_us_delivery", "p50_ms", "p99_ms", "server_busy",
                     "client_busy"),
            table=f"pubsub: fan-out ({FANOUT_SIZE}-byte messages, publish-to-receive)",
            note=FANOUT_NOTE,
            fn=lambda ctx, s=subscribers, m=messages: fanout(ctx, s, m)))
    return out


def scenarios():
    return publish_scenarios() + fanout_scenarios()
