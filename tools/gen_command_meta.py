#!/usr/bin/python3
# Generates server/command_meta.inc: every Redis 7.0 command and subcommand as COMMAND INFO and
# COMMAND DOCS report it (arity, flags, key specs, exact reply bytes in RESP2 and RESP3).
# Depends on the Python standard library and an installed redis-server 7.0 (or a running one).
"""Generate server/command_meta.inc from a live redis-server 7.0.

Usage:
  /usr/bin/python3 tools/gen_command_meta.py              # starts redis-server on a free port
  /usr/bin/python3 tools/gen_command_meta.py --port N     # uses a redis-server already on port N
  ... --check-cxx   # also compiles server/command_meta.cc into a dumper and compares every
                    # field of every entry with what redis-server replied

Before writing, it rebuilds the full COMMAND INFO and COMMAND DOCS reply of every command from the
extracted pieces, the way the server will, and requires them to be byte-identical to redis-server's.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_PATH = os.path.join(ROOT, 'server', 'command_meta.inc')
EMPTY_SUBS = {2: b'*0\r\n', 3: b'~0\r\n'}  # 10th COMMAND INFO element without subcommands


# ---------------------------------------------------------------------------------------------
# RESP reader: every parsed element keeps the exact bytes it was read from.

class Node:
    """One RESP element: kind is the type byte ('*', '%', '$', ...), raw its exact bytes."""
    __slots__ = ('kind', 'value', 'children', 'raw')

    def __init__(self, kind, value, children, raw):
        self.kind, self.value, self.children, self.raw = kind, value, children, raw

    def text(self):
        return self.value.decode() if isinstance(self.value, bytes) else self.value

    def pairs(self):
        """Key/value pairs of a RESP3 map or of a RESP2 flat array."""
        kids = self.children
        return [(kids[i], kids[i + 1]) for i in range(0, len(kids), 2)]

    def plain(self):
        """Protocol-independent Python value (maps become lists of pairs)."""
        if self.children is not None:
            return [c.plain() for c in self.children]
        return self.value


class Incomplete(Exception):
    pass


AGGREGATES = {ord('*'): 1, ord('~'): 1, ord('>'): 1, ord('%'): 2}
BULKS = (ord('$'), ord('='), ord('!'))


def _line(buf, pos):
    end = buf.find(b'\r\n', pos)
    if end < 0:
        raise Incomplete()
    return buf[pos + 1:end], end + 2


def parse(buf, pos):
    """Parses one element at buf[pos]; returns (Node, next_pos) or raises Incomplete."""
    if pos >= len(buf):
        raise Incomplete()
    kind = buf[pos]
    head, pos2 = _line(buf, pos)
    if kind in AGGREGATES:
        count = int(head)
        if count < 0:
            return Node(chr(kind), None, None, buf[pos:pos2]), pos2
        children = []
        for _ in range(count * AGGREGATES[kind]):
            child, pos2 = parse(buf, pos2)
            children.append(child)
        return Node(chr(kind), None, children, buf[pos:pos2]), pos2
    if kind in BULKS:
        size = int(head)
        if size < 0:
            return Node(chr(kind), None, None, buf[pos:pos2]), pos2
        if len(buf) < pos2 + size + 2:
            raise Incomplete()
        value = buf[pos2:pos2 + size]
        return Node(chr(kind), value, None, buf[pos:pos2 + size + 2]), pos2 + size + 2
    if kind == ord(':'):
        return Node(':', int(head), None, buf[pos:pos2]), pos2
    if kind == ord('_'):
        return Node('_', None, None, buf[pos:pos2]), pos2
    if kind in (ord('+'), ord('-'), ord(','), ord('#'), ord('(')):
        return Node(chr(kind), head, None, buf[pos:pos2]), pos2
    raise ValueError('unexpected RESP type byte %r at %d' % (chr(kind), pos))


class RespConn:
    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=30)
        self.buf = b''

    def call(self, *args):
        parts = [b'*%d\r\n' % len(args)]
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            parts.append(b'$%d\r\n%s\r\n' % (len(a), a))
        self.sock.sendall(b''.join(parts))
        while True:
            try:
                node, end = parse(self.buf, 0)
            except Incomplete:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionError('redis-server closed the connection')
                self.buf += chunk
                continue
            self.buf = self.buf[end:]
            if node.kind == '-':
                raise RuntimeError('redis error: %s' % node.text())
            return node


# ---------------------------------------------------------------------------------------------
# The oracle process.

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_redis():
    port = free_port()
    proc = subprocess.Popen(['redis-server', '--port', str(port), '--bind', '127.0.0.1',
                             '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=tempfile.gettempdir())
    for _ in range(100):
        try:
            RespConn(port).call('PING')
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit('redis-server did not start on port %d' % port)


def redis_version(conn):
    for line in conn.call('INFO', 'server').value.decode().splitlines():
        if line.startswith('redis_version:'):
            return line.split(':', 1)[1].strip()
    return 'unknown'


# ---------------------------------------------------------------------------------------------
# Collection: COMMAND INFO and COMMAND DOCS of every command, in both protocols.

def fetch(port):
    """Per protocol (2, 3): the connection, COMMAND LIST names, and each name's INFO/DOCS reply."""
    data = {}
    for proto in (2, 3):
        conn = RespConn(port)
        if proto == 3:
            conn.call('HELLO', '3')
        names = sorted(n.text() for n in conn.call('COMMAND', 'LIST').children)
        infos, docs = {}, {}
        for name in names:
            infos[name] = single_info(conn, name)
            docs[name] = single_docs(conn, name)
        data[proto] = {'names': names, 'info': infos, 'docs': docs, 'conn': conn}
    return data


def single_info(conn, name):
    reply = conn.call('COMMAND', 'INFO', name)
    assert len(reply.children) == 1 and len(reply.children[0].children) == 10, name
    return reply


def single_docs(conn, name):
    reply = conn.call('COMMAND', 'DOCS', name)
    assert len(reply.children) == 2 and reply.children[0].text() == name, name
    return reply


def key_spec(node):
    """A key spec map (node) as a dict with KeySpecMeta's fields."""
    fields = {k.text(): v for k, v in node.pairs()}
    spec = {'flags': ' '.join(f.text() for f in fields['flags'].children),
            'begin': 'kUnknown', 'index': 0, 'keyword': '', 'startfrom': 0,
            'find': 'kUnknown', 'lastkey': 0, 'keystep': 0, 'limit': 0,
            'keynumidx': 0, 'firstkey': 0, 'keynum_step': 0}
    bs = {k.text(): v for k, v in fields['begin_search'].pairs()}
    bs_spec = {k.text(): v.value for k, v in bs['spec'].pairs()}
    if bs['type'].text() == 'index':
        spec.update(begin='kIndex', index=bs_spec['index'])
    elif bs['type'].text() == 'keyword':
        spec.update(begin='kKeyword', keyword=bs_spec['keyword'].decode(),
                    startfrom=bs_spec['startfrom'])
    fk = {k.text(): v for k, v in fields['find_keys'].pairs()}
    fk_spec = {k.text(): v.value for k, v in fk['spec'].pairs()}
    if fk['type'].text() == 'range':
        spec.update(find='kRange', lastkey=fk_spec['lastkey'], keystep=fk_spec['keystep'],
                    limit=fk_spec['limit'])
    elif fk['type'].text() == 'keynum':
        spec.update(find='kKeynum', keynumidx=fk_spec['keynumidx'],
                    firstkey=fk_spec['firstkey'], keynum_step=fk_spec['keystep'])
    return spec


def entry_record(entry2, entry3, docs2, docs3):
    """One CommandMeta record from an info entry (10-element array) and a docs map, per proto."""
    el = entry2.children
    flags = [f.text() for f in el[2].children]
    rec = {
        'name': el[0].text(), 'arity': el[1].value, 'flags': ' '.join(flags),
        'acl': ' '.join(c.text() for c in el[6].children),
        'first': el[3].value, 'last': el[4].value, 'step': el[5].value,
        'specs': [key_spec(s) for s in el[8].children],
        'movablekeys': 'movablekeys' in flags,
        'info2': b''.join(c.raw for c in el[:9]),
        'info3': b''.join(c.raw for c in entry3.children[:9]),
    }
    # The two protocols must carry the same content, only typed differently (map/set vs array).
    assert [c.plain() for c in el[:9]] == [c.plain() for c in entry3.children[:9]], rec['name']
    plain = []
    for proto, doc in ((2, docs2), (3, docs3)):
        pairs = [(k, v) for k, v in doc.pairs() if k.text() != 'subcommands']
        rec['docs_pairs'] = len(pairs)
        rec['docs%d' % proto] = b''.join(k.raw + v.raw for k, v in pairs)
        plain.append([(k.plain(), v.plain()) for k, v in pairs])
    assert plain[0] == plain[1], rec['name']
    return rec


def subcommand_nodes(info_entry, docs_map):
    """{name: (info entry, docs map)} for the subcommands of one top-level command."""
    subs = {e.children[0].text(): [e, None] for e in info_entry.children[9].children}
    for k, v in docs_map.pairs():
        if k.text() == 'subcommands':
            for sk, sv in v.pairs():
                subs[sk.text()][1] = sv
    return subs


def build_records(data):
    records = {}
    for name in data[2]['names']:
        if '|' in name:
            continue
        e2, e3 = (data[p]['info'][name].children[0] for p in (2, 3))
        d2, d3 = (data[p]['docs'][name].children[1] for p in (2, 3))
        records[name] = entry_record(e2, e3, d2, d3)
        s2, s3 = subcommand_nodes(e2, d2), subcommand_nodes(e3, d3)
        assert sorted(s2) == sorted(s3), name
        for sub in s2:
            records[sub] = entry_record(s2[sub][0], s3[sub][0], s2[sub][1], s3[sub][1])
    check_subcommand_queries(data, records)
    return records


def check_subcommand_queries(data, records):
    """COMMAND INFO/DOCS a|b must equal the entries nested in the parent's reply."""
    assert sorted(records) == data[2]['names'], 'COMMAND LIST differs from the nested entries'
    for proto in (2, 3):
        for name in records:
            if '|' not in name:
                continue
            rec = records[name]
            entry = data[proto]['info'][name].children[0]
            assert b''.join(c.raw for c in entry.children[:9]) == rec['info%d' % proto], name
            assert entry.children[9].raw == EMPTY_SUBS[proto], name
            doc = data[proto]['docs'][name].children[1]
            assert b''.join(k.raw + v.raw for k, v in doc.pairs()) == rec['docs%d' % proto], name


# ---------------------------------------------------------------------------------------------
# Byte-for-byte check: rebuild each reply from the records as the server will, compare.

def bulk(s):
    s = s.encode()
    return b'$%d\r\n%s\r\n' % (len(s), s)


def info_entry_bytes(records, name, proto, sub_order):
    out = b'*10\r\n' + records[name]['info%d' % proto]
    if not sub_order:
        return out + EMPTY_SUBS[proto]
    out += b'*%d\r\n' % len(sub_order)
    for sub in sub_order:
        out += b'*10\r\n' + records[sub]['info%d' % proto] + EMPTY_SUBS[proto]
    return out


def docs_map_bytes(rec, proto, extra_pairs):
    pairs = rec['docs_pairs'] + extra_pairs
    return (b'*%d\r\n' % (2 * pairs) if proto == 2 else b'%%%d\r\n' % pairs) + rec['docs%d' % proto]


def docs_entry_bytes(records, name, proto, sub_order):
    out = docs_map_bytes(records[name], proto, 1 if sub_order else 0)
    if sub_order:
        out += bulk('subcommands')
        out += b'*%d\r\n' % (2 * len(sub_order)) if proto == 2 else b'%%%d\r\n' % len(sub_order)
        for sub in sub_order:
            out += bulk(sub) + docs_map_bytes(records[sub], proto, 0)
    return out


def verify_replies(data, records, names):
    """For each top-level name, rebuilt COMMAND INFO / DOCS == redis-server's, in RESP2 and 3.

    Subcommands are taken in the order of that reply: Redis lists them in hash-table order,
    which changes with its per-process hash seed.
    """
    for proto in (2, 3):
        conn = data[proto]['conn']
        for name in names:
            live = conn.call('COMMAND', 'INFO', name)
            order = [e.children[0].text() for e in live.children[0].children[9].children]
            want = b'*1\r\n' + info_entry_bytes(records, name, proto, order)
            assert live.raw == want, ('COMMAND INFO', name, proto)

            live = conn.call('COMMAND', 'DOCS', name)
            subs = {k.text(): v for k, v in live.children[1].pairs()}.get('subcommands')
            order = [k.text() for k, _ in subs.pairs()] if subs else []
            head = b'*2\r\n' if proto == 2 else b'%1\r\n'
            want = head + bulk(name) + docs_entry_bytes(records, name, proto, order)
            assert live.raw == want, ('COMMAND DOCS', name, proto)


# ---------------------------------------------------------------------------------------------
# Emitting C++.

def escape_tokens(raw):
    """One C++ literal token per byte; octal escapes are fixed width so never swallow digits."""
    out = []
    for b in raw:
        if b == 0x22 or b == 0x5c:
            out.append('\\' + chr(b))
        elif b == 0x0d:
            out.append('\\r')
        elif b == 0x0a:
            out.append('\\n')
        elif 0x20 <= b < 0x7f:
            out.append(chr(b))
        else:
            out.append('\\%03o' % b)
    return out


def literal(raw, indent, width=100):
    """A string_view literal in adjacent pieces of whole RESP lines that fit within width."""
    if not raw:
        return '""sv'
    room = width - indent - 6  # quotes and "sv},"
    lines, cur = [], []
    for tok in escape_tokens(raw if isinstance(raw, bytes) else raw.encode()):
        cur.append(tok)
        if tok == '\\n':
            lines.append(cur)
            cur = []
    if cur:
        lines.append(cur)
    pieces, piece = [], ''
    for line in lines:
        text = ''.join(line)
        if len(piece) + len(text) <= room:
            piece += text
            continue
        if piece:
            pieces.append(piece)
        piece = ''
        for tok in line:  # a line longer than room: split between escapes
            if len(piece) + len(tok) > room:
                pieces.append(piece)
                piece = ''
            piece += tok
    if piece:
        pieces.append(piece)
    return ('\n' + ' ' * indent).join('"%s"' % p for p in pieces) + 'sv'


def ident(name):
    return 'k' + ''.join(p.capitalize() for p in
                         name.replace('|', '_').replace('-', '_').split('_')) + 'KeySpecs'


def emit_specs(rec):
    lines = ['constexpr KeySpecMeta %s[] = {' % ident(rec['name'])]
    for s in rec['specs']:
        lines.append('    {KeySpecMeta::Begin::%s, %d, %s, %d,' % (
            s['begin'], s['index'], literal(s['keyword'], 0), s['startfrom']))
        lines.append('     KeySpecMeta::Find::%s, %d, %d, %d, %d, %d, %d, %s},' % (
            s['find'], s['lastkey'], s['keystep'], s['limit'], s['keynumidx'],
            s['firstkey'], s['keynum_step'], literal(s['flags'], 0)))
    lines.append('};')
    return lines


def emit_command(rec):
    specs = (ident(rec['name']), len(rec['specs'])) if rec['specs'] else ('nullptr', 0)
    ind = 8
    return [
        '    {%s, %d,' % (literal(rec['name'], 0), rec['arity']),
        '     %s,' % literal(rec['flags'], 5),
        '     %s,' % literal(rec['acl'], 5),
        '     %d, %d, %d, %s, %d, %s,' % (rec['first'], rec['last'], rec['step'], specs[0],
                                          specs[1], 'true' if rec['movablekeys'] else 'false'),
        '     // info_resp2, info_resp3',
        '        ' + literal(rec['info2'], ind) + ',',
        '        ' + literal(rec['info3'], ind) + ',',
        '     // docs_pairs, docs_resp2, docs_resp3',
        '     %d,' % rec['docs_pairs'],
        '        ' + literal(rec['docs2'], ind) + ',',
        '        ' + literal(rec['docs3'], ind) + '},',
    ]


def render(records, version):
    lines = [
        '// GENERATED by tools/gen_command_meta.py from redis-server %s: do not edit.' % version,
        '// Regenerate: /usr/bin/python3 tools/gen_command_meta.py [--port N] [--check-cxx]',
        '// Every command and subcommand as COMMAND INFO / COMMAND DOCS report it, sorted by name.',
        '// Included only by server/command_meta.cc (needs KeySpecMeta, CommandMeta and ""sv).',
        '',
    ]
    names = sorted(records)
    for name in names:
        if records[name]['specs']:
            lines += emit_specs(records[name])
    lines.append('')
    lines.append('constexpr CommandMeta kCommandMetaTable[] = {')
    for name in names:
        lines += emit_command(records[name])
    lines.append('};')
    return '\n'.join(lines) + '\n'


# ---------------------------------------------------------------------------------------------
# Optional end-to-end check through the C++ compiler.

DUMPER = r'''
#include <cstdio>
#include "server/command_meta.h"
using docket::server::AllCommandMeta;
using docket::server::FindCommandMeta;
static void Put(std::string_view s) {
  std::printf("%zu\n", s.size());
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::printf("\n");
}
int main() {
  for (const auto& m : AllCommandMeta()) {
    if (FindCommandMeta(m.name) != &m) return 1;
    Put(m.name); Put(m.info_resp2); Put(m.info_resp3); Put(m.docs_resp2); Put(m.docs_resp3);
    std::printf("%d %d %d %d %d %d %d\n", m.arity, m.first_key, m.last_key, m.key_step,
                m.key_spec_count, m.docs_pairs, m.movablekeys ? 1 : 0);
    Put(m.flags); Put(m.acl_categories);
  }
  return 0;
}
'''


def check_cxx(records):
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, 'dump.cc'), os.path.join(tmp, 'dump')
        with open(src, 'w') as f:
            f.write(DUMPER)
        subprocess.run(['g++', '-std=c++20', '-O0', '-I', ROOT, src,
                        os.path.join(ROOT, 'server', 'command_meta.cc'), '-o', exe], check=True)
        out = subprocess.run([exe], check=True, capture_output=True).stdout
    pos, seen = 0, []

    def take():
        nonlocal pos
        nl = out.index(b'\n', pos)
        size = int(out[pos:nl])
        value = out[nl + 1:nl + 1 + size]
        pos = nl + 2 + size
        return value

    while pos < len(out):
        name = take().decode()
        rec = records[name]
        for key in ('info2', 'info3', 'docs2', 'docs3'):
            assert take() == rec[key], (name, key)
        nl = out.index(b'\n', pos)
        nums = [int(x) for x in out[pos:nl].split()]
        pos = nl + 1
        assert nums == [rec['arity'], rec['first'], rec['last'], rec['step'], len(rec['specs']),
                        rec['docs_pairs'], int(rec['movablekeys'])], name
        assert take().decode() == rec['flags'] and take().decode() == rec['acl'], name
        seen.append(name)
    assert seen == sorted(records), 'C++ table order or content differs'
    print('check-cxx: %d entries identical through the compiled table' % len(seen))


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--port', type=int, help='use a running redis-server on this port')
    ap.add_argument('--out', default=OUT_PATH)
    ap.add_argument('--check-cxx', action='store_true')
    args = ap.parse_args()
    proc, port = (None, args.port) if args.port else start_redis()
    try:
        version = redis_version(RespConn(port))
        if not version.startswith('7.0.'):
            sys.exit('need redis-server 7.0, found %s' % version)
        data = fetch(port)
        records = build_records(data)
        top = [n for n in sorted(records) if '|' not in n]
        verify_replies(data, records, top)
        print('verified COMMAND INFO and COMMAND DOCS of %d commands (%d entries), RESP2 and RESP3'
              % (len(top), len(records)))
    finally:
        if proc:
            proc.terminate()
            proc.wait()
    text = render(records, version)
    with open(args.out, 'w') as f:
        f.write(text)
    print('wrote %s (%d bytes)' % (args.out, len(text)))
    if args.check_cxx:
        check_cxx(records)


if __name__ == '__main__':
    main()
