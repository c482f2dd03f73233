"""Suite "aof" for tools/bench (issue 5): the cost of the append-only file.

`scenarios()` returns the Scenario objects; tools/bench registers them. Two tables:
- redis-benchmark LPUSH -P 1 with appendonly no, and yes with appendfsync everysec and always (each
  server started with those flags; base files in RESP: aof-use-rdb-preamble no).
- Loading: an AOF of 1,000,000 LPUSH is built once per run with the server itself (redis-benchmark
  -t lpush -P 64), the server is stopped, and the time from process start until it answers PING
  with PONG (not -LOADING) is measured over LOAD_RESTARTS restarts on that directory (median).
"""

import signal
import statistics
import subprocess
import time

import benchlib as bl

LPUSH_REQUESTS = 100_000  # -P 1: about 1-3 s on redis 7
LOAD_ELEMENTS = 1_000_000
LOAD_RESTARTS = 3
LOAD_TIMEOUT_S = 120
AOF_BASE = ("--aof-use-rdb-preamble", "no", "--auto-aof-rewrite-percentage", "0")
MODES = (
    ("no", ("--appendonly", "no")),
    ("everysec", ("--appendonly", "yes", "--appendfsync", "everysec") + AOF_BASE),
    ("always", ("--appendonly", "yes", "--appendfsync", "always") + AOF_BASE),
)


def check_pushes_landed(ctx, requests):
    with ctx.connect() as client:
        length = client.call("LLEN", "mylist")
    if length < requests:
        raise bl.ScenarioError(f"LLEN mylist is {length} after {requests} pushes")


def lpush_scenarios():
    out = []
    for mode, args in MODES:
        out.append(bl.BenchmarkScenario(
            name=f"lpush_aof_{mode}", suite="aof", label=f"LPUSH appendonly {mode}"
            if mode == "no" else f"LPUSH appendfsync {mode}",
            description=f"redis-benchmark -t lpush -P 1 with {' '.join(args[:4])}",
            pipeline=1, args=("-t", "lpush"), requests=LPUSH_REQUESTS,
            verify=check_pushes_landed, server_args=args,
            table="aof: redis-benchmark LPUSH -P 1 by persistence setting",
            note="each server is started with the flags of its row (appendonly no; yes with "
                 "appendfsync everysec / always, aof-use-rdb-preamble no)."))
    return out


def time_until_pong(argv, port, pinning):
    """Starts argv and returns (seconds until PING answers PONG, process)."""
    started = time.monotonic()
    proc = subprocess.Popen(pinning.wrap(argv, pinning.server_cpu), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = started + LOAD_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with bl.RespClient(port, timeout=LOAD_TIMEOUT_S) as client:
                while time.monotonic() < deadline:
                    client.send_raw(bl.encode_command([b"PING"]))
                    if client.read_reply() == "PONG":
                        return time.monotonic() - started, proc
                    time.sleep(0.001)
        except (OSError, bl.RespError):
            time.sleep(0.001)
    return None, proc


def stop_process(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def aof_load(ctx):
    server = ctx.server
    requests = bl.scaled(LOAD_ELEMENTS, ctx.options.quick)
    bl.run_redis_benchmark(ctx, 64, requests, ("-t", "lpush"))
    check_pushes_landed(ctx, requests)
    stop_process(server.proc)  # SIGTERM: the AOF is written and fsynced; the dir stays
    if server.proc.returncode != 0:
        raise bl.ScenarioError(f"server exited with {server.proc.returncode} at shutdown")
    times = []
    for restart in range(LOAD_RESTARTS):
        port = bl.free_port()
        argv = [server.binary, "--port", str(port), "--dir", server.dir, "--save", "",
                "--appendonly", "yes", *AOF_BASE]
        seconds, proc = time_until_pong(argv, port, ctx.pinning)
        try:
            if seconds is None:
                raise bl.ScenarioError("the restarted server did not answer PONG "
                                       f"within {LOAD_TIMEOUT_S} s")
            with bl.RespClient(port) as client:
                length = client.call("LLEN", "mylist")
            if length < requests:
                raise bl.ScenarioError(f"LLEN mylist is {length} after loading")
        except BaseException:
            stop_process(proc)
            raise
        times.append(seconds)
        if restart + 1 < LOAD_RESTARTS:
            stop_process(proc)
        else:  # the last one stays up as the run's server: tools/bench checks it and stops it
            server.proc, server.port = proc, port
    return {"load_s": statistics.median(times)}


def scenarios():
    return lpush_scenarios() + [bl.FunctionScenario(
        name="aof_load_1m", suite="aof", label="load 1M-LPUSH AOF",
        description=f"start to PONG on an AOF of {LOAD_ELEMENTS:,} LPUSH (median of "
                    f"{LOAD_RESTARTS} restarts)",
        pipeline=None, metrics=("load_s",), table="aof: loading",
        server_args=("--appendonly", "yes", "--appendfsync", "everysec") + AOF_BASE,
        note="the AOF is built by the same server (redis-benchmark -t lpush -P 64, key mylist, "
             "3-byte values), then the server is stopped and restarted on its directory; "
             "time from process start until PING answers PONG.",
        fn=aof_load)]
