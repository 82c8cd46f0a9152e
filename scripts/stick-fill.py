#!/usr/bin/env python3
# stick-fill.py SOCK N: set N ip entries (10.x.y.z) in table "st" through the
# stats socket in prompt mode (HAProxy and halo alike); used by stick-bench.
import socket, sys, threading, time
sock, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX)
for _ in range(200):
    try:
        s.connect(sock); break
    except OSError:
        time.sleep(0.05)
s.sendall(b"prompt\n")
done = threading.Event()
seen = [0]
def reader():
    buf = b""
    while True:
        d = s.recv(1 << 16)
        if not d: break
        seen[0] += d.count(b"\n> ") + (1 if d.startswith(b"> ") else 0)
        if seen[0] >= n + 1: break
    done.set()
t = threading.Thread(target=reader, daemon=True); t.start()
t0 = time.time()
B = 2000
for base in range(0, n, B):
    lines = []
    for i in range(base, min(n, base + B)):
        lines.append("set table st key 10.%d.%d.%d data.http_req_rate 1\n" % (i >> 16, (i >> 8) & 255, i & 255))
    s.sendall("".join(lines).encode())
done.wait(600)
print("populated %d in %.1fs (prompts seen %d)" % (n, time.time() - t0, seen[0]), file=sys.stderr)
