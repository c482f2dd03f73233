#!/usr/bin/python3
"""Randomized differential tester: sends the same seeded random command sequences to
redis-server (the oracle) and Docket, and compares the raw reply bytes. Python 3 stdlib only;
reuses the server and connection helpers of tests/diff/run_diff.py.

Usage: difffuzz.py --docket bin/docket-server [--redis PATH] [--seed N] [--commands N]
                   [--families strings,keys,...] [--session N] [--resp3-share F] [--no-reduce]

Commands come from a small alphabet of keys, members and values, so that they collide on the
same keys (wrong types included). Each session starts from FLUSHALL with fresh connections (a
share of them in RESP3 after HELLO 3) and runs --session commands. On a mismatch the history
of the session is printed, reduced (delta debugging, on by default) to the fewest commands that
still give the mismatch, and printed again in corpus syntax (tests/diff/corpus); the session
then ends, since the two servers' states may have diverged. Replies that are legitimately
unordered (SMEMBERS, HGETALL on a hashtable, ...) are compared sorted, and time-dependent
integers (TTL, PTTL, idle times) with a tolerance. Exit status 1 when anything mismatched.
"""

import argparse
import os
import random
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "diff"))

from run_diff import (Conn, Server, encode_command, parse_reply,  # noqa: E402
                      split_children)

# ---------------------------------------------------------------------------------------------
# Alphabets

KEYS = ["k1", "k2", "k3", "k4"]
MEMBERS = ["a", "b", "c", "d", "e", "1", "2", "10", "-3", "x y"]
LONG = "v" * 70  # past the 64-byte listpack value limit: forces hashtable / skiplist / raw
VALUES = ["", "a", "abc", "1", "-5", "10", "3.14", "1e3", " 1", "0x10", "9223372036854775807",
          "-9223372036854775808", "inf", "nan", LONG, "\x00\xff", "hello world", "007"]
INTS = ["0", "1", "2", "3", "5", "-1", "-2", "-100", "100", "abc", "1.5", "",
        "9223372036854775807", "-9223372036854775808", "18446744073709551616"]
SMALL = ["0", "1", "2", "3", "-1", "-2", "10"]
SCORES = ["0", "1", "-1", "1.5", "2", "3", "10", "inf", "-inf", "+inf", "nan", "abc", "1e308",
          "-0", "0.1", "(1"]  # no "1e400": see README (SORT after an out-of-range float)
RANGE_SCORES = ["-inf", "+inf", "0", "1", "(1", "2", "(2", "1.5", "-1", "abc", "(", "10"]
LEX = ["-", "+", "[a", "(a", "[b", "(c", "[d", "[e", "a", "(", "[", "[1", "(x y"]
FLOATS = ["1", "-1", "0.5", "1.5e2", "inf", "abc", "3.0", "-0", "1e308", "0.1", "5"]
STREAM_IDS = ["1-1", "1-2", "2-0", "2", "3-5", "5-*", "0-0", "0-1", "10", "1-*", "abc",
              "18446744073709551615-18446744073709551615", "4-18446744073709551615"]
RANGE_IDS = ["-", "+", "0", "1", "1-2", "(1-1", "(2", "3-0", "5", "(0-0", "abc",
             "18446744073709551615"]
GROUPS = ["g1", "g2"]
CONSUMERS = ["c1", "c2"]

# Commands whose reply order is legitimately implementation-dependent: compared sorted.
UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "KEYS", "HKEYS", "HVALS", "HGETALL",
             "SPOP", "SRANDMEMBER", "HRANDFIELD", "SCAN", "HSCAN", "SSCAN", "ZSCAN"}
# Random without their count argument: never cut short.
RANDOM = {"SPOP", "SRANDMEMBER", "HRANDFIELD", "ZRANDMEMBER"}
# Flat arrays of (name, value) pairs among those: sorted by pair.
PAIRS = {"HGETALL", "HSCAN", "ZSCAN"}
# Lex ranges on a skiplist with mixed scores: Redis's answer depends on the nodes' random
# levels. A mismatch there is checked (lex_is_random) and not reported.
LEX_COMMANDS = {"ZLEXCOUNT", "ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZREMRANGEBYLEX"}
# Time-dependent integer replies: compared with a tolerance.
TOLERANCE = {"TTL": 1, "PTTL": 100, "EXPIRETIME": 1, "PEXPIRETIME": 100}


class Step:
    """One command sent on connection conn; mode says how its replies are compared."""

    def __init__(self, args, conn=0, sort=False, tol=0, mask=()):
        self.args = [a if isinstance(a, bytes) else a.encode("latin-1") for a in args]
        self.conn = conn
        self.sort, self.tol, self.mask = sort, tol, set(mask)
        self.lexkey = None  # set on a step that shows the result of a lex range elsewhere

    def name(self):
        return self.args[0].decode("latin-1").upper() if self.args else ""

    def line(self):
        text = " ".join(quote(a) for a in self.args)
        return text if self.conn == 0 else "[conn %d] %s" % (self.conn, text)


def quote(arg):
    """Formats one argument for the corpus syntax (redis-cli quoting)."""
    if arg and all(33 <= c < 127 and c not in b"\"'\\" for c in arg):
        return arg.decode()
    out = []
    for c in arg:
        if c == 0x22 or c == 0x5c:
            out.append("\\" + chr(c))
        elif 32 <= c < 127:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return '"%s"' % "".join(out)


def cmd(*args, **kw):
    """Builds a Step, deriving how to compare it from the command name."""
    step = Step(list(args), **kw)
    name = step.name()
    if name in UNORDERED:
        step.sort = True
    step.tol = max(step.tol, TOLERANCE.get(name, 0))
    return step


# ---------------------------------------------------------------------------------------------
# Generators: each returns a list of Steps


class Gen:
    def __init__(self, rng):
        self.r = rng
        self.clock = 1  # the ms part of growing stream ids, reset per session

    def pick(self, seq):
        return self.r.choice(seq)

    def key(self):
        return self.pick(KEYS)

    def keys(self, lo=1, hi=3):
        return [self.key() for _ in range(self.r.randint(lo, hi))]

    def chance(self, p):
        return self.r.random() < p

    def member(self):
        return self.pick(MEMBERS)

    def value(self):
        return self.pick(VALUES)

    def some(self, fn, lo=1, hi=3):
        return [fn() for _ in range(self.r.randint(lo, hi))]

    def opts(self, table, p=0.5):
        """Each option of table (a list of lists of words) with probability p, shuffled."""
        out = [o for o in table if self.chance(p)]
        self.r.shuffle(out)
        return [w for o in out for w in o]

    # strings ----------------------------------------------------------------------------------

    def strings(self):
        k, v = self.key(), self.value()
        n = self.r.randint(0, 21)
        if n == 0:
            expiry = self.pick([["EX", self.pick(["100", "0", "-1", "abc"])], ["PX", "100000"],
                                ["EXAT", "4102444800"], ["PXAT", "1"], ["KEEPTTL"], ["EX"]])
            return [cmd("SET", k, v, *self.opts([["NX"], ["XX"], ["GET"], expiry], 0.4))]
        if n == 1:
            return [cmd("GET", k)]
        if n == 2:
            opt = self.pick([[], ["PERSIST"], ["EX", "100"], ["PX", "0"], ["EXAT", "1"],
                             ["PXAT", "4102444800000"], ["EX", "abc"], ["PERSIST", "EX", "1"]])
            return [cmd("GETEX", k, *opt), cmd("TTL", k)]
        if n == 3:
            return [cmd(self.pick(["GETDEL", "STRLEN"]), k)]
        if n == 4:
            return [cmd(self.pick(["GETSET", "SETNX", "APPEND"]), k, v)]
        if n == 5:
            verb = self.pick(["SETEX", "PSETEX"])
            t = self.pick(["100", "0", "-1", "abc", "9223372036854775807", "1.5"])
            return [cmd(verb, k, t if verb == "SETEX" else t + "000", v)]
        if n == 6:
            pairs = [w for _ in range(self.r.randint(1, 3)) for w in (self.key(), self.value())]
            return [cmd(self.pick(["MSET", "MSETNX"]), *pairs)]
        if n == 7:
            return [cmd("MGET", *self.keys())]
        if n in (8, 9):
            return [cmd(self.pick(["INCR", "DECR"]), k)]
        if n == 10:
            return [cmd(self.pick(["INCRBY", "DECRBY"]), k, self.pick(INTS))]
        if n in (11, 12):
            return [cmd("INCRBYFLOAT", k, self.pick(FLOATS + ["1.1", "-0.3", "1e-5"]))]
        if n == 13:
            off = self.pick(SMALL + ["100", "536870912", "-1"])
            return [cmd("SETRANGE", k, off, self.pick(["", "xy", "Z"])), cmd("GET", k)]
        if n == 14:
            return [cmd(self.pick(["GETRANGE", "SUBSTR"]), k, self.pick(INTS), self.pick(INTS))]
        if n == 15:
            opts = self.opts([["LEN"], ["IDX"], ["MINMATCHLEN", self.pick(SMALL)],
                              ["WITHMATCHLEN"]], 0.4)
            return [cmd("LCS", self.key(), self.key(), *opts)]
        if n == 16:
            return [cmd("SET", k, self.pick(["ohmytext", "mynewtext", "abcabc", "12345"]))]
        if n == 17:
            return [cmd("OBJECT", "ENCODING", k)]
        if n == 18:
            return [cmd("SET", k, self.pick(INTS))]
        if n == 19:
            return [cmd("GETRANGE", k, self.pick(SMALL), self.pick(SMALL))]
        if n == 20:
            return [cmd("SET", k, v, "GET")]
        return [cmd("EXISTS", *self.keys())]

    # keys -------------------------------------------------------------------------------------

    def keys_family(self):
        k, k2 = self.key(), self.key()
        n = self.r.randint(0, 19)
        if n <= 2:
            return self.pick([self.strings, self.lists, self.hashes, self.sets, self.zsets])()
        if n == 3:
            verb = self.pick(["EXPIRE", "PEXPIRE"])
            t = self.pick(["100", "200", "100000", "0", "-1", "abc", "9223372036854775807"])
            return [cmd(verb, k, t, *self.opts([["NX"], ["XX"], ["GT"], ["LT"]], 0.3)),
                    cmd("TTL", k)]
        if n == 4:
            verb = self.pick(["EXPIREAT", "PEXPIREAT"])
            t = self.pick(["4102444800", "4102444801", "1", "4102444800000", "abc"])
            return [cmd(verb, k, t, *self.opts([["NX"], ["XX"], ["GT"], ["LT"]], 0.3)),
                    cmd(self.pick(["EXPIRETIME", "PEXPIRETIME"]), k)]
        if n == 5:
            return [cmd(self.pick(["PERSIST", "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]), k)]
        if n == 6:
            return [cmd(self.pick(["RENAME", "RENAMENX"]), k, k2), cmd("EXISTS", k, k2)]
        if n == 7:
            opts = self.opts([["REPLACE"], ["DB", self.pick(["0", "1", "x", "16"])]], 0.4)
            return [cmd("COPY", k, k2, *opts), cmd("TYPE", k2)]
        if n == 8:
            return [cmd(self.pick(["TYPE", "OBJECT"]), *(["ENCODING"] if self.chance(0.5) else []),
                        k)]
        if n == 9:
            return [cmd(self.pick(["DEL", "UNLINK", "EXISTS", "TOUCH"]), *self.keys())]
        if n == 10:
            return [cmd("DBSIZE")]
        if n == 11:
            return [cmd("KEYS", self.pick(["*", "k[12]", "k?", "*3", "k\\1", "[", "k[^1]*"]))]
        if n == 12:
            return [cmd("SCAN", "0", "COUNT", "1000",
                        *self.pick([[], ["MATCH", "k[1-2]"], ["TYPE", self.pick(
                            ["string", "list", "hash", "set", "zset", "stream", "foo"])]]))]
        if n == 13:
            return [cmd("OBJECT", self.pick(["REFCOUNT", "FREQ", "HELP", "FOO"]), k)]
        if n == 14:
            return [cmd("XADD", k, self.pick(STREAM_IDS[:5]), "f", "v")]
        if n == 15:
            return [cmd("SET", k, self.value(), "EX", "100"), cmd("TTL", k)]
        if n == 16:
            return [cmd("RENAME", k, k), cmd("COPY", k, k)]
        if n == 17:
            return [cmd("OBJECT", "ENCODING", k)]
        if n == 18:
            return [cmd("EXPIRE", k, "100"), cmd("SET", k, "x", "KEEPTTL"), cmd("TTL", k)]
        return [cmd("SELECT", "0"), cmd("MOVE", k, self.pick(["0", "1", "x"]))]

    # lists ------------------------------------------------------------------------------------

    def lists(self):
        k, k2 = self.key(), self.key()
        n = self.r.randint(0, 22)
        if n <= 2:
            return [cmd(self.pick(["LPUSH", "RPUSH"]), k, *self.some(self.member, 1, 4))]
        if n == 3:
            return [cmd(self.pick(["LPUSHX", "RPUSHX"]), k, *self.some(self.member))]
        if n == 4:
            return [cmd(self.pick(["LPOP", "RPOP"]), k,
                        *([self.pick(INTS)] if self.chance(0.5) else []))]
        if n == 5:
            return [cmd("LLEN", k)]
        if n == 6:
            return [cmd("LINDEX", k, self.pick(INTS))]
        if n in (7, 8):
            return [cmd("LRANGE", k, self.pick(INTS), self.pick(INTS))]
        if n == 9:
            opts = self.opts([["RANK", self.pick(INTS)], ["COUNT", self.pick(INTS)],
                              ["MAXLEN", self.pick(INTS)]], 0.4)
            return [cmd("LPOS", k, self.member(), *opts)]
        if n == 10:
            return [cmd("LINSERT", k, self.pick(["BEFORE", "AFTER", "MIDDLE"]), self.member(),
                        self.member()), cmd("LRANGE", k, "0", "-1")]
        if n == 11:
            return [cmd("LSET", k, self.pick(INTS), self.member())]
        if n == 12:
            return [cmd("LTRIM", k, self.pick(INTS), self.pick(INTS)), cmd("LRANGE", k, "0", "-1")]
        if n == 13:
            return [cmd("LREM", k, self.pick(INTS), self.member())]
        if n == 14:
            return [cmd("LMOVE", k, k2, self.pick(["LEFT", "RIGHT", "UP"]),
                        self.pick(["LEFT", "RIGHT"])), cmd("LRANGE", k2, "0", "-1")]
        if n == 15:
            return [cmd("RPOPLPUSH", k, k2)]
        if n == 16:
            keys = self.keys()
            count = self.pick(["1", "2", "3", "2", "4", "0", "-1"])
            opts = ["COUNT", self.pick(INTS)] if self.chance(0.5) else []
            return [cmd("LMPOP", count, *keys, self.pick(["LEFT", "RIGHT", "MID"]), *opts)]
        if n == 17:
            timeout = self.pick(["0.01", "-1", "x"])
            return [cmd(self.pick(["BLPOP", "BRPOP"]), *self.keys(), timeout)]
        if n == 18:
            return [cmd("BLMOVE", k, k2, "LEFT", "RIGHT", self.pick(["0.01", "-1"]))]
        if n == 19:
            return [cmd("BLMPOP", "0.01", "2", k, k2, self.pick(["LEFT", "RIGHT"]), "COUNT", "2")]
        if n == 20:
            return [cmd("RPUSH", k, *([LONG] if self.chance(0.3) else []) + ["a", "b", "c"]),
                    cmd("OBJECT", "ENCODING", k)]
        if n == 21:
            return [cmd("LRANGE", k, "0", "-1")]
        return [cmd("SORT", k, *self.opts([["ALPHA"], ["DESC"], ["LIMIT", "0", "2"]]))]

    # hashes -----------------------------------------------------------------------------------

    def hashes(self):
        k = self.key()
        n = self.r.randint(0, 18)
        if n <= 2:
            pairs = [w for _ in range(self.r.randint(1, 3)) for w in (self.member(), self.value())]
            return [cmd(self.pick(["HSET", "HMSET"]), k, *pairs)]
        if n == 3:
            return [cmd("HSETNX", k, self.member(), self.value())]
        if n == 4:
            return [cmd(self.pick(["HGET", "HEXISTS", "HSTRLEN"]), k, self.member())]
        if n == 5:
            return [cmd("HMGET", k, *self.some(self.member))]
        if n == 6:
            return [cmd("HDEL", k, *self.some(self.member))]
        if n == 7:
            return [cmd("HLEN", k)]
        if n == 8:
            return [cmd("HINCRBY", k, self.member(), self.pick(INTS))]
        if n == 9:
            return [cmd("HINCRBYFLOAT", k, self.member(), self.pick(FLOATS))]
        if n in (10, 11):
            return [cmd(self.pick(["HKEYS", "HVALS", "HGETALL"]), k)]
        if n == 12:
            return [cmd("HRANDFIELD", k, *self.pick([["0"], ["100"], ["100", "WITHVALUES"],
                                                     ["0", "WITHVALUES"], ["abc"]]))]
        if n == 13:
            return [cmd("HSCAN", k, "0", "COUNT", "100",
                        *(["MATCH", self.pick(["a*", "[0-9]*", "*"])] if self.chance(0.5) else []))]
        if n == 14:
            return [cmd("OBJECT", "ENCODING", k)]
        if n == 15:
            return [cmd("HSET", k, self.member(), LONG), cmd("OBJECT", "ENCODING", k)]
        if n == 16:
            return [cmd("HGETALL", k)]
        if n == 17:
            return [cmd("HINCRBYFLOAT", k, self.member(), self.pick(["1.1", "-0.3", "1e-5"]))]
        return [cmd("HSET", k, self.member(), self.pick(INTS))]

    # sets -------------------------------------------------------------------------------------

    def sets(self):
        k, k2 = self.key(), self.key()
        n = self.r.randint(0, 17)
        if n <= 2:
            return [cmd("SADD", k, *self.some(self.member, 1, 4))]
        if n == 3:
            return [cmd("SREM", k, *self.some(self.member))]
        if n == 4:
            return [cmd("SCARD", k)]
        if n == 5:
            return [cmd("SISMEMBER", k, self.member())]
        if n == 6:
            return [cmd("SMISMEMBER", k, *self.some(self.member))]
        if n == 7:
            return [cmd("SMEMBERS", k)]
        if n == 8:
            return [cmd(self.pick(["SINTER", "SUNION", "SDIFF"]), *self.keys())]
        if n == 9:
            return [cmd(self.pick(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), k, *self.keys()),
                    cmd("SMEMBERS", k)]
        if n == 10:
            keys = self.keys()
            num = self.pick([str(len(keys))] * 4 + ["0", "5", "-1", "x"])
            opts = ["LIMIT", self.pick(INTS)] if self.chance(0.4) else []
            return [cmd("SINTERCARD", num, *keys, *opts)]
        if n == 11:
            return [cmd("SMOVE", k, k2, self.member())]
        if n == 12:
            return [cmd("SPOP", k, self.pick(["0", "100", "-1", "abc"]))]
        if n == 13:
            return [cmd("SRANDMEMBER", k, self.pick(["0", "100", "abc"]))]
        if n == 14:
            return [cmd("OBJECT", "ENCODING", k)]
        if n == 15:
            return [cmd("SADD", k, *self.some(lambda: self.pick(SMALL + ["12345678901"]), 1, 4))]
        if n == 16:
            return [cmd("SSCAN", k, "0", "COUNT", "100")]
        return [cmd("SORT", k, *self.opts([["ALPHA"], ["DESC"], ["LIMIT", "1", "2"]]))]

    # sorted sets ------------------------------------------------------------------------------

    def zsets(self):
        k, k2 = self.key(), self.key()
        n = self.r.randint(0, 24)
        if n <= 3:
            flags = self.opts([["NX"], ["XX"], ["GT"], ["LT"], ["CH"], ["INCR"]], 0.2)
            pairs = [w for _ in range(self.r.randint(1, 3)) for w in
                     (self.pick(SCORES[:11]) if self.chance(0.9) else self.pick(SCORES),
                      self.member())]
            return [cmd("ZADD", k, *flags, *pairs)]
        if n == 4:
            return [cmd("ZINCRBY", k, self.pick(SCORES), self.member())]
        if n == 5:
            return [cmd(self.pick(["ZSCORE", "ZRANK", "ZREVRANK"]), k, self.member())]
        if n == 6:
            return [cmd("ZMSCORE", k, *self.some(self.member))]
        if n == 7:
            return [cmd("ZCARD", k)]
        if n == 8:
            return [cmd("ZCOUNT", k, self.pick(RANGE_SCORES), self.pick(RANGE_SCORES))]
        if n == 9:
            return [cmd("ZLEXCOUNT", k, self.pick(LEX), self.pick(LEX))]
        if n == 10:
            return [cmd("ZREM", k, *self.some(self.member))]
        if n == 11:
            verb, args = self.pick([("ZREMRANGEBYRANK", INTS), ("ZREMRANGEBYSCORE", RANGE_SCORES),
                                    ("ZREMRANGEBYLEX", LEX)])
            return [cmd(verb, k, self.pick(args), self.pick(args))]
        if n in (12, 13, 14):
            return [cmd("ZRANGE", k, *self.zrange_args())]
        if n == 15:
            show = cmd("ZRANGE", k2, "0", "-1", "WITHSCORES")
            show.lexkey = k.encode()
            return [cmd("ZRANGESTORE", k2, k, *self.zrange_args(store=True)), show]
        if n == 16:
            verb, args = self.pick([("ZRANGEBYSCORE", RANGE_SCORES),
                                    ("ZREVRANGEBYSCORE", RANGE_SCORES),
                                    ("ZRANGEBYLEX", LEX), ("ZREVRANGEBYLEX", LEX),
                                    ("ZREVRANGE", INTS)])
            opts = self.opts([["WITHSCORES"], ["LIMIT", self.pick(SMALL), self.pick(SMALL)]], 0.4)
            return [cmd(verb, k, self.pick(args), self.pick(args), *opts)]
        if n in (17, 18):
            return [self.zsetop()]
        if n == 19:
            return [cmd(self.pick(["ZPOPMIN", "ZPOPMAX"]), k,
                        *([self.pick(INTS)] if self.chance(0.5) else []))]
        if n == 20:
            keys = self.keys()
            num = self.pick([str(len(keys))] * 4 + ["0", "5", "-1"])
            opts = ["COUNT", self.pick(INTS)] if self.chance(0.5) else []
            return [cmd("ZMPOP", num, *keys, self.pick(["MIN", "MAX", "MID"]), *opts)]
        if n == 21:
            return [cmd("ZRANDMEMBER", k, *self.pick([["0"], ["100"], ["100", "WITHSCORES"],
                                                      ["abc"], ["0", "WITHSCORES"]]))]
        if n == 22:
            keys = self.keys()
            return [cmd("ZINTERCARD", str(len(keys)), *keys,
                        *(["LIMIT", self.pick(INTS)] if self.chance(0.4) else []))]
        if n == 23:
            return [cmd("ZADD", k, "1", LONG if self.chance(0.3) else "q"),
                    cmd("OBJECT", "ENCODING", k)]
        return [cmd("ZSCAN", k, "0", "COUNT", "100")]

    def zrange_args(self, store=False):
        mode = self.pick(["rank", "score", "lex"])
        vals = {"rank": INTS, "score": RANGE_SCORES, "lex": LEX}[mode]
        args = [self.pick(vals), self.pick(vals)]
        opts = [["REV"], ["LIMIT", self.pick(SMALL), self.pick(SMALL)]]
        if not store:
            opts.append(["WITHSCORES"])
        args += self.opts(opts, 0.35)
        if mode != "rank" or self.chance(0.1):
            args.append("BYSCORE" if mode == "score" else "BYLEX")
        return args

    def zsetop(self):
        verb = self.pick(["ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"])
        keys = self.keys()
        num = self.pick([str(len(keys))] * 5 + ["0", "5"])
        opts = []
        if verb != "ZDIFF" and verb != "ZDIFFSTORE" or self.chance(0.1):
            opts = self.opts([["WEIGHTS"] + [self.pick(FLOATS) for _ in keys],
                              ["AGGREGATE", self.pick(["SUM", "MIN", "MAX", "AVG"])]], 0.4)
        if not verb.endswith("STORE") and self.chance(0.5):
            opts.append("WITHSCORES")
        if verb.endswith("STORE"):
            dst = self.key()
            return cmd(verb, dst, num, *keys, *opts)
        return cmd(verb, num, *keys, *opts)

    # streams ----------------------------------------------------------------------------------

    def streams(self):
        k = self.key()
        n = self.r.randint(0, 23)
        if n <= 3:
            trim = []
            if self.chance(0.25):
                trim = [self.pick(["MAXLEN", "MINID"]), *self.pick([[], ["="], ["~"]]),
                        self.pick(["0", "1", "2", "2-0", "-1"])]
                if self.chance(0.2):
                    trim += ["LIMIT", self.pick(["0", "10"])]
            nomk = ["NOMKSTREAM"] if self.chance(0.1) else []
            fields = [w for _ in range(self.r.randint(1, 2)) for w in (self.member(), self.value())]
            if self.chance(0.05):
                fields = fields[:-1]
            if self.chance(0.7):  # mostly ids that grow through the session: accepted
                self.clock += self.r.randint(0, 2)
                sid = "%d-%s" % (self.clock, self.pick(["0", "1", "5", "*"]))
            else:
                sid = self.pick(STREAM_IDS)
            return [cmd("XADD", k, *nomk, *trim, sid, *fields)]
        if n == 4:
            return [cmd("XLEN", k)]
        if n in (5, 6):
            verb = self.pick(["XRANGE", "XREVRANGE"])
            opts = ["COUNT", self.pick(INTS)] if self.chance(0.3) else []
            return [cmd(verb, k, self.pick(RANGE_IDS), self.pick(RANGE_IDS), *opts)]
        if n == 7:
            opts = self.pick([[], ["="], ["~"]]) + [self.pick(["0", "1", "2", "2-0", "-1", "x"])]
            if self.chance(0.2):
                opts += ["LIMIT", self.pick(["0", "10", "-1"])]
            return [cmd("XTRIM", k, self.pick(["MAXLEN", "MINID", "FOO"]), *opts)]
        if n == 8:
            return [cmd("XDEL", k, *self.some(lambda: self.pick(STREAM_IDS[:8])))]
        if n == 9:
            opts = self.opts([["MKSTREAM"], ["ENTRIESREAD", self.pick(["0", "1", "-1", "5"])]], 0.6)
            return [cmd("XGROUP", "CREATE", k, self.pick(GROUPS),
                        self.pick(["$", "0", "1-1", "2-0"]), *opts)]
        if n == 10:
            opts = ["ENTRIESREAD", self.pick(["0", "3"])] if self.chance(0.3) else []
            return [cmd("XGROUP", "SETID", k, self.pick(GROUPS), self.pick(["$", "0", "1-2"]),
                        *opts)]
        if n == 11:
            sub = self.pick(["DESTROY", "CREATECONSUMER", "DELCONSUMER"])
            extra = [] if sub == "DESTROY" else [self.pick(CONSUMERS)]
            return [cmd("XGROUP", sub, k, self.pick(GROUPS), *extra)]
        if n in (12, 13):
            opts = self.opts([["COUNT", self.pick(["1", "2", "0"])], ["NOACK"]], 0.3)
            return [cmd("XREADGROUP", "GROUP", self.pick(GROUPS), self.pick(CONSUMERS), *opts,
                        "STREAMS", k, self.pick([">", ">", "0", "1-1"]))]
        if n == 14:
            ids = self.some(lambda: self.pick(STREAM_IDS[:8]))
            return [cmd("XACK", k, self.pick(GROUPS), *ids)]
        if n == 15:
            return [cmd("XPENDING", k, self.pick(GROUPS))]
        if n == 16:
            extra = [self.pick(CONSUMERS)] if self.chance(0.3) else []
            return [cmd("XPENDING", k, self.pick(GROUPS), *self.pick([[], ["IDLE", "0"]]),
                        "-", "+", self.pick(["10", "1", "0"]), *extra, mask=["xpending"])]
        if n == 17:
            ids = self.some(lambda: self.pick(STREAM_IDS[:8]))
            opts = self.opts([["RETRYCOUNT", "3"], ["FORCE"], ["JUSTID"], ["LASTID", "2-0"]], 0.3)
            return [cmd("XCLAIM", k, self.pick(GROUPS), self.pick(CONSUMERS), "0", *ids, *opts)]
        if n == 18:
            opts = self.opts([["COUNT", self.pick(["1", "10", "0"])], ["JUSTID"]], 0.3)
            return [cmd("XAUTOCLAIM", k, self.pick(GROUPS), self.pick(CONSUMERS), "0",
                        self.pick(["0", "1-2", "(1-1", "-"]), *opts)]
        if n == 19:
            return [cmd("XINFO", "STREAM", k)]
        if n == 20:
            return [cmd("XINFO", "GROUPS", k)]
        if n == 21:
            return [cmd("XINFO", "CONSUMERS", k, self.pick(GROUPS), mask=["idle", "inactive"])]
        if n == 22:
            return [cmd("XREAD", *(["COUNT", "2"] if self.chance(0.5) else []), "STREAMS", k,
                        self.pick(["0", "1-1", "$", "+"]))]
        return [cmd("XSETID", k, self.pick(["5-5", "1-1", "0-0", "18446744073709551615-0"]),
                    *self.opts([["ENTRIESADDED", "10"], ["MAXDELETEDID", "0-1"]], 0.3))]

    # SORT -------------------------------------------------------------------------------------

    def sort(self):
        k = self.key()
        n = self.r.randint(0, 9)
        if n <= 1:
            return [cmd("RPUSH", k, *self.some(lambda: self.pick(["3", "1", "2", "b", "a", "10",
                                                                   "1.5", "-1"]), 1, 4))]
        if n == 2:
            return [cmd("SADD", k, *self.some(lambda: self.pick(["3", "1", "2", "b", "10"])))]
        if n == 3:
            return [cmd("ZADD", k, self.pick(SCORES[:7]), self.pick(["3", "1", "a", "10"]))]
        if n == 4:
            return [cmd("MSET", "w_1", self.pick(["5", "1", "x"]), "w_2", self.pick(["3", "9"]),
                        "w_3", "7", "w_10", "0")]
        if n == 5:
            return [cmd("HSET", "h_" + self.pick(["1", "2", "3", "a"]), "f", self.value())]
        # Elements whose BY values are equal keep their load order, and a set's or a sorted
        # set's is its hash order; with a LIMIT Redis's quicksort is not stable either (README).
        # So BY goes without LIMIT and STORE, and its reply is compared sorted.
        by = self.chance(0.35)
        table = [["GET", self.pick(["#", "w_*", "h_*->f", "x"])], ["GET", "#"],
                 [self.pick(["ASC", "DESC"])], ["ALPHA"]]
        table.append(["BY", self.pick(["w_*", "nosort", "h_*->f", "missing_*"])] if by else
                     ["LIMIT", self.pick(SMALL), self.pick(SMALL)])
        opts = self.opts(table, 0.35)
        sort_it = by = "BY" in opts
        if n == 9 and not by:
            return [cmd("SORT", k, *opts, "STORE", self.key(), sort=sort_it),
                    cmd("LRANGE", self.key(), "0", "-1")]
        return [cmd(self.pick(["SORT", "SORT_RO"]), k, *opts, sort=sort_it)]

    # MULTI / EXEC / WATCH ---------------------------------------------------------------------

    def data_step(self):
        fam = self.pick([self.strings, self.lists, self.hashes, self.sets, self.zsets,
                         self.streams, self.keys_family])
        return fam()[0]

    def multi(self):
        n = self.r.randint(0, 5)
        if n == 0:  # WATCH, a change from another connection, then EXEC
            k = self.key()
            steps = [cmd("WATCH", k)]
            if self.chance(0.6):
                steps.append(cmd(self.pick(["SET", "APPEND"]), k, "x", conn=1))
            if self.chance(0.2):
                steps.append(cmd("UNWATCH"))
            steps += [cmd("MULTI"), self.data_step(), cmd("EXEC")]
        else:
            steps = [cmd("MULTI")]
            for _ in range(self.r.randint(0, 4)):
                s = self.data_step()
                if self.chance(0.05):
                    s = cmd(*s.args[:1])  # an arity error: EXEC then aborts
                steps.append(s)
            if n == 1 and self.chance(0.3):
                steps.append(self.pick([cmd("MULTI"), cmd("WATCH", "k1"), cmd("EXEC", "x")]))
            steps.append(cmd(self.pick(["EXEC", "EXEC", "EXEC", "DISCARD"])))
        sort = any(s.sort for s in steps)
        tol = max(s.tol for s in steps)
        mask = set().union(*[s.mask for s in steps])
        for s in steps:
            s.sort, s.tol, s.mask = sort, tol, mask
        return steps

    # EVAL -------------------------------------------------------------------------------------

    def eval(self):
        n = self.r.randint(0, 7)
        inner = self.data_step()
        if n <= 2:
            return [Step(["EVAL", "return redis.call(unpack(ARGV))", "0"] + inner.args,
                         sort=inner.sort, tol=inner.tol, mask=inner.mask)]
        if n <= 4:
            body = ("local r = redis.pcall(unpack(ARGV)) "
                    "if type(r) == 'table' and r.err then return 'E: ' .. r.err end return r")
            return [Step(["EVAL", body, "0"] + inner.args, sort=inner.sort, tol=inner.tol,
                         mask=inner.mask)]
        if n == 5:
            k = self.key()
            return [cmd("EVAL", "redis.call('DEL', KEYS[1]) redis.call(ARGV[1], KEYS[1], "
                        "unpack(ARGV, 2)) return redis.call('TYPE', KEYS[1])", "1", k,
                        *self.pick([["RPUSH", "a"], ["SADD", "1"], ["SET", "v"],
                                    ["ZADD", "1", "m"], ["HSET", "f", "v"], ["XADD", "1-1", "f",
                                                                              "v"]]))]
        if n == 6:
            return [cmd("EVAL", self.pick([
                "return {1, 2.5, 'x', true, false, nil, 3}",
                "return redis.status_reply('FINE')",
                "return redis.error_reply('MY bad')",
                "return redis.call('XREAD', 'BLOCK', '0', 'STREAMS', KEYS[1], '$')",
                "return redis.call('XREADGROUP', 'GROUP', 'g1', 'c1', 'BLOCK', '0', 'STREAMS', "
                "KEYS[1], '>')",
                "return redis.call('BLPOP', KEYS[1], 0)",
                "return redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT')",
                "return redis.call('BZPOPMIN', KEYS[1], 0)",
                "return redis.call('SORT', KEYS[1], 'BY', 'nosort')",
                "return redis.call('MULTI')",
                "return redis.call('nosuch')",
                "return redis.call('GET')",
                "return redis.pcall('INCR', KEYS[1])",
                "redis.setresp(3) return redis.call('ZSCORE', KEYS[1], 'a')",
                "redis.setresp(3) return redis.call('HGETALL', KEYS[1])",
                "return tostring(redis.call('INCRBYFLOAT', KEYS[1], '1.5'))",
            ]), "1", self.key(), sort=True)]
        return [cmd("EVAL", "return redis.call('SPOP', KEYS[1], 0)", "1", self.key())]


FAMILIES = {
    "strings": Gen.strings, "keys": Gen.keys_family, "lists": Gen.lists, "hashes": Gen.hashes,
    "sets": Gen.sets, "zsets": Gen.zsets, "streams": Gen.streams, "sort": Gen.sort,
    "multi": Gen.multi, "eval": Gen.eval,
}


def generate(gen, families):
    steps = FAMILIES[gen.pick(families)](gen)
    if gen.chance(0.05):  # another family's command on the same keys: wrong types
        steps = FAMILIES[gen.pick(list(FAMILIES))](gen) + steps
    if gen.chance(0.02) and len(steps[-1].args) > 1 and steps[-1].name() not in RANDOM:
        steps[-1].args = steps[-1].args[:-1]  # an arity or syntax error
    return steps


# ---------------------------------------------------------------------------------------------
# Reply comparison


def tree(raw):
    kind, header, children = split_children(raw)
    if kind in b"*~>%|" and not header.startswith(b"-"):
        return (kind, header, [tree(c) for c in children])
    return (kind, raw, None)


def normalize(node, step, after=None):
    """Applies the step's comparison mode to a parsed reply."""
    kind, head, children = node
    if children is None:
        if after is not None and after in step.mask and kind == b":":
            return (kind, b":<masked>", None)
        return node
    out = []
    for i, c in enumerate(children):
        prev = children[i - 1][1] if i % 2 and children[i - 1][2] is None else None
        label = prev[prev.find(b"\n") + 1:-2].decode("latin-1") if prev else None
        out.append(normalize(c, step, label))
    if "xpending" in step.mask and len(out) == 4 and out[2][0] == b":":
        out[2] = (b":", b":<idle>", None)
    if step.sort:
        flat = all(c[2] is None for c in out)
        if kind == b"%" or (kind == b"*" and flat and (step.name() in PAIRS or (
                step.name() == "HRANDFIELD" and b"WITHVALUES" in step.args))):
            pairs = [out[i:i + 2] for i in range(0, len(out) - 1, 2)]
            out = [x for p in sorted(pairs, key=repr) for x in p]
        else:
            out = sorted(out, key=repr)
    return (kind, head, out)


def same(replies, step):
    a, b = replies
    if a == b:
        return True
    if isinstance(a, str) or isinstance(b, str) or not (step.sort or step.tol or step.mask):
        return False
    try:
        return close(normalize(tree(a), step), normalize(tree(b), step), step.tol)
    except (ValueError, IndexError):
        return False


def close(a, b, tol):
    """Equal parsed replies, integers allowed to differ by tol."""
    if a[2] is None or b[2] is None:
        if a[0] == b[0] == b":" and tol and a[1][1:2] != b"<" and b[1][1:2] != b"<":
            return abs(int(a[1][1:-2]) - int(b[1][1:-2])) <= tol
        return a == b
    return a[:2] == b[:2] and len(a[2]) == len(b[2]) and all(
        close(x, y, tol) for x, y in zip(a[2], b[2]))


# ---------------------------------------------------------------------------------------------
# Running


class Pair:
    """Connections to both servers, opened on first use of each connection number."""

    def __init__(self, servers, resp3):
        self.servers, self.resp3 = servers, resp3
        self.conns = {}

    def get(self, n):
        if n not in self.conns or any(c.dead for c in self.conns[n]):
            pair = [Conn(s.port) for s in self.servers]
            if self.resp3:
                for c in pair:
                    c.send(encode_command([b"HELLO", b"3"]))
                    c.read()
            self.conns[n] = pair
        return self.conns[n]

    def run(self, step):
        pair = self.get(step.conn)
        payload = encode_command(step.args)
        for c in pair:
            c.send(payload)
        return [c.read() for c in pair]

    def close(self):
        for pair in self.conns.values():
            for c in pair:
                c.close()
        self.conns = {}


def flushall(servers):
    for s in servers:
        if not s.alive():
            print("(%s died; restarting it)\n%s" % (s.name, s.log_tail(8)))
            s.restart()
        if not s.flushall():
            raise RuntimeError("%s did not answer FLUSHALL" % s.name)


def replay(servers, steps, resp3):
    """Runs steps on fresh state; True when the last one's replies still differ."""
    flushall(servers)
    pair = Pair(servers, resp3)
    try:
        for s in steps[:-1]:
            pair.run(s)
        random_lex = lex_is_random(servers, steps[-1])
        return not same(pair.run(steps[-1]), steps[-1]) and not random_lex
    finally:
        pair.close()


def reduce_steps(servers, steps, resp3):
    """Delta debugging (ddmin) over all steps but the last, keeping the mismatch."""
    head, last = steps[:-1], steps[-1]
    n = 2
    while head:
        size = max(1, len(head) // n)
        chunks = [head[i:i + size] for i in range(0, len(head), size)]
        progress = False
        for i in range(len(chunks)):
            rest = [s for j, c in enumerate(chunks) if j != i for s in c]
            if replay(servers, rest + [last], resp3):
                head, n, progress = rest, max(n - 1, 2), True
                break
        if not progress:
            if size == 1:
                break
            n = min(len(head), n * 2)
    return head + [last]


def lex_key(step):
    """The key of a lex range command (ZRANGE ... BYLEX included), else None."""
    if step.lexkey is not None:
        return step.lexkey
    upper = [a.upper() for a in step.args]
    if len(step.args) < 3:
        return None
    if step.name() in LEX_COMMANDS or (step.name() == "ZRANGE" and b"BYLEX" in upper):
        return step.args[1]
    if step.name() == "ZRANGESTORE" and b"BYLEX" in upper:
        return step.args[2]
    return None


def lex_is_random(servers, step):
    """True when step ranges by lex over a skiplist with mixed scores (on the oracle); asked
    before the step runs."""
    key = lex_key(step)
    if key is None:
        return False
    conn = Conn(servers[0].port)
    try:
        conn.send(encode_command([b"OBJECT", b"ENCODING", key]))
        encoding = conn.read()
        conn.send(encode_command([b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]))
        _, _, children = split_children(conn.read())
    finally:
        conn.close()
    return encoding == b"$8\r\nskiplist\r\n" and len(set(children[1::2])) > 1


def show(reply):
    return reply if isinstance(reply, str) else repr(reply)


def report(servers, history, replies, resp3, args, seen):
    step = history[-1]
    sig = (step.name(), replies[1][:40] if isinstance(replies[1], bytes) else replies[1])
    seen[sig] = seen.get(sig, 0) + 1
    if seen[sig] > 1:
        print("(mismatch again: %s -> %s)" % (step.line()[:100], show(replies[1])[:80]))
        return
    print("=" * 78)
    print("MISMATCH %s%s" % (step.line()[:200], " [RESP3]" if resp3 else ""))
    print("  redis:  %s" % show(replies[0])[:600])
    print("  docket: %s" % show(replies[1])[:600])
    if args.no_reduce:
        print("history (%d commands):" % len(history))
        for s in history[-40:]:
            print("  " + s.line()[:200])
        return
    reduced = reduce_steps(servers, history, resp3)
    print("reduced to %d commands (corpus syntax):" % len(reduced))
    if resp3:
        print("  !hello3")
    conn = 0
    for s in reduced:
        if s.conn != conn:
            print("  !conn %s" % ("default" if s.conn == 0 else "c%d" % s.conn))
            conn = s.conn
        print("  " + " ".join(quote(a) for a in s.args))
    final = Pair(servers, resp3)
    flushall(servers)
    for s in reduced:
        last = final.run(s)
    final.close()
    print("  redis:  %s" % show(last[0])[:600])
    print("  docket: %s" % show(last[1])[:600])
    sys.stdout.flush()


def supported(server, names):
    """The command names that the server's COMMAND INFO knows."""
    conn = Conn(server.port)
    conn.send(encode_command([b"COMMAND", b"INFO"] + [n.encode() for n in names]))
    raw = conn.read()
    conn.close()
    _, _, children = split_children(raw)
    return {n for n, c in zip(names, children) if c != b"*-1\r\n" and c[:1] == b"*"}


def run(args, servers):
    rng = random.Random(args.seed)
    families = args.families.split(",")
    for f in families:
        if f not in FAMILIES:
            sys.exit("unknown family %r (known: %s)" % (f, ", ".join(sorted(FAMILIES))))
    gen = Gen(rng)
    done = mismatches = sessions = ignored = 0
    seen, stats = {}, {}
    started = time.monotonic()
    while done < args.commands:
        resp3 = rng.random() < args.resp3_share
        flushall(servers)
        pair = Pair(servers, resp3)
        history = []
        sessions += 1
        gen.clock = 1
        while len(history) < args.session and done < args.commands:
            steps = generate(gen, families)
            bad = False
            for s in steps:
                history.append(s)
                done += 1
                random_lex = lex_is_random(servers, s)  # before: ZREMRANGEBYLEX changes it
                replies = pair.run(s)
                if args.stats and isinstance(replies[0], bytes):
                    kind = "error" if replies[0][:1] == b"-" else "ok"
                    key = (s.name(), kind)
                    stats[key] = stats.get(key, 0) + 1
                if not same(replies, s):
                    pair.close()
                    bad = True
                    if random_lex:
                        ignored += 1
                        break
                    mismatches += 1
                    report(servers, history, replies, resp3, args, seen)
                    break
            if bad:
                break
        pair.close()
    print("%d commands, %d sessions, %d mismatches (%d distinct), %d lex-on-skiplist ignored, "
          "%.1fs (seed %d, %s)" % (done, sessions, mismatches, len(seen), ignored,
                                   time.monotonic() - started, args.seed, ",".join(families)))
    if args.stats:
        names = sorted({n for n, _ in stats})
        print("replies per command (ok/error): " + ", ".join(
            "%s %d/%d" % (n, stats.get((n, "ok"), 0), stats.get((n, "error"), 0)) for n in names))
    return 1 if mismatches else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docket", default=os.path.join(HERE, "..", "bin", "docket-server"))
    p.add_argument("--redis", default="/usr/bin/redis-server")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--commands", type=int, default=2000)
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--session", type=int, default=150, help="commands between FLUSHALLs")
    p.add_argument("--resp3-share", type=float, default=0.25)
    p.add_argument("--no-reduce", action="store_true")
    p.add_argument("--stats", action="store_true", help="count ok and error replies per command")
    args = p.parse_args()
    servers = [Server("redis", args.redis), Server("docket", args.docket)]
    # SIGTERM (timeout(1)) unwinds through the finally below, so the servers are stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(2))
    try:
        for s in servers:
            s.start()
        return run(args, servers)
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    sys.exit(main())
