#!/usr/bin/python3
"""RQ (python3-rq) end to end against the server at DOCKET_PORT: two `rq worker --burst`
processes share 20 jobs (each runs exactly once, results stored and fetched), a failing job lands
in the failed job registry with its traceback, and a `rq worker --with-scheduler` runs jobs given
to enqueue_in / enqueue_at no earlier than their time. The job functions live in this file, so
workers import it as the module `test_rq` (the runner puts tests/e2e on PYTHONPATH).
"""

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

# e2e-timeout: 60

QUEUE = "e2e"
JOBS = 20


# ---- job functions (run inside the workers) -------------------------------------------------

def record(tag, value):
    """Appends "tag pid time" to runs.log in the cwd (the test's temp dir), returns value * 2."""
    with open("runs.log", "a") as f:
        f.write("%s %d %.3f\n" % (tag, os.getpid(), time.time()))
    return {"tag": tag, "double": value * 2}


def boom(message):
    raise ValueError(message)


# ---- the test ---------------------------------------------------------------------------------

class Failures:
    def __init__(self):
        self.items = []

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.items.append(what)


def attempt(fn):
    """fn(), or the text of the exception it raised (a server error reply, say)."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        return "raised %s: %s" % (type(e).__name__, e)


def runs():
    """tag -> list of (pid, time) from runs.log."""
    out = {}
    if os.path.exists("runs.log"):
        with open("runs.log") as f:
            for line in f:
                tag, pid, t = line.split()
                out.setdefault(tag, []).append((int(pid), float(t)))
    return out


def worker_cmd(url, *extra):
    here = os.path.dirname(os.path.abspath(__file__))
    return ["/usr/bin/rq", "worker", "--url", url, "--path", here, "--logging_level", "WARNING",
            *extra, QUEUE]


def start_worker(url, name, *extra):
    log = open("%s.log" % name, "wb")
    return subprocess.Popen(worker_cmd(url, "--name", name, *extra), stdout=log,
                            stderr=subprocess.STDOUT)


def show_log(name):
    with open("%s.log" % name, errors="replace") as f:
        text = f.read().strip()
    if text:
        print("---- %s.log\n%s" % (name, text[-3000:]))


def burst_phase(conn, url, f):
    from rq import Queue
    from rq.job import Job
    from rq.registry import FailedJobRegistry, FinishedJobRegistry

    import test_rq  # enqueue by module path so that the workers can import the functions

    q = Queue(QUEUE, connection=conn)
    jobs = [q.enqueue(test_rq.record, "job%d" % i, i, result_ttl=600) for i in range(JOBS)]
    bad = q.enqueue(test_rq.boom, "it went wrong", failure_ttl=600)
    f.check(q.count == JOBS + 1, "queue holds %d jobs before the workers start (%d)"
            % (JOBS + 1, q.count))
    f.check(jobs[0].get_status() == "queued", "a job is 'queued' before it runs")

    workers = [start_worker(url, "burst%d" % i, "--burst") for i in range(2)]
    for i, w in enumerate(workers):
        try:
            code = w.wait(timeout=30)
        except subprocess.TimeoutExpired:
            w.kill()
            code = "timeout"
        # A burst worker exits 0 even when a job failed; anything else is a worker problem.
        f.check(code == 0, "burst worker %d exited 0 (%s)" % (i, code))
        if code != 0:
            show_log("burst%d" % i)

    seen = runs()
    counts = [len(seen.get("job%d" % i, [])) for i in range(JOBS)]
    f.check(counts == [1] * JOBS, "every job ran exactly once (run counts %s)" % counts)
    f.check(q.count == 0, "queue is empty afterwards (%d left)" % q.count)
    for i, job in enumerate(jobs):
        fetched = Job.fetch(job.id, connection=conn)
        result = attempt(fetched.return_value)
        if fetched.get_status() != "finished" or result != {"tag": "job%d" % i, "double": 2 * i}:
            f.check(False, "job%d finished with its result (status %s, result %r)"
                    % (i, fetched.get_status(), result))
            break
    else:
        f.check(True, "all %d jobs 'finished', results fetched with Job.fetch" % JOBS)
    finished = set(FinishedJobRegistry(queue=q).get_job_ids())
    f.check(finished >= {j.id for j in jobs}, "finished job registry lists every job")

    failed_ids = FailedJobRegistry(queue=q).get_job_ids()
    f.check(failed_ids == [bad.id], "failed job registry holds the failing job (%s)" % failed_ids)
    bad = Job.fetch(bad.id, connection=conn)
    f.check(bad.get_status() == "failed", "failing job's status is 'failed' (%s)"
            % bad.get_status())
    latest = attempt(bad.latest_result)
    exc = getattr(latest, "exc_string", None) or bad.exc_info or ""
    f.check("ValueError: it went wrong" in exc, "its traceback is stored (%r)" % exc[-80:])


def scheduler_phase(conn, url, f):
    from rq import Queue
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    import test_rq

    q = Queue(QUEUE, connection=conn)
    worker = start_worker(url, "sched", "--with-scheduler")
    try:
        t0 = time.time()
        in_job = q.enqueue_in(timedelta(seconds=2), test_rq.record, "in", 1)
        at_time = datetime.now(timezone.utc) + timedelta(seconds=3)
        at_job = q.enqueue_at(at_time, test_rq.record, "at", 2)
        f.check(in_job.get_status() == "scheduled", "enqueue_in job is 'scheduled'")
        scheduled = set(ScheduledJobRegistry(queue=q).get_job_ids())
        f.check(scheduled == {in_job.id, at_job.id}, "both jobs in the scheduled job registry")
        # RQ keeps due times in whole seconds (the score is the truncated unix time) and its
        # scheduler compares them with the truncated clock, so a job is due at floor(due).
        in_due, at_due = int(t0 + 2), int(at_time.timestamp())
        time.sleep(0.8)
        f.check("in" not in runs(), "the enqueue_in job has not run after 0.8 s")
        deadline = time.time() + 20
        while time.time() < deadline and not {"in", "at"} <= runs().keys():
            time.sleep(0.2)
        seen = runs()
        f.check(len(seen.get("in", [])) == 1 and len(seen.get("at", [])) == 1,
                "the scheduled jobs ran once each (%s)"
                % {k: v for k, v in seen.items() if k in ("in", "at")})
        for tag, due in (("in", in_due), ("at", at_due)):
            if tag in seen:
                ran = seen[tag][0][1]
                f.check(due <= ran < due + 5, "enqueue_%s job due at %d ran at %.2f (not earlier, "
                        "within 5 s)" % (tag, due, ran))
        for job in (in_job, at_job):
            deadline = time.time() + 5
            while time.time() < deadline and job.get_status() != "finished":
                time.sleep(0.1)
        result = attempt(Job.fetch(in_job.id, connection=conn).return_value)
        f.check(result == {"tag": "in", "double": 2},
                "the enqueue_in job's result is stored (%r)" % (result,))
        f.check(ScheduledJobRegistry(queue=q).get_job_ids() == [],
                "scheduled job registry is empty afterwards")
    finally:
        worker.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            code = worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            code = "killed after 15 s"
        f.check(code == 0, "scheduler worker stopped cleanly on SIGTERM (%s)" % code)
        if f.items:
            show_log("sched")


def main():
    try:
        import redis
        import rq  # noqa: F401
    except ImportError as e:
        print("python3-rq is not installed: %s" % e)
        return 77
    port = int(os.environ.get("DOCKET_PORT") or sys.argv[1])
    url = "redis://127.0.0.1:%d/0" % port
    conn = redis.Redis(host="127.0.0.1", port=port)
    f = Failures()
    burst_phase(conn, url, f)
    scheduler_phase(conn, url, f)
    if f.items:
        print("%d check(s) failed:\n  %s" % (len(f.items), "\n  ".join(f.items)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
