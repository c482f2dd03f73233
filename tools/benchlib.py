"""Framework for tools/bench: servers, CPU pinning, a raw RESP client, scenarios and the report.

Stdlib only (runs with /usr/bin/python3). Knows nothing about which scenarios exist: tools/bench
defines and registers them. Linux only: reads /proc/PID/stat and /proc/PID/status.
"""

import csv
import dataclasses
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

SIDES = ("docket", "redis")
REDIS_DEFAULT_PORT = 6379
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A real error: the run cannot go on (a binary is missing, a server did not start)."""


class ScenarioError(Exception):
    """One scenario failed (server crashed, error reply); the others still run."""


# ---------------------------------------------------------------------------------------------
# CPU pinning


@dataclasses.dataclass
class Pinning:
    server_cpu: int | None
    client_cpu: int | None
    note: str

    @property
    def enabled(self):
        return self.server_cpu is not None

    def wrap(self, argv, cpu):
        """argv prefixed with taskset when pinning is on; taskset execs, so the pid stays."""
        return ["taskset", "-c", str(cpu), *argv] if self.enabled else list(argv)


def detect_pinning():
    """Server on the first allowed CPU, load generator on the second (needs taskset, 2 CPUs)."""
    cpus = sorted(os.sched_getaffinity(0))
    if shutil.which("taskset") is None:
        return Pinning(None, None, "UNPINNED: taskset not found; results are noisier")
    if len(cpus) < 2:
        return Pinning(None, None, f"UNPINNED: only {len(cpus)} CPU available; results are noisier")
    server_cpu, client_cpu = cpus[0], cpus[1]
    note = f"server pinned to CPU {server_cpu}, load generator to CPU {client_cpu} (taskset)"
    return Pinning(server_cpu, client_cpu, note)


# ---------------------------------------------------------------------------------------------
# Servers


def free_port():
    """A port the kernel says is free right now; never Redis's default 6379."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port != REDIS_DEFAULT_PORT:
            return port


def read_cpu_seconds(pid):
    """utime + stime of a process, in seconds (resolution 1/CLK_TCK)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # stat fields 14 and 15


def read_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ScenarioError(f"no VmRSS in /proc/{pid}/status")


class Server:
    """One server process on a free port with its own temp dir, stopped by its pid.

    Use as a context manager: `with Server(...) as srv:` starts it, waits for PING, and always
    stops it and removes the dir on the way out.
    """

    START_TIMEOUT_S = 10
    STOP_TIMEOUT_S = 10

    def __init__(self, side, binary, pinning, extra_args=()):
        self.side, self.binary, self.pinning = side, binary, pinning
        self.extra_args = tuple(extra_args)  # e.g. ("--appendonly", "yes"): override the defaults
        self.proc = self.port = self.dir = None

    def __enter__(self):
        try:
            self.start()
        except BaseException:  # Ctrl-C while waiting for PING must not leak the process
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def pid(self):
        return self.proc.pid

    def start(self, attempts=3):
        # Another process may take the probed port before the server binds it: retry.
        for attempt in range(attempts):
            self.dir = tempfile.mkdtemp(prefix=f"docket-bench-{self.side}-")
            self.port = free_port()
            self._spawn()
            if self._wait_ready():
                return
            why, log = self.exit_reason(), self.log_tail()
            self.stop()
            if "in use" not in log or attempt == attempts - 1:
                raise BenchError(f"{self.side} server ({self.binary}) did not start ({why}); "
                                 f"log tail:\n{log}")

    def _spawn(self):
        argv = [self.binary, "--port", str(self.port), "--dir", self.dir,
                "--save", "", "--appendonly", "no", *self.extra_args]
        with open(self.log_path(), "wb") as log:
            self.proc = subprocess.Popen(self.pinning.wrap(argv, self.pinning.server_cpu),
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def _wait_ready(self):
        deadline = time.monotonic() + self.START_TIMEOUT_S
        while time.monotonic() < deadline and self.alive():
            try:
                with RespClient(self.port, timeout=1) as client:
                    if client.call("PING") == "PONG":
                        return True
            except (OSError, RespError):
                time.sleep(0.05)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def exit_reason(self):
        if self.alive():
            return f"still running, no PONG within {self.START_TIMEOUT_S} s"
        return f"exited with status {self.proc.returncode}"

    def cpu_seconds(self):
        return read_cpu_seconds(self.pid)

    def rss_bytes(self):
        return read_rss_bytes(self.pid)

    def log_path(self):
        return os.path.join(self.dir, "server.log")

    def log_tail(self, lines=15):
        try:
            with open(self.log_path(), errors="replace") as f:
                return "".join(f.readlines()[-lines:]) or "(empty)"
        except OSError:
            return "(no log)"

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


# ---------------------------------------------------------------------------------------------
# A minimal RESP2 client over a raw socket


class RespError(Exception):
    """An error reply (-ERR ...). Returned by read_reply, raised by call."""


def encode_command(args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RespClient:
    """Blocking RESP2 client: simple strings come back as str, bulks as bytes, errors as
    RespError instances (returned by read_reply, raised by call)."""

    def __init__(self, port, host="127.0.0.1", timeout=60):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self._pos = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def call(self, *args):
        self.send_raw(encode_command(args))
        reply = self.read_reply()
        if isinstance(reply, RespError):
            raise reply
        return reply

    def pipeline(self, commands):
        """Sends every command in one write, then reads one reply per command."""
        self.send_raw(b"".join(encode_command(c) for c in commands))
        return [self.read_reply() for _ in commands]

    def read_reply(self):
        line = self._read_line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if int(rest) < 0 else self._read_exact(int(rest) + 2)[:-2]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self.read_reply() for _ in range(count)]
        raise ScenarioError(f"unexpected reply line {bytes(line)[:60]!r}")

    def _read_line(self):
        while (end := self._buf.find(b"\r\n", self._pos)) < 0:
            self._fill()
        line = bytes(self._buf[self._pos:end])
        self._pos = end + 2
        return line

    def _read_exact(self, size):
        while len(self._buf) - self._pos < size:
            self._fill()
        data = bytes(self._buf[self._pos:self._pos + size])
        self._pos += size
        return data

    def _fill(self):
        if self._pos > 1 << 20:  # drop what was consumed so the buffer does not grow forever
            del self._buf[:self._pos]
            self._pos = 0
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ScenarioError("server closed the connection")
        self._buf += chunk


# ---------------------------------------------------------------------------------------------
# Metrics and scenarios


@dataclasses.dataclass(frozen=True)
class Metric:
    key: str
    label: str           # column label, e.g. "rps", "CPU us/req"
    higher_is_better: bool | None  # None: informational, shown per side without a ratio
    fmt: str             # format spec for values

    def ratio(self, docket, redis):
        """Oriented so that >1 always means Docket is better; None when undefined."""
        if self.higher_is_better is None:
            return None
        if docket is None or redis is None or docket <= 0 or redis <= 0:
            return None
        return docket / redis if self.higher_is_better else redis / docket

    def direction(self):
        return "docket/redis" if self.higher_is_better else "redis/docket"


METRICS = {m.key: m for m in (
    Metric("rps", "rps", True, ",.0f"),
    Metric("jobs_s", "jobs/s", True, ",.0f"),
    Metric("cpu_us", "CPU us/req", False, ".2f"),
    Metric("p50_ms", "p50 ms", False, ".3f"),
    Metric("p99_ms", "p99 ms", False, ".3f"),
    Metric("rss_per_key", "RSS bytes/key", False, ",.1f"),
    Metric("rss_per_elem", "RSS bytes/elem", False, ",.1f"),
    Metric("load_s", "start to PONG s", False, ".3f"),
    Metric("server_busy", "server CPU %", None, ".0f"),
    Metric("client_busy", "loadgen CPU %", None, ".0f"),
)}


@dataclasses.dataclass
class RunContext:
    """What a scenario gets for one run against one server."""
    server: Server
    options: object        # the parsed command line (requests, clients, keys, quick, ...)
    pinning: Pinning
    benchmark: str         # path to redis-benchmark

    def connect(self):
        return RespClient(self.server.port)


@dataclasses.dataclass(kw_only=True)
class Scenario:
    """A named measurement. Subclasses implement run(ctx) -> {metric key: value}."""
    name: str
    suite: str
    label: str             # the "test" column
    description: str
    pipeline: int | None
    table: str             # scenarios with the same table title share one Markdown table
    metrics: tuple
    note: str = ""         # printed under the table: how the load is generated, caveats
    server_args: tuple = ()  # extra server arguments for this scenario (both sides)

    kind = "?"

    def run(self, ctx):
        raise NotImplementedError


@dataclasses.dataclass(kw_only=True)
class BenchmarkScenario(Scenario):
    """One redis-benchmark test: `args` is `-t NAME` or a custom command such as
    ["RPUSH", "mylist", "__rand_int__"]. `setup` commands run over a raw socket first (not timed);
    `setup` may instead be a function setup(ctx, requests) (e.g. to prefill a list for pops), and
    `verify(ctx, requests)` runs after the timed part and raises ScenarioError if the run was
    hollow (e.g. pops that found the list empty). redis-benchmark must print exactly one CSV row:
    prefill with `setup`, not with a second test."""
    args: tuple = ()
    requests: int = 100_000
    setup: object = ()
    verify: object = None
    metrics: tuple = ("rps", "cpu_us", "p50_ms", "p99_ms")
    table: str = "redis-benchmark"

    kind = "redis-benchmark"

    def run(self, ctx):
        requests = ctx.options.requests or scaled(self.requests, ctx.options.quick)
        if callable(self.setup):
            self.setup(ctx, requests)
        elif self.setup:
            run_setup(ctx, self.setup)
        cpu_before = ctx.server.cpu_seconds()
        row = run_redis_benchmark(ctx, self.pipeline, requests, self.args)
        cpu = ctx.server.cpu_seconds() - cpu_before
        if self.verify:
            self.verify(ctx, requests)
        result = {"rps": float(row["rps"]), "cpu_us": cpu * 1e6 / requests}
        for key in ("p50", "p99"):
            if row.get(f"{key}_latency_ms"):
                result[f"{key}_ms"] = float(row[f"{key}_latency_ms"])
        return result


@dataclasses.dataclass(kw_only=True)
class FunctionScenario(Scenario):
    """A Python function fn(ctx) -> {metric key: value} that drives its own clients."""
    fn: object = None

    kind = "python"

    def run(self, ctx):
        return self.fn(ctx)


def scaled(count, quick):
    return max(1, count // 10) if quick else count


def run_setup(ctx, commands):
    with ctx.connect() as client:
        for reply in client.pipeline(commands):
            if isinstance(reply, RespError):
                raise ScenarioError(f"setup failed: {reply}")


def run_redis_benchmark(ctx, pipeline, requests, args):
    argv = [ctx.benchmark, "-h", "127.0.0.1", "-p", str(ctx.server.port),
            "-c", str(ctx.options.clients), "-n", str(requests), "-P", str(pipeline or 1),
            "--csv", *args]
    argv = ctx.pinning.wrap(argv, ctx.pinning.client_cpu)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise ScenarioError("redis-benchmark timed out after 600 s")
    # redis-benchmark counts error replies as answers: a server that only says -ERR looks fast.
    if done.returncode != 0 or "Error from server" in done.stderr:
        raise ScenarioError(f"redis-benchmark failed: {first_line(done.stderr)}")
    rows = list(csv.DictReader(done.stdout.splitlines()))
    if len(rows) != 1:
        raise ScenarioError(f"redis-benchmark printed {len(rows)} CSV rows, expected 1")
    return rows[0]


def first_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0].strip()[:200] if lines else "(no output)"


# ---------------------------------------------------------------------------------------------
# Aggregation and the Markdown report


def median_or_none(values):
    return statistics.median(values) if values else None


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def fmt_value(value, spec):
    return "n/a" if value is None else format(value, spec)


def fmt_ratio(ratio):
    return "n/a" if ratio is None else f"{ratio:.2f}"


def median_metrics(runs):
    """runs: list of {metric: value} -> {metric: median over the runs that have it}."""
    keys = {k for run in runs for k in run}
    return {k: median_or_none([run[k] for run in runs if k in run]) for k in keys}


def markdown_table(title, scenarios, medians, failures):
    """medians: {scenario name: {side: {metric: value}}}; failures: {scenario name: reason}."""
    metrics = [METRICS[k] for k in scenarios[0].metrics]
    header = ["test", "pipeline"]
    for m in metrics:
        header += [f"docket {m.label}", f"redis {m.label}"]
        if m.higher_is_better is not None:
            header.append(f"{m.label} ratio ({m.direction()})")
    lines = [f"### {title}", "", row_line(header), row_line(["---"] * len(header))]
    for sc in scenarios:
        cells = [sc.label, str(sc.pipeline or "-")]
        if sc.name in failures:
            cells += [f"FAILED: {failures[sc.name]}"] + ["-"] * (len(header) - 3)
        else:
            cells += metric_cells(metrics, medians[sc.name])
        lines.append(row_line(cells))
    notes = list(dict.fromkeys(sc.note for sc in scenarios if sc.note))
    if notes:
        lines += [""] + [f"Note: {note}" for note in notes]
    return "\n".join(lines)


def metric_cells(metrics, by_side):
    cells = []
    for m in metrics:
        docket, redis = by_side["docket"].get(m.key), by_side["redis"].get(m.key)
        cells += [fmt_value(docket, m.fmt), fmt_value(redis, m.fmt)]
        if m.higher_is_better is not None:
            cells.append(fmt_ratio(m.ratio(docket, redis)))
    return cells


def row_line(cells):
    return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"
