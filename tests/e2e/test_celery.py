#!/usr/bin/python3
"""Celery (python3-celery) end to end, with the server at DOCKET_URL as broker and result backend:
two solo-pool workers share 20 tasks (each runs exactly once; results fetched through the result
backend, one by one with AsyncResult.get and as a group), a countdown=3 task runs once and not
before its ETA, and a task that raises Retry once runs twice, the second time no earlier than its
1 s retry countdown. Every run is appended to runs.log in the cwd (the test's temp dir) from
inside the task. The workers import this file as the module `test_celery` (tests/e2e is on
PYTHONPATH) and are stopped with SIGTERM (warm shutdown, exit 0).
"""

import json
import os
import signal
import subprocess
import sys
import time

# e2e-timeout: 60

TASKS = 20
QUEUE = "e2e"

try:
    from celery import Celery, group
except ImportError as e:  # reported by main() as a skip
    Celery = None
    IMPORT_ERROR = e

URL = os.environ.get("DOCKET_URL", "redis://127.0.0.1:%s/0" % (sys.argv[1:] or ["6379"])[0])

if Celery is not None:
    app = Celery("test_celery", broker=URL, backend=URL)
    app.conf.update(task_default_queue=QUEUE, result_expires=600, worker_prefetch_multiplier=1,
                    task_acks_late=False, broker_transport_options={"visibility_timeout": 600})

    # ---- tasks (run inside the workers) ------------------------------------------------------

    def record(tag, request):
        entry = {"tag": tag, "pid": os.getpid(), "time": time.time(),
                 "eta": request.eta, "retries": request.retries}
        with open("runs.log", "a") as f:
            f.write(json.dumps(entry) + "\n")

    @app.task(bind=True, name="test_celery.double")
    def double(self, tag, value):
        record(tag, self.request)
        return {"tag": tag, "double": value * 2}

    @app.task(bind=True, name="test_celery.flaky", max_retries=3)
    def flaky(self, tag):
        record(tag, self.request)
        if self.request.retries == 0:
            raise self.retry(countdown=1)
        return "succeeded on try %d" % (self.request.retries + 1)


# ---- the test ---------------------------------------------------------------------------------

class Failures:
    def __init__(self):
        self.items = []

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.items.append(what)


def attempt(fn):
    """fn(), or the text of the exception it raised."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        return "raised %s: %s" % (type(e).__name__, e)


def runs():
    """tag -> list of run entries (dicts) from runs.log."""
    out = {}
    if os.path.exists("runs.log"):
        with open("runs.log") as f:
            for line in f:
                entry = json.loads(line)
                out.setdefault(entry["tag"], []).append(entry)
    return out


def start_worker(name):
    log = open("%s.log" % name, "wb")
    cmd = ["/usr/bin/python3", "-m", "celery", "-A", "test_celery", "worker", "--pool=solo",
           "-l", "info", "-n", "%s@e2e" % name, "-Q", QUEUE, "--without-mingle"]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(names, timeout):
    deadline = time.time() + timeout
    pending = set(names)
    while pending and time.time() < deadline:
        for name in list(pending):
            with open("%s.log" % name, errors="replace") as f:
                if " ready." in f.read():
                    pending.discard(name)
        time.sleep(0.1)
    return not pending


def show_logs(names):
    for name in names:
        with open("%s.log" % name, errors="replace") as f:
            text = f.read().strip()
        print("---- %s.log\n%s" % (name, text[-3000:]))


def stop_workers(workers, f):
    for w in workers.values():
        w.send_signal(signal.SIGTERM)  # warm shutdown: finish the current task, then exit
    for name, w in workers.items():
        try:
            code = w.wait(timeout=15)
        except subprocess.TimeoutExpired:
            w.kill()
            code = "killed after 15 s"
        f.check(code == 0, "worker %s stopped cleanly on SIGTERM (%s)" % (name, code))


def check_tasks(f):
    # Queued before the workers start, so that both workers take a share.
    results = [double.delay("job%d" % i, i) for i in range(TASKS)]
    workers = {name: start_worker(name) for name in ("w1", "w2")}
    try:
        f.check(wait_ready(workers, 20), "both workers report ready")
        got = [attempt(lambda r=r: r.get(timeout=20)) for r in results]
        want = [{"tag": "job%d" % i, "double": 2 * i} for i in range(TASKS)]
        f.check(got == want, "AsyncResult.get returns each of the %d results%s"
                % (TASKS, "" if got == want else " (got %r)" % got))
        f.check(all(r.state == "SUCCESS" for r in results), "every task is in state SUCCESS")

        grouped = attempt(lambda: group(double.s("g%d" % i, i) for i in range(4))()
                          .get(timeout=20))
        f.check(grouped == [{"tag": "g%d" % i, "double": 2 * i} for i in range(4)],
                "a group of 4 tasks returns its results in order (%r)" % (grouped,))

        sent = time.time()
        later = double.apply_async(("countdown", 21), countdown=3)
        flaky_sent = time.time()
        retried = flaky.delay("flaky")
        time.sleep(1.5)
        f.check("countdown" not in runs(), "the countdown=3 task has not run after 1.5 s")
        value = attempt(lambda: later.get(timeout=15))
        f.check(value == {"tag": "countdown", "double": 42},
                "the countdown task's result is fetched (%r)" % (value,))
        value = attempt(lambda: retried.get(timeout=15))
        f.check(value == "succeeded on try 2", "the retried task's result (%r)" % (value,))
        time.sleep(0.5)  # a duplicate delivery, if any, would show up in runs.log
    finally:
        stop_workers(workers, f)

    seen = runs()
    counts = [len(seen.get("job%d" % i, [])) for i in range(TASKS)]
    f.check(counts == [1] * TASKS, "every task ran exactly once (run counts %s)" % counts)
    pids = {e["pid"] for i in range(TASKS) for e in seen.get("job%d" % i, [])}
    print("info the %d tasks ran in %d worker process(es)" % (TASKS, len(pids)))
    counts = [len(seen.get("g%d" % i, [])) for i in range(4)]
    f.check(counts == [1] * 4, "every group task ran exactly once (%s)" % counts)

    ran = seen.get("countdown", [])
    f.check(len(ran) == 1, "the countdown task ran exactly once (%d runs)" % len(ran))
    if ran:
        t = ran[0]["time"]
        f.check(sent + 3 <= t < sent + 8, "countdown task sent at %.3f ran at %.3f: +%.3f s (not "
                "before +3 s, within +8 s); its ETA was %s" % (sent, t, t - sent, ran[0]["eta"]))
    tries = seen.get("flaky", [])
    f.check([e["retries"] for e in tries] == [0, 1],
            "the flaky task ran twice, retries 0 then 1 (%s)" % [e["retries"] for e in tries])
    if len(tries) == 2:
        gap = tries[1]["time"] - tries[0]["time"]
        f.check(1 <= gap < 6, "its retry ran %.3f s after the first try (countdown=1)" % gap)
        f.check(tries[0]["time"] >= flaky_sent, "first try after it was sent")
    for name in workers:
        with open("%s.log" % name, errors="replace") as log:
            bad = [line.strip() for line in log
                   if any(w in line for w in ("ERROR", "CRITICAL", "Traceback", "WARNING"))]
        f.check(not bad, "worker %s logged no warning or error%s" % (name, "".join(
            "\n       " + line for line in bad[:5])))
    if f.items:
        show_logs(workers)


def main():
    if Celery is None:
        print("python3-celery is not installed: %s" % IMPORT_ERROR)
        return 77
    f = Failures()
    check_tasks(f)
    if f.items:
        print("%d check(s) failed:\n  %s" % (len(f.items), "\n  ".join(f.items)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
