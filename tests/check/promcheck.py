#!/usr/bin/env python3
# gst-diode — a strict reader of the Prometheus text format 0.0.4, for the
# relay's /metrics (tests/check/test-web-api.c runs it; needs no
# prometheus_client). Usage: promcheck.py FILE  (exit 0: well formed).
# Checks: every line a HELP/TYPE comment or `name{labels} value`; HELP then
# TYPE before a family's samples, each family once and its samples
# together; names and label names valid; label values with only \\ \" \n
# escapes; values floats or +Inf/-Inf/NaN; no series twice; histograms:
# per label set, le ascending and in the shortest form that reads back
# (0.05, not 0.050000000000000003), buckets cumulative, +Inf last and equal
# to _count, _sum present.
import math
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}


class Bad(Exception):
    pass


def value(text):
    if text in ('+Inf', '-Inf', 'NaN'):
        return float(text.replace('Inf', 'inf').replace('NaN', 'nan'))
    if not re.fullmatch(r'[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?', text):
        raise Bad('bad value %r' % text)
    return float(text)


def labels(line, i):
    """Parse {k="v",...} at line[i] == '{'; return (dict, index after)."""
    out = {}
    i += 1
    while line[i] != '}':
        m = LABEL.match(line, i)
        if not m:
            raise Bad('bad label name')
        k = m.group(0)
        i = m.end()
        if line[i:i + 2] != '="':
            raise Bad('bad label')
        i += 2
        v = []
        while line[i] != '"':
            c = line[i]
            if c == '\\':
                i += 1
                e = line[i]
                if e not in '\\"n':
                    raise Bad('bad escape \\%s' % e)
                v.append('\n' if e == 'n' else e)
            else:
                v.append(c)
            i += 1
        i += 1
        if k in out:
            raise Bad('label %s twice' % k)
        out[k] = ''.join(v)
        if line[i] == ',':
            i += 1
        elif line[i] != '}':
            raise Bad('bad label list')
    return out, i + 1


def shortest(x):
    """The shortest text that reads back as x (repr), without a '.0'."""
    r = repr(x)
    return r[:-2] if r.endswith('.0') else r


def check_histogram(name, series):
    groups = {}
    for (sname, lab), v in series.items():
        rest = tuple(sorted((k, x) for k, x in lab if k != 'le'))
        g = groups.setdefault(rest, {'buckets': [], 'count': None,
                                     'sum': None})
        if sname == name + '_bucket':
            le = dict(lab).get('le')
            if le is None:
                raise Bad('%s bucket without le' % name)
            if le != '+Inf' and le != shortest(value(le)):
                raise Bad('%s: le=%s is not in its shortest form' % (name, le))
            g['buckets'].append((value(le), v))
        elif sname == name + '_count':
            g['count'] = v
        elif sname == name + '_sum':
            g['sum'] = v
    for rest, g in groups.items():
        b = g['buckets']
        if g['count'] is None or g['sum'] is None or len(b) < 1:
            raise Bad('%s%s: incomplete histogram' % (name, rest))
        if [x[0] for x in b] != sorted(x[0] for x in b) or \
                len({x[0] for x in b}) != len(b):
            raise Bad('%s: le not ascending' % name)
        if any(b[i][1] < b[i - 1][1] for i in range(1, len(b))):
            raise Bad('%s: buckets not cumulative' % name)
        if not math.isinf(b[-1][0]) or b[-1][1] != g['count']:
            raise Bad('%s: +Inf bucket missing or not _count' % name)


def check(text):
    if not text.endswith('\n'):
        raise Bad('no final newline')
    families = {}
    order = []
    help_for = None
    fam = None
    seen = set()
    for n, line in enumerate(text[:-1].split('\n'), 1):
        try:
            if line.startswith('# HELP '):
                name = line[7:].split(' ', 1)[0]
                if not NAME.fullmatch(name) or name in families:
                    raise Bad('bad or repeated HELP')
                help_for, fam = name, None
            elif line.startswith('# TYPE '):
                parts = line[7:].split(' ')
                if len(parts) != 2 or parts[0] != help_for or \
                        parts[1] not in TYPES:
                    raise Bad('TYPE without its HELP, or bad type')
                fam = parts[0]
                families[fam] = {'type': parts[1], 'series': {}}
                order.append(fam)
            elif line.startswith('#') or not line:
                raise Bad('unexpected line')
            else:
                m = NAME.match(line)
                if not m:
                    raise Bad('bad metric name')
                name = m.group(0)
                i = m.end()
                lab = {}
                if line[i:i + 1] == '{':
                    lab, i = labels(line, i)
                if line[i:i + 1] != ' ' or ' ' in line[i + 1:]:
                    raise Bad('bad sample (or a timestamp)')
                v = value(line[i + 1:])
                if fam is None:
                    raise Bad('sample outside a family')
                t = families[fam]['type']
                ok = name == fam or (t == 'histogram' and name in (
                    fam + '_bucket', fam + '_sum', fam + '_count'))
                if not ok:
                    raise Bad('%s is not of family %s' % (name, fam))
                key = (name, tuple(sorted(lab.items())))
                if key in seen:
                    raise Bad('series twice')
                seen.add(key)
                families[fam]['series'][key] = v
        except (Bad, IndexError) as e:
            raise Bad('line %d: %s: %r' % (n, e, line))
    for name in order:
        if families[name]['type'] == 'histogram':
            check_histogram(name, families[name]['series'])
    return families


def main():
    with open(sys.argv[1], encoding='utf-8') as f:
        text = f.read()
    try:
        fams = check(text)
    except Bad as e:
        print('promcheck: %s' % e)
        return 1
    print('promcheck: %d families, %d series' % (
        len(fams), sum(len(f['series']) for f in fams.values())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
