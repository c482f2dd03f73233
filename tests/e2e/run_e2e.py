#!/usr/bin/python3
"""End-to-end tests with real job frameworks (RQ, later Celery, Sidekiq, BullMQ): each test runs
against its own fresh server. Python 3 standard library only.

Usage: run_e2e.py --docket PATH [--only NAME ...] [-v]
       run_e2e.py --redis PATH ...     (the same tests against redis-server, to tell a Docket
                                        difference from a test bug)

A test is one file tests/e2e/test_<framework>.<ext>, run with the interpreter for its extension
(.py: /usr/bin/python3, .rb: ruby, .js/.mjs: node; any other executable file is run directly).
The contract:
  - it gets the server's address as DOCKET_HOST, DOCKET_PORT and DOCKET_URL
    (redis://127.0.0.1:PORT/0) in the environment, and the port as argv[1];
  - it runs with a fresh empty temp dir as its cwd (also in E2E_TMPDIR), removed afterwards;
    tests/e2e is in PYTHONPATH, RUBYLIB and NODE_PATH;
  - it exits 0 on success; any other status is a failure, and what it printed is shown;
    exit 77 means "skipped" (its framework is not installed): reported, counted as neither;
  - it finishes within its time limit: 60 s, or the number in a line "# e2e-timeout: N" among
    the file's first 20 lines.
The runner starts the server on a free port in a temp dir, waits for PING, runs the test, stops
the server by pid and prints the server's log when the test failed. Closing line:
"N passed, N failed"; exit status 1 when anything failed.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TIMEOUT = 60.0
START_TIMEOUT = 10.0
SKIP_STATUS = 77
INTERPRETERS = {".py": ["/usr/bin/python3"], ".rb": ["ruby"], ".js": ["node"], ".mjs": ["node"]}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class Server:
    """A docket-server (or redis-server) on a free port, in its own temp dir."""

    def __init__(self, binary):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="docket-e2e-srv-")
        self.log_path = os.path.join(self.dir, "server.log")
        self.port = None
        self.proc = None

    def start(self):
        for _ in range(5):
            self.port = free_port()
            args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                    "--dir", self.dir, "--save", "", "--appendonly", "no"]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                             cwd=self.dir)
            deadline = time.time() + START_TIMEOUT
            while time.time() < deadline and self.proc.poll() is None:
                if ping(self.port):
                    return
                time.sleep(0.02)
            self.stop()  # the port was taken meanwhile, or the server failed: try another
        raise RuntimeError("server did not start:\n" + self.log())

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def discover(only):
    tests = []
    for name in sorted(os.listdir(HERE)):
        path = os.path.join(HERE, name)
        stem, ext = os.path.splitext(name)
        if not name.startswith("test_") or not os.path.isfile(path):
            continue
        if ext not in INTERPRETERS and not os.access(path, os.X_OK):
            continue
        short = stem[len("test_"):]
        if only and short not in only and stem not in only and name not in only:
            continue
        tests.append((short, path))
    return tests


def time_limit(path):
    with open(path, errors="replace") as f:
        for _, line in zip(range(20), f):
            m = re.search(r"e2e-timeout:\s*(\d+)", line)
            if m:
                return float(m.group(1))
    return DEFAULT_TIMEOUT


def test_env(port, workdir):
    env = dict(os.environ)
    env.update(DOCKET_HOST="127.0.0.1", DOCKET_PORT=str(port),
               DOCKET_URL="redis://127.0.0.1:%d/0" % port, E2E_TMPDIR=workdir)
    for var in ("PYTHONPATH", "RUBYLIB", "NODE_PATH"):
        env[var] = os.pathsep.join(p for p in (HERE, env.get(var)) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_one(path, port):
    """Runs one test; returns (status, output). status None: it overran its time limit."""
    ext = os.path.splitext(path)[1]
    cmd = INTERPRETERS.get(ext, []) + [path, str(port)]
    workdir = tempfile.mkdtemp(prefix="docket-e2e-")
    try:
        # Its own process group, so a test's worker processes are stopped with it on a timeout.
        proc = subprocess.Popen(cmd, cwd=workdir, env=test_env(port, workdir),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=time_limit(path))
            return proc.returncode, out.decode(errors="replace")
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            return None, out.decode(errors="replace")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--docket", help="path to docket-server")
    group.add_argument("--redis", help="path to redis-server (check the tests themselves)")
    ap.add_argument("--only", nargs="*", default=[], help="test names (rq, test_rq, test_rq.py)")
    ap.add_argument("-v", "--verbose", action="store_true", help="show output of passing tests")
    args = ap.parse_args()
    binary = os.path.abspath(args.docket or args.redis)

    passed = failed = skipped = 0
    for name, path in discover(set(args.only)):
        server = Server(binary)
        started = time.time()
        try:
            server.start()
            status, out = run_one(path, server.port)
        except RuntimeError as e:
            status, out = 1, str(e)
        finally:
            server.stop()
        elapsed = time.time() - started
        if status == 0:
            passed += 1
            print("PASS %s (%.1fs)" % (name, elapsed))
        elif status == SKIP_STATUS:
            skipped += 1
            print("SKIP %s: %s" % (name, out.strip().splitlines()[-1] if out.strip() else ""))
        else:
            failed += 1
            why = "timed out" if status is None else "exit %d" % status
            print("FAIL %s (%s, %.1fs)" % (name, why, elapsed))
        if status not in (0, SKIP_STATUS) or args.verbose:
            print("---- output of %s" % name)
            print(out.rstrip())
        if status not in (0, SKIP_STATUS):
            print("---- server log (tail)")
            print(server.log().rstrip())
            print("----")
        server.cleanup()
        sys.stdout.flush()
    if skipped:
        print("(%d skipped)" % skipped)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
