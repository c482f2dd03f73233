#!/usr/bin/python3
"""Differential tests: run each tests/diff/corpus/*.txt script against redis-server (the oracle)
and Docket, and compare the raw reply bytes. Python 3 standard library only.

Usage: run_diff.py --docket PATH [--redis PATH] [--only NAME ...] [-v]
       run_diff.py --self-test          (redis-server on both sides; must report 0 failed)

Corpus syntax (one item per line; blank lines and lines starting with '#' are ignored):
  SET k "a b\\r\\n"         a command, split like redis-cli does (double quotes with \\n \\r \\t \\b
                           \\a \\xHH escapes, single quotes with \\'), sent as a RESP multibulk;
                           one reply is read from each server and the raw bytes are compared.
  !raw BYTES               send BYTES as they are (escapes \\r \\n \\t \\0 \\\\ \\xHH are decoded,
                           anything else is literal; blanks around BYTES are dropped, so
                           write a leading or trailing space as \\x20) and compare one reply.
  !rawn N BYTES            like !raw but read N replies (N = 0: assert that nothing arrives).
                           An empty BYTES sends nothing and only reads.
  !repeat N BYTES          send BYTES N times, read and compare nothing (huge requests).
  !noreply COMMAND         send COMMAND and assert that neither server replies (CLIENT REPLY OFF).
  !expect-close            assert that both servers close the current connection.
  !conn NAME               switch to connection NAME (opened on first use; the first one is
                           "default"). A closed connection is reopened when used again.
  !close                   close the current connection from the client side.
  !sleep MS                sleep MS milliseconds.
  !type-only COMMAND       compare only the type and shape of the reply (TIME, CLIENT ID, ...).
  !sorted COMMAND          compare with every array/set/map in the reply sorted (SCAN, KEYS).
  !sorted-pairs COMMAND    like !sorted, but a flat array is sorted as (name, value) pairs
                           (CONFIG GET in RESP2).
  !hello3                  send HELLO 3 on the current connection and compare the reply's shape.
  !restart                 restart both servers (state, CONFIG and connections reset).
  !requires CMD ...        skip the whole file (reported, not counted) unless Docket knows
                           every CMD according to COMMAND INFO.
Before each file both servers get FLUSHALL and the file gets fresh connections. CONFIG changes
survive into later files, so a file that changes config ends with !restart or restores it.

Every compared item (command, !raw, !noreply, !expect-close) counts once in the closing line
"N passed, N failed"; the exit status is 1 when anything failed.
"""

import argparse
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS_DIR = os.path.join(HERE, "corpus")
REPLY_TIMEOUT = 5.0
SILENCE_WAIT = 0.1
START_TIMEOUT = 10.0


class CorpusError(Exception):
    """A malformed corpus line: a bug in the test, not in a server."""


class Incomplete(Exception):
    """The buffer does not yet hold a whole reply."""


class BadReply(Exception):
    """The server sent bytes that are not RESP."""


class AbortFile(Exception):
    """A server stopped answering; the rest of the corpus file is skipped."""


# ---------------------------------------------------------------------------------------------
# Corpus parsing


def split_args(line):
    """Splits a line the way redis-cli (sdssplitargs) does; raises CorpusError when unbalanced."""
    args, i, n = [], 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        in_dq = in_sq = False
        while True:
            if in_dq:
                if i >= n:
                    raise CorpusError("unbalanced double quotes")
                c = line[i]
                if c == "\\" and i + 3 < n and line[i + 1] == "x" and is_hex(line[i + 2:i + 4]):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    cur += {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a"}.get(
                        line[i], line[i].encode())
                elif c == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        raise CorpusError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    cur += c.encode()
            elif in_sq:
                if i >= n:
                    raise CorpusError("unbalanced single quotes")
                c = line[i]
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    i += 1
                    cur += b"'"
                elif c == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        raise CorpusError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    cur += c.encode()
            else:
                if i >= n or line[i].isspace():
                    break
                c = line[i]
                if c == '"':
                    in_dq = True
                elif c == "'":
                    in_sq = True
                else:
                    cur += c.encode()
            i += 1
        args.append(bytes(cur))


def is_hex(s):
    return len(s) == 2 and all(c in "0123456789abcdefABCDEF" for c in s)


def decode_raw(text):
    """Decodes the escapes of a !raw payload: \\r \\n \\t \\0 \\\\ \\xHH; others stay as written."""
    out, i = bytearray(), 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            simple = {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\"}
            if nxt in simple:
                out += simple[nxt]
                i += 2
                continue
            if nxt == "x" and is_hex(text[i + 2:i + 4]):
                out.append(int(text[i + 2:i + 4], 16))
                i += 4
                continue
        out += c.encode()
        i += 1
    return bytes(out)


def encode_command(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def parse_line(text):
    """Returns (kind, payload, label) for one corpus line, or None for blanks and comments."""
    line = text.rstrip("\r\n")
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if not stripped.startswith("!"):
        return ("cmd", command_payload(stripped), stripped)
    word, _, rest = stripped.partition(" ")
    rest = rest.strip()
    if word == "!raw":
        return ("raw", (1, decode_raw(rest)), stripped)
    if word == "!rawn":
        count, _, data = rest.partition(" ")
        if not count.isdigit():
            raise CorpusError("!rawn needs a reply count")
        return ("raw", (int(count), decode_raw(data.strip())), stripped)
    if word == "!repeat":
        count, _, data = rest.partition(" ")
        if not count.isdigit():
            raise CorpusError("!repeat needs a count")
        return ("send", decode_raw(data.strip()) * int(count), stripped)
    if word in ("!type-only", "!sorted", "!sorted-pairs", "!noreply"):
        return (word[1:], command_payload(rest), stripped)
    if word == "!hello3":
        return ("type-only", encode_command([b"HELLO", b"3"]), stripped)
    if word in ("!conn", "!sleep"):
        if not rest or (word == "!sleep" and not rest.isdigit()):
            raise CorpusError(word + " needs an argument")
        return (word[1:], rest, stripped)
    if word in ("!expect-close", "!restart", "!close"):
        return (word[1:], None, stripped)
    if word == "!requires":
        return ("requires", rest.split(), stripped)
    raise CorpusError("unknown directive " + word)


def command_payload(text):
    args = split_args(text)
    if not args:
        raise CorpusError("empty command")
    return encode_command(args)


def load_corpus(path):
    items = []
    with open(path, encoding="utf-8") as f:
        for lineno, text in enumerate(f, 1):
            try:
                item = parse_line(text)
            except CorpusError as e:
                raise CorpusError("%s:%d: %s" % (os.path.basename(path), lineno, e))
            if item:
                items.append((lineno,) + item)
    return items


# ---------------------------------------------------------------------------------------------
# RESP reader


def read_line_end(buf, pos):
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete()
    return end


def parse_reply(buf, pos=0):
    """Returns the offset just past one complete RESP2/RESP3 reply starting at pos."""
    if pos >= len(buf):
        raise Incomplete()
    kind = buf[pos:pos + 1]
    end = read_line_end(buf, pos)
    header = buf[pos + 1:end]
    nxt = end + 2
    if kind in b"+-:_,#(":
        return nxt
    if kind in b"$=!":
        length = parse_int(header)
        if length < 0:
            return nxt
        if len(buf) < nxt + length + 2:
            raise Incomplete()
        if buf[nxt + length:nxt + length + 2] != b"\r\n":
            raise BadReply("bulk not terminated by CRLF")
        return nxt + length + 2
    if kind in b"*~>%|":
        count = parse_int(header)
        if count < 0:
            return nxt
        if kind in b"%|":
            count *= 2
        for _ in range(count):
            nxt = parse_reply(buf, nxt)
        if kind == b"|":
            return parse_reply(buf, nxt)  # an attribute is followed by the reply it describes
        return nxt
    raise BadReply("unknown reply type %r" % kind)


def parse_int(header):
    try:
        return int(header)
    except ValueError:
        raise BadReply("bad length %r" % header)


def split_children(raw):
    """Returns (kind, header, [child raw replies]) of one raw reply."""
    kind = raw[0:1]
    end = raw.find(b"\r\n")
    header = raw[1:end]
    children, pos = [], end + 2
    if kind in b"*~>%|" and int(header) > 0:
        count = int(header) * (2 if kind in b"%|" else 1)
        for _ in range(count):
            nxt = parse_reply(raw, pos)
            children.append(raw[pos:nxt])
            pos = nxt
    return kind, header, children


TYPE_NAMES = {b"+": "simple", b"-": "error", b":": "integer", b"$": "bulk", b"*": "array",
              b"~": "set", b">": "push", b"%": "map", b"|": "attribute", b"_": "null",
              b",": "double", b"#": "boolean", b"(": "bignum", b"=": "verbatim", b"!": "bulkerror"}


def shape(raw):
    """A description of a reply's type and structure, without its values."""
    kind, header, children = split_children(raw)
    name = TYPE_NAMES.get(kind, repr(kind))
    if kind in b"$*" and header.startswith(b"-"):
        return "null-" + name
    if kind not in b"*~>%|":
        return name
    inner = [shape(c) for c in children]
    if kind in b"%|":
        inner = ["%s:%s" % (inner[i], inner[i + 1]) for i in range(0, len(inner), 2)]
    return "%s[%s](%s)" % (name, header.decode(), ",".join(inner))


def sort_reply(raw, pairs=False):
    """Rebuilds a reply with every aggregate's elements sorted (maps and pairs by entry)."""
    kind, header, children = split_children(raw)
    if kind not in b"*~%" or not children:
        return raw
    children = [sort_reply(c, pairs) for c in children]
    if kind == b"%" or (pairs and kind == b"*" and len(children) % 2 == 0):
        entries = [(children[i], children[i + 1]) for i in range(0, len(children), 2)]
        entries.sort()
        body = b"".join(k + v for k, v in entries)
    else:
        body = b"".join(sorted(children))
    return kind + header + b"\r\n" + body


# ---------------------------------------------------------------------------------------------
# Connections and servers


CLOSED = "<connection closed>"
TIMEOUT = "<no reply within"
SETTINGS = {"reply_timeout": REPLY_TIMEOUT}


def reply_timeout():
    return SETTINGS["reply_timeout"]


class Conn:
    """One client connection; read() returns the raw bytes of one reply or a CLOSED/TIMEOUT mark."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=reply_timeout())
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.dead = False

    def send(self, data):
        if self.dead:
            return
        try:
            self.sock.sendall(data)
        except OSError:
            pass  # the peer closed or stopped reading; the next read reports what it sent

    def fill(self, deadline):
        """Reads more bytes; returns False on EOF, reset or timeout."""
        if self.dead:
            return False
        remaining = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            return False
        try:
            chunk = self.sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            self.dead = True
            return False
        self.buf += chunk
        return True

    def read(self, timeout=None):
        timeout = timeout or reply_timeout()
        deadline = time.monotonic() + timeout
        while True:
            try:
                end = parse_reply(self.buf)
                raw, self.buf = self.buf[:end], self.buf[end:]
                return raw
            except Incomplete:
                pass
            except BadReply as e:
                raw, self.buf = self.buf, b""
                return "<not RESP: %s: %r>" % (e, raw)
            if self.dead:
                return CLOSED + (" after %r" % self.buf if self.buf else "")
            if not self.fill(deadline):
                if self.dead:
                    continue
                mark = "%s %gs>" % (TIMEOUT, timeout) + (
                    " (partial %r)" % self.buf if self.buf else "")
                self.close()  # replies on this connection would be out of step from now on
                return mark

    def pending(self, wait=0.005):
        """The bytes that arrived and were not read as a reply."""
        if not self.dead:
            self.fill(time.monotonic() + wait)
        return self.buf

    def silent(self, wait=SILENCE_WAIT):
        """True when nothing arrives within wait seconds and the connection stays open."""
        if not self.buf:
            self.fill(time.monotonic() + wait)
        return not self.buf and not self.dead

    def closes(self, timeout=None):
        """Returns None when the server closes the connection, else what arrived instead."""
        timeout = timeout or reply_timeout()
        deadline = time.monotonic() + timeout
        while not self.dead:
            if not self.fill(deadline) and not self.dead:
                return "still open after %.0fs" % timeout
        return "sent %r before closing" % self.buf if self.buf else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.dead = True


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return port if port != 6379 else free_port()


class Server:
    """A server process in its own temp dir, stopped by pid."""

    def __init__(self, name, binary):
        self.name, self.binary = name, binary
        self.proc, self.port, self.dir = None, None, None

    def start(self):
        for _ in range(3):
            self.dir = tempfile.mkdtemp(prefix="docket-diff-%s-" % self.name)
            self.port = free_port()
            args = [self.binary, "--port", str(self.port), "--dir", self.dir,
                    "--save", "", "--appendonly", "no"]
            log = open(os.path.join(self.dir, "server.log"), "wb")
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
            log.close()
            if self.wait_ready():
                return
            self.stop()
        raise RuntimeError("%s (%s) did not answer PING" % (self.name, self.binary))

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                print(self.log_tail(), file=sys.stderr)
                return False
            try:
                conn = Conn(self.port)
                conn.send(b"*1\r\n$4\r\nPING\r\n")
                ok = conn.read() == b"+PONG\r\n"
                conn.close()
                if ok:
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=20):
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                tail = f.read().decode("utf-8", "replace").splitlines()[-lines:]
            return "\n".join("    | " + l for l in tail)
        except OSError:
            return "    | (no log)"

    def stop(self):
        if self.proc is not None:
            # The server was started in its own session: signal that group, so a wrapper
            # script's children go too. Only processes this harness started are in it.
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def signal(self, signum):
        try:
            os.killpg(self.proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def restart(self):
        self.stop()
        self.start()

    def responsive(self):
        """True when the server is running and answers PING on a new connection."""
        if not self.alive():
            return False
        try:
            conn = Conn(self.port)
            conn.send(b"*1\r\n$4\r\nPING\r\n")
            ok = conn.read(timeout=2.0) == b"+PONG\r\n"
            conn.close()
            return ok
        except OSError:
            return False

    def flushall(self):
        """Empties every database; False when the server does not answer +OK."""
        try:
            conn = Conn(self.port)
            conn.send(encode_command([b"FLUSHALL"]))
            ok = conn.read() == b"+OK\r\n"
            conn.close()
            return ok
        except OSError:
            return False


# ---------------------------------------------------------------------------------------------
# Running a corpus file


class Run:
    """Compares replies of one corpus file across the two servers and counts results."""

    def __init__(self, servers, verbose):
        self.servers = servers  # [oracle, subject]
        self.verbose = verbose
        self.passed = self.failed = 0
        self.conns = {}
        self.current = "default"

    # connections -----------------------------------------------------------------------------

    def conn_pair(self):
        pair = self.conns.get(self.current)
        if pair is None or any(c.dead for c in pair):
            if pair:
                for c in pair:
                    c.close()
            pair = [Conn(s.port) for s in self.servers]
            self.conns[self.current] = pair
        return pair

    def check_leftovers(self, where):
        """Fails when a connection holds replies that no item read (a corpus or server bug).
        Replies arrive in order, so any extra one is already here once the last was read."""
        for name, pair in sorted(self.conns.items()):
            extra = [c.pending() for c in pair]
            if any(extra):
                self.record(where, "unread replies on connection %s" % name, False,
                            [(s.name, repr(e)) for s, e in zip(self.servers, extra)])

    def close_all(self):
        for pair in self.conns.values():
            for c in pair:
                c.close()
        self.conns = {}
        self.current = "default"

    # results ---------------------------------------------------------------------------------

    def record(self, where, label, ok, details):
        if ok:
            self.passed += 1
            if self.verbose:
                shown = details[0][1]
                print("ok   %s: %s\n       %s" % (where, label,
                                               shown if len(shown) < 300 else shown[:300] + "..."))
            return
        self.failed += 1
        print("FAIL %s: %s" % (where, label))
        for name, text in details:
            print("    %-7s %s" % (name + ":", text))

    def compare(self, where, label, replies, view=None):
        names = [s.name for s in self.servers]
        texts = [r if isinstance(r, str) else view(r) if view else r for r in replies]
        # A missing reply (timeout, closed connection) fails even when both servers agree.
        ok = texts[0] == texts[1] and all(not isinstance(r, str) for r in replies)
        start = 0 if ok else first_difference(replies)
        details = []
        for name, reply, text in zip(names, replies, texts):
            shown = clip(reply, start)
            if view is not None and not isinstance(reply, str):
                shown += "  [%s]" % clip(text, 0)
            details.append((name, shown))
        self.record(where, label, ok, details)
        self.check_hung(replies)

    def check_hung(self, replies):
        """After a timeout, a server that does not answer PING is hung: abort the file."""
        for server, reply in zip(self.servers, replies):
            if isinstance(reply, str) and TIMEOUT in reply and not server.responsive():
                raise AbortFile("%s does not answer PING" % server.name)

    # items -----------------------------------------------------------------------------------

    def run_item(self, where, kind, payload, label):
        if kind in ("cmd", "type-only", "sorted", "sorted-pairs"):
            view = {"cmd": None, "type-only": shape, "sorted": sort_reply,
                    "sorted-pairs": lambda r: sort_reply(r, pairs=True)}[kind]
            pair = self.conn_pair()
            for c in pair:
                c.send(payload)
            self.compare(where, label, [c.read() for c in pair], view)
        elif kind == "raw":
            self.run_raw(where, label, *payload)
        elif kind == "noreply":
            pair = self.conn_pair()
            for c in pair:
                c.send(payload)
            self.check_silent(where, label, pair)
        elif kind == "expect-close":
            pair = self.conns.get(self.current) or self.conn_pair()
            results = [c.closes() for c in pair]
            self.record(where, label, all(r is None for r in results),
                        [(s.name, r or "closed") for s, r in zip(self.servers, results)])
        elif kind == "send":
            for c in self.conn_pair():
                c.send(payload)
        elif kind == "close":
            for c in self.conns.pop(self.current, []):
                c.close()
        elif kind == "conn":
            self.current = payload
        elif kind == "sleep":
            time.sleep(int(payload) / 1000.0)
        elif kind == "restart":
            self.close_all()
            for s in self.servers:
                s.restart()

    def run_raw(self, where, label, count, data):
        pair = self.conn_pair()
        for c in pair:
            c.send(data)
        if count == 0:
            self.check_silent(where, label, pair)
            return
        replies = [[], []]
        for i, c in enumerate(pair):
            for _ in range(count):
                r = c.read()
                replies[i].append(r)
                if isinstance(r, str):
                    break
        self.compare(where, label, [join_replies(x) for x in replies])

    def check_silent(self, where, label, pair):
        time.sleep(SILENCE_WAIT)  # one wait for both servers, then look without waiting
        quiet = [c.silent(wait=0) for c in pair]
        self.record(where, label, all(quiet),
                    [(s.name, "silent" if q else "replied %r%s" % (
                        c.buf, " and closed" if c.dead else ""))
                     for s, c, q in zip(self.servers, pair, quiet)])
        for c in pair:
            c.buf = b""


LONG_REPLY = 600


def first_difference(replies):
    """The offset of the first byte where two raw replies differ (0 when one is a mark)."""
    a, b = replies
    if not isinstance(a, bytes) or not isinstance(b, bytes):
        return 0
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def clip(reply, start):
    """repr() of a reply; a long one is cut to a window around offset start."""
    if isinstance(reply, str) or len(reply) <= LONG_REPLY:
        return repr(reply) if isinstance(reply, bytes) else reply
    lo = max(0, start - LONG_REPLY // 3)
    window = reply[lo:lo + LONG_REPLY]
    return "(%d bytes; from offset %d) %r..." % (len(reply), lo, window)


def join_replies(replies):
    """The bytes of several replies, or a mark (str) when one of them is missing."""
    if all(isinstance(r, bytes) for r in replies):
        return b"".join(replies)
    if len(replies) == 1:
        return replies[0]
    return "%r" % replies


def docket_supports(server, commands):
    """True when COMMAND INFO on server knows every command."""
    try:
        conn = Conn(server.port)
        conn.send(encode_command([b"COMMAND", b"INFO"] + [c.encode() for c in commands]))
        raw = conn.read()
        conn.close()
    except OSError:
        return False
    if isinstance(raw, str) or raw[:1] != b"*":
        return False
    _, _, children = split_children(raw)
    return len(children) == len(commands) and all(c[:1] == b"*" and c != b"*-1\r\n"
                                                  for c in children)


def ensure_running(servers):
    for s in servers:
        if not s.alive():
            print("!!! %s is not running (exit status %s); restarting it" %
                  (s.name, s.proc.returncode if s.proc else "?"))
            print(s.log_tail())
            s.restart()


def run_file(path, servers, totals, verbose):
    name = os.path.basename(path)
    items = load_corpus(path)
    ensure_running(servers)
    requires = [c for _, kind, payload, _ in items if kind == "requires" for c in payload]
    if requires and not docket_supports(servers[1], requires):
        totals["skipped"].append("%s (needs %s)" % (name, " ".join(requires)))
        return
    for s in servers:
        if not s.flushall():
            print("!!! %s: FLUSHALL failed on %s; restarting it" % (name, s.name))
            s.restart()
    run = Run(servers, verbose)
    lineno, label = 0, "(start of file)"
    try:
        for lineno, kind, payload, label in items:
            if kind == "requires":
                continue
            run.run_item("%s:%d" % (name, lineno), kind, payload, label)
            dead = [s for s in servers if not s.alive()]
            if dead:
                raise AbortFile(" and ".join(s.name for s in dead) + " died")
        run.check_leftovers("%s:end" % name)
    except (AbortFile, OSError) as e:
        print("!!! %s:%d: %s after: %s; skipping the rest of the file" % (name, lineno, e, label))
        run.failed += 1
        for s in servers:
            if not s.responsive():
                print("    %s log:\n%s" % (s.name, s.log_tail()))
                s.restart()
    finally:
        run.close_all()
    totals["passed"] += run.passed
    totals["failed"] += run.failed
    ensure_running(servers)


def select_files(only):
    files = sorted(f for f in os.listdir(CORPUS_DIR) if f.endswith(".txt"))
    if only:
        wanted = {o[:-4] if o.endswith(".txt") else o for o in only}
        unknown = wanted - {f[:-4] for f in files}
        if unknown:
            raise SystemExit("no such corpus file: %s" % ", ".join(sorted(unknown)))
        files = [f for f in files if f[:-4] in wanted]
    return [os.path.join(CORPUS_DIR, f) for f in files]


def interrupt(signum, frame):
    raise KeyboardInterrupt()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docket", help="path to docket-server")
    parser.add_argument("--redis", default="/usr/bin/redis-server", help="the oracle")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="corpus files to run")
    parser.add_argument("--self-test", action="store_true", help="redis-server on both sides")
    parser.add_argument("--timeout", type=float, default=REPLY_TIMEOUT,
                        help="seconds to wait for one reply (default %(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print passing items too")
    opts = parser.parse_args()
    if opts.self_test:
        opts.docket = opts.redis
    SETTINGS["reply_timeout"] = opts.timeout
    if not opts.docket:
        parser.error("--docket PATH (or --self-test) is required")
    for binary in (opts.redis, opts.docket):
        if not os.access(binary, os.X_OK):
            raise SystemExit("not an executable: %s" % binary)
    files = select_files(opts.only)
    for f in files:
        load_corpus(f)  # report corpus syntax errors before starting anything

    signal.signal(signal.SIGTERM, interrupt)
    servers = [Server("redis", opts.redis), Server("docket", opts.docket)]
    totals = {"passed": 0, "failed": 0, "skipped": []}
    try:
        for s in servers:
            s.start()
        for f in files:
            run_file(f, servers, totals, opts.verbose)
    except KeyboardInterrupt:
        print("interrupted")
        totals["failed"] += 1
    except RuntimeError as e:  # a server that cannot be (re)started ends the run
        print("!!! %s" % e)
        totals["failed"] += 1
    finally:
        for s in servers:
            s.stop()
    for skipped in totals["skipped"]:
        print("skipped %s" % skipped)
    print("%d passed, %d failed" % (totals["passed"], totals["failed"]))
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
