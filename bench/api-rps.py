#!/usr/bin/env python3
"""Requests per second over a unix socket with keep-alive: api-rps.py SOCKET PATH SECONDS CONNS.
The same client drives both daemons, so the ratio is what matters."""
import socket, sys, time, threading

sock_path, path, seconds, conns = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
req = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
counts = [0] * conns

def read_response(s, buf):
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, rest = buf.split(b"\r\n\r\n", 1)
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        while b"0\r\n\r\n" not in rest:
            rest += s.recv(65536)
        return rest.split(b"0\r\n\r\n", 1)[1]
    n = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
    while len(rest) < n:
        rest += s.recv(65536)
    return rest[n:]

def worker(i, deadline):
    s = socket.socket(socket.AF_UNIX); s.connect(sock_path)
    buf = b""
    while time.time() < deadline:
        s.sendall(req)
        buf = read_response(s, buf)
        counts[i] += 1

deadline = time.time() + seconds
ts = [threading.Thread(target=worker, args=(i, deadline)) for i in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
print(f"{sum(counts) / seconds:.0f}")
