#!/usr/bin/python3
"""Writes a mixed log of N lines (nginx access, app, sshd, kernel) to stdout, deterministically."""
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 500000
rnd = random.Random(42)
out = []
for i in range(n):
    k = rnd.random()
    if k < 0.45:
        status = rnd.choice([200] * 30 + [301, 304, 404, 500, 502, 503])
        out.append('10.0.%d.%d - - [21/Nov/2026:10:00:%02d +0000] "GET /api/v1/items/%d HTTP/1.1" %d %d "-" "curl/8.0"'
                   % (rnd.randrange(256), rnd.randrange(256), i % 60, i, status, rnd.randrange(100, 9000)))
    elif k < 0.80:
        level = rnd.choice(['info'] * 8 + ['warn', 'error'])
        out.append('2026-11-21T10:00:%02dZ app[%d]: level=%s request id=%08x took %dms' % (
            i % 60, 1000 + i % 7, level, i, rnd.randrange(1, 2000)))
    elif k < 0.95:
        if rnd.random() < 0.3:
            inv = 'invalid user ' if rnd.random() < 0.5 else ''
            out.append('Nov 21 10:00:%02d host sshd[%d]: Failed password for %sroot%d from 192.0.2.%d port %d ssh2'
                       % (i % 60, 2000 + i % 50, inv, i % 9, rnd.randrange(256), rnd.randrange(1024, 65535)))
        else:
            out.append('Nov 21 10:00:%02d host sshd[%d]: Accepted publickey for deploy from 198.51.100.%d port %d ssh2'
                       % (i % 60, 2000 + i % 50, rnd.randrange(256), rnd.randrange(1024, 65535)))
    else:
        if rnd.random() < 0.05:
            out.append('Nov 21 10:00:%02d host kernel: [%d.%06d] Out of memory: Killed process %d (worldserver) total-vm:%dkB'
                       % (i % 60, i, i % 999999, 3000 + i % 5000, rnd.randrange(10**6, 10**7)))
        else:
            out.append('Nov 21 10:00:%02d host kernel: [%d.%06d] eth0: link up, 1000Mbps, full-duplex'
                       % (i % 60, i, i % 999999))
sys.stdout.write('\n'.join(out) + '\n')
