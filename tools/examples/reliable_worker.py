#!/usr/bin/python3
"""A reliable work queue on Docket (or Redis) lists: the BLMOVE pattern. Python 3 stdlib only.

Jobs wait in the list `jobs:pending`: producers LPUSH, workers take the oldest from the right. A
worker takes a job with one atomic command,

    BLMOVE jobs:pending jobs:processing:<worker> RIGHT LEFT <timeout>

so at every moment a job is in exactly one list: never lost if the worker dies mid-job. When the
job is done the worker deletes it with `LREM jobs:processing:<worker> 1 <job>`. A live worker keeps
a heartbeat key `jobs:alive:<worker>` (SET ... PX); `--recover` moves the jobs of workers whose
heartbeat has expired back to the head of `jobs:pending` with LMOVE, one atomic move per job. A
job is run at least once: one whose worker died after finishing it but before the LREM runs again.

    reliable_worker.py --enqueue 100 [--work-ms 50]   # producer: 100 jobs
    reliable_worker.py --name w1 [--max-jobs N] [--exit-when-idle] [--crash-after K]
    reliable_worker.py --recover [WORKER] [--force]   # requeue a dead worker's jobs (all dead ones)
    reliable_worker.py --status
"""

import argparse
import json
import os
import signal
import socket
import sys
import time

PENDING = "jobs:pending"
PROCESSING = "jobs:processing:"  # + worker name
ALIVE = "jobs:alive:"            # + worker name; the heartbeat
FAILED = "jobs:failed"
DONE_COUNT = "jobs:done"
NEXT_ID = "jobs:next-id"


class ReplyError(Exception):
    """An error reply (-ERR ..., -WRONGTYPE ...) from the server."""


class Client:
    """A minimal RESP2 client: one connection, one command at a time."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.reader = self.sock.makefile("rb")

    def call(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(parts))
        return self._read()

    def _read(self):
        line = self.reader.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise ReplyError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.reader.read(size + 2)[:-2]
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._read() for _ in range(size)]
        raise ConnectionError("unexpected reply %r" % line)


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


# ---- producer ----------------------------------------------------------------------------------

def enqueue(client, count, work_ms):
    """LPUSHes count jobs; each carries a unique id (INCR) so that LREM removes exactly it."""
    last = client.call("INCRBY", NEXT_ID, count)
    jobs = [json.dumps({"id": job_id, "work_ms": work_ms}) for job_id in
            range(last - count + 1, last + 1)]
    for start in range(0, len(jobs), 1000):
        length = client.call("LPUSH", PENDING, *jobs[start:start + 1000])
    log("enqueued %d jobs (ids %d..%d); %s holds %d" % (count, last - count + 1, last,
                                                        PENDING, length))


# ---- worker ------------------------------------------------------------------------------------

def run_job(job):
    """The work itself: here, sleep for the job's work_ms. A job with "fail": true raises."""
    spec = json.loads(job)
    time.sleep(spec.get("work_ms", 0) / 1000.0)
    if spec.get("fail"):
        raise RuntimeError("job %s asked to fail" % spec.get("id"))


class Worker:
    def __init__(self, client, name, args):
        self.client = client
        self.name = name
        self.processing = PROCESSING + name
        self.args = args
        self.stopping = False

    def heartbeat(self):
        self.client.call("SET", ALIVE + self.name, str(os.getpid()), "PX",
                         int(self.args.heartbeat_ttl * 1000))

    def take(self):
        """One job moved atomically into our processing list, or None after the poll timeout."""
        return self.client.call("BLMOVE", PENDING, self.processing, "RIGHT", "LEFT",
                                self.args.poll)

    def finish(self, job):
        # Without MULTI the two steps are separate: the job goes to jobs:failed first, then leaves
        # the processing list, so a crash in between duplicates it rather than losing it.
        try:
            run_job(job)
        except Exception as e:  # the job's own failure (or a malformed job), not the queue's
            self.client.call("LPUSH", FAILED, job)
            outcome = "failed (%s)" % e
        else:
            self.client.call("INCR", DONE_COUNT)
            outcome = "done"
        removed = self.client.call("LREM", self.processing, 1, job)
        if removed != 1:
            log("warning: %s was not in %s (recovered by someone else?)" % (job, self.processing))
        return outcome

    def run(self):
        if self.client.call("LLEN", self.processing) > 0:
            sys.exit("%s is not empty: a previous worker named %s died; run --recover %s first"
                     % (self.processing, self.name, self.name))
        taken = 0
        log("worker %s waiting on %s" % (self.name, PENDING))
        while not self.stopping and (self.args.max_jobs == 0 or taken < self.args.max_jobs):
            self.heartbeat()
            job = self.take()
            if job is None:
                if self.args.exit_when_idle:
                    break
                continue
            taken += 1
            if taken == self.args.crash_after:
                log("crashing on purpose while holding %s" % job.decode())
                os._exit(3)  # no cleanup: the job stays in our processing list
            log("job %s: %s" % (job.decode(), self.finish(job)))
        self.client.call("DEL", ALIVE + self.name)
        log("worker %s stops after %d jobs" % (self.name, taken))


# ---- recovery and status -----------------------------------------------------------------------

def processing_lists(client):
    """The names of workers that have a processing list, found with SCAN."""
    cursor, names = "0", []
    while True:
        cursor, keys = client.call("SCAN", cursor, "MATCH", PROCESSING + "*", "COUNT", 100)
        names += [k.decode()[len(PROCESSING):] for k in keys]
        cursor = cursor.decode()
        if cursor == "0":
            return sorted(set(names))


def recover(client, worker, force):
    """Moves every job of worker's processing list back to the head (right end) of the pending
    list, newest first, so the oldest ends rightmost and is taken first. Each LMOVE is atomic."""
    if client.call("EXISTS", ALIVE + worker) and not force:
        log("worker %s is alive (its heartbeat has not expired); use --force" % worker)
        return 0
    moved = 0
    while client.call("LMOVE", PROCESSING + worker, PENDING, "LEFT", "RIGHT") is not None:
        moved += 1
    log("recovered %d job(s) of worker %s into %s" % (moved, worker, PENDING))
    return moved


def status(client):
    print("%s: %d" % (PENDING, client.call("LLEN", PENDING)))
    for name in processing_lists(client):
        alive = "alive" if client.call("EXISTS", ALIVE + name) else "dead"
        print("%s%s: %d (%s)" % (PROCESSING, name, client.call("LLEN", PROCESSING + name), alive))
    print("%s: %d" % (FAILED, client.call("LLEN", FAILED)))
    print("%s: %s" % (DONE_COUNT, (client.call("GET", DONE_COUNT) or b"0").decode()))


# ---- command line ------------------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6379)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--enqueue", type=int, metavar="N", help="push N jobs and exit")
    mode.add_argument("--recover", nargs="?", const="", metavar="WORKER",
                      help="requeue the jobs of WORKER, or of every worker that looks dead")
    mode.add_argument("--status", action="store_true", help="print the queue lengths")
    p.add_argument("--work-ms", type=int, default=50, help="--enqueue: each job's duration")
    p.add_argument("--force", action="store_true", help="--recover: even a live worker's jobs")
    p.add_argument("--name", default="%s-%d" % (socket.gethostname(), os.getpid()),
                   help="worker name (default host-pid)")
    p.add_argument("--poll", type=float, default=1.0,
                   help="BLMOVE timeout in seconds (decimal); the worker checks for a stop "
                        "request and refreshes its heartbeat this often")
    p.add_argument("--heartbeat-ttl", type=float, default=10.0,
                   help="seconds; must exceed --poll plus the longest job")
    p.add_argument("--max-jobs", type=int, default=0, help="stop after N jobs (0: never)")
    p.add_argument("--exit-when-idle", action="store_true", help="stop when a poll finds nothing")
    p.add_argument("--crash-after", type=int, default=0, metavar="K",
                   help="demo: die without cleanup while holding the K-th job")
    return p.parse_args()


def main():
    args = parse_args()
    client = Client(args.host, args.port)
    if args.enqueue is not None:
        enqueue(client, args.enqueue, args.work_ms)
    elif args.status:
        status(client)
    elif args.recover is not None:
        workers = [args.recover] if args.recover else processing_lists(client)
        for worker in workers:
            recover(client, worker, args.force)
    else:
        worker = Worker(client, args.name, args)

        def stop(signum, frame):
            log("stopping after the current job")
            worker.stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        worker.run()


if __name__ == "__main__":
    main()
