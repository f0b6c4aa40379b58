#!/usr/bin/python3
"""Realistic rule sets of N rules for hostwatch logwatch and the same rules as an mtail program,
and the mixed log they run on (nginx access, app, sshd and kernel lines), deterministically.

  gen_rules.py rules N OUTDIR   writes OUTDIR/rules.yaml and OUTDIR/progs/rules.mtail
  gen_rules.py log LINES        writes the log to stdout

Rules come in 14 kinds (literals, classes, alternations, (?i), anchors, .*, named captures,
exclude, patterns without a literal), each parameterised by a value the log carries (a resource,
a service, a user, a host, a device...), so a line can match only a few rules of the set however
large it is: the cost of the rules a line cannot match is what the benchmark measures. Rule i
has kind i % 14; the values cycle so that sets of 10, 100 and 1,000 rules all match something.
"""
import os
import random
import sys

WORDS_A = ["users", "orders", "billing", "search", "cart", "auth", "media", "report", "ship",
           "stock", "price", "promo", "review", "geo", "mail", "chat", "feed", "audit", "tax",
           "quota", "token", "export", "import", "asset", "badge"]
WORDS_B = ["list", "item", "sync", "batch", "meta", "view", "edit", "hook", "scan", "page",
           "tree", "calc", "diff", "lock", "pull", "push", "find", "stat", "plan", "link"]
RESOURCES = [f"{a}-{b}" for a in WORDS_A for b in WORDS_B]  # 500
SERVICES = [f"{a}{b}" for a in ["api", "worker", "cron", "gateway", "indexer", "notifier",
                                "scheduler", "resizer"] for b in ["", "d", "-east", "-west",
                                                                  "-blue", "-green"]]  # 48
USERS = [f"{u}{i}" for u in ["root", "admin", "oracle", "test", "ubuntu", "git", "deploy",
                             "postgres"] for i in range(12)]  # 96
HOSTS = [f"node{i:02d}" for i in range(40)]
DEVICES = [f"{d}{i}" for d in ["eth", "ens", "wlan", "bond", "veth"] for i in range(8)]  # 40
COMMS = ["worldserver", "java", "postgres", "redis-server", "chrome", "node", "python3",
         "mysqld", "nginx", "ffmpeg", "clickhouse", "elastic"]
AGENTS = ["curl", "Wget", "Mozilla", "python-requests", "Go-http-client", "okhttp", "Prometheus",
          "kube-probe", "Apache-HttpClient", "axios"]


def pick(values, i):
    # Rule i's value: successive rules of one kind take successive values.
    return values[(i // 14) % len(values)]


def esc(s):
    return "".join("\\" + c if c in r".^$*+?()[]{}|\\" else c for c in s)


def rule(i):
    """(name, match, exclude, emit, captures used) of rule i."""
    k = i % 14
    res, svc, user = esc(pick(RESOURCES, i)), esc(pick(SERVICES, i)), esc(pick(USERS, i))
    host, dev, comm, agent = pick(HOSTS, i), pick(DEVICES, i), esc(pick(COMMS, i)), esc(pick(AGENTS, i))
    name = f"r{i:04d}_k{k:02d}"
    exclude, emit = "", "count"
    if k == 0:    # plain literal
        m = f"GET /api/v1/{res}/"
    elif k == 1:  # classes
        m = f"/api/v1/{res}/\\d+ HTTP/1\\.[01]\" 5\\d\\d "
    elif k == 2:  # alternation
        m = f"{svc}\\[\\d+\\]: level=(?:error|warn) "
    elif k == 3:  # caseless
        m = f"(?i){svc}\\[\\d+\\]: LEVEL=ERROR "
    elif k == 4:  # anchored at the start, its only literal short and shared
        m = f"^Nov \\d+ \\d\\d:\\d\\d:\\d\\d {host} sshd\\[\\d+\\]: Failed password"
    elif k == 5:  # anchored at the end
        m = f"route=/{res} took \\d{{3,}}ms$"
    elif k == 6:  # .*
        m = f"{svc}\\[.*route=/{res} "
    elif k == 7:  # named captures, counted (not read)
        m = f"Failed password for (?:invalid user )?(?P<user>{user}) from (?P<ip>\\S+)"
    elif k == 8:  # a named capture aggregated as a value: RE2 extracts it on every hit
        m = f"{svc}\\[\\d+\\]: .* took (?P<ms>\\d+)ms"
        emit = "[count, value]"
    elif k == 9:  # no literal worth the name: classes and repeats only
        m = f"^\\d+\\.\\d+\\.{(i // 14) % 256}\\.\\d+ - - \\[[^]]+\\] \"(?:POST|PUT) "
    elif k == 10:  # kernel, alternation at the end
        m = f"kernel: \\[\\s*\\d+\\.\\d+\\] {dev}: link (?:up|down)"
    elif k == 11:  # named capture with a class
        m = f"Out of memory: Killed process (?P<pid>\\d+) \\((?P<comm>{comm})\\)"
    elif k == 12:  # exclude
        m = f"{svc}\\[\\d+\\]: level=error "
        exclude = f"route=/{res} "
    else:         # caseless, anchored at the end
        m = f"(?i)\"{agent}/[\\d.]+\"$"
    return name, m, exclude, emit


def slash(pattern):
    """pattern as the body of an mtail regex literal, which ends at an unescaped '/'."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        out.append("\\/" if pattern[i] == "/" else pattern[i])
        i += 1
    return "".join(out)


def write_rules(n, outdir):
    os.makedirs(os.path.join(outdir, "progs"), exist_ok=True)
    rules = [rule(i) for i in range(n)]
    with open(os.path.join(outdir, "rules.yaml"), "w") as y:
        y.write(f"# {n} generated rules (bench/logwatch/gen_rules.py)\nlogwatch:\n")
        y.write("  files: [{path: /dev/null, rules: [" + ", ".join(r[0] for r in rules) + "]}]\n")
        y.write("  rules:\n")
        for name, m, exclude, emit in rules:
            q = m.replace("'", "''")
            x = f", exclude: '{exclude}'" if exclude else ""
            y.write(f"    - {{name: {name}, match: '{q}'{x}, emit: {emit}}}\n")
    with open(os.path.join(outdir, "progs", "rules.mtail"), "w") as p:
        p.write(f"# {n} generated rules (bench/logwatch/gen_rules.py), the same as rules.yaml\n")
        for name, m, exclude, emit in rules:
            p.write(f"counter {name}\n")
            if emit != "count":
                p.write(f"counter {name}_ms_sum\n")
        for name, m, exclude, emit in rules:
            p.write(f"/{slash(m)}/ {{\n")
            inc = f"  {name}++\n" + (f"  {name}_ms_sum += $ms\n" if emit != "count" else "")
            if exclude:
                p.write(f"  /{slash(exclude)}/ {{\n  }} else {{\n  {inc}  }}\n")
            else:
                p.write(inc)
            p.write("}\n")


def write_log(n):
    rnd = random.Random(42)
    out = []
    for i in range(n):
        k = rnd.random()
        ss = i % 60
        if k < 0.45:
            status = rnd.choice([200] * 30 + [301, 304, 404, 500, 502, 503])
            method = rnd.choice(["GET"] * 6 + ["POST", "PUT"])
            out.append('10.0.%d.%d - - [21/Nov/2026:10:00:%02d +0000] "%s /api/v1/%s/%d HTTP/1.%d" %d %d "-" "%s/%d.%d"'
                       % (rnd.randrange(256), rnd.randrange(256), ss, method, rnd.choice(RESOURCES), i,
                          rnd.randrange(2), status, rnd.randrange(100, 9000), rnd.choice(AGENTS),
                          rnd.randrange(1, 9), rnd.randrange(10)))
        elif k < 0.80:
            level = rnd.choice(["info"] * 8 + ["warn", "error"])
            if rnd.random() < 0.05:
                level = level.upper()
            out.append('2026-11-21T10:00:%02dZ %s[%d]: level=%s request id=%08x route=/%s took %dms'
                       % (ss, rnd.choice(SERVICES), 1000 + i % 7, level, i, rnd.choice(RESOURCES),
                          rnd.randrange(1, 2000)))
        elif k < 0.95:
            host = rnd.choice(HOSTS)
            if rnd.random() < 0.3:
                inv = "invalid user " if rnd.random() < 0.5 else ""
                out.append('Nov 21 10:00:%02d %s sshd[%d]: Failed password for %s%s from 192.0.2.%d port %d ssh2'
                           % (ss, host, 2000 + i % 50, inv, rnd.choice(USERS), rnd.randrange(256),
                              rnd.randrange(1024, 65535)))
            else:
                out.append('Nov 21 10:00:%02d %s sshd[%d]: Accepted publickey for deploy from 198.51.100.%d port %d ssh2'
                           % (ss, host, 2000 + i % 50, rnd.randrange(256), rnd.randrange(1024, 65535)))
        else:
            host = rnd.choice(HOSTS)
            if rnd.random() < 0.05:
                out.append('Nov 21 10:00:%02d %s kernel: [%d.%06d] Out of memory: Killed process %d (%s) total-vm:%dkB'
                           % (ss, host, i, i % 999999, 3000 + i % 5000, rnd.choice(COMMS),
                              rnd.randrange(10**6, 10**7)))
            else:
                out.append('Nov 21 10:00:%02d %s kernel: [%6d.%06d] %s: link %s, 1000Mbps, full-duplex'
                           % (ss, host, i % 100000, i % 999999, rnd.choice(DEVICES),
                              rnd.choice(["up", "down"])))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "rules":
        write_rules(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "log":
        write_log(int(sys.argv[2]))
    else:
        sys.exit(__doc__)
