#!/usr/bin/env python3
"""Benchmark archives: `big OUT MB` (one image, MB of random data in 64 MiB files over 4 layers)
and `many OUT N` (N images sharing one small layer, each with its own config)."""
import hashlib, io, json, os, sys, tarfile

def sha(b): return "sha256:" + hashlib.sha256(b).hexdigest()

def add(t, name, data):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o644
    t.addfile(i, io.BytesIO(data))

def big(out, mb):
    layers = []
    tmp = out + ".layers"
    os.makedirs(tmp, exist_ok=True)
    per = max(1, mb // 4)
    for n in range(4):
        p = f"{tmp}/l{n}.tar"
        with tarfile.open(p, "w", format=tarfile.PAX_FORMAT) as lt:
            left = per << 20
            k = 0
            while left > 0:
                size = min(left, 64 << 20)
                add(lt, f"layer{n}/file{k}", os.urandom(size))
                left -= size; k += 1
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for c in iter(lambda: f.read(1 << 20), b""): h.update(c)
        layers.append((p, "sha256:" + h.hexdigest()))
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                      "rootfs": {"type": "layers", "diff_ids": [d for _, d in layers]}}).encode()
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        add(t, "blobs/sha256/" + sha(cfg)[7:], cfg)
        for p, d in layers: t.add(p, arcname="blobs/sha256/" + d[7:])
        add(t, "manifest.json", json.dumps([{"Config": "blobs/sha256/" + sha(cfg)[7:], "RepoTags": ["bench/big:1"],
                                              "Layers": ["blobs/sha256/" + d[7:] for _, d in layers]}]).encode())
    for p, _ in layers: os.remove(p)
    os.rmdir(tmp)

def many(out, n):
    lbuf = io.BytesIO()
    with tarfile.open(fileobj=lbuf, mode="w") as lt: add(lt, "hello", b"hello\n")
    layer = lbuf.getvalue()
    manifest = []
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        add(t, "blobs/sha256/" + sha(layer)[7:], layer)
        for i in range(n):
            cfg = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:%02dZ" % (i % 60),
                              "config": {"Cmd": ["sh"], "Labels": {"n": str(i)}},
                              "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}).encode()
            add(t, "blobs/sha256/" + sha(cfg)[7:], cfg)
            manifest.append({"Config": "blobs/sha256/" + sha(cfg)[7:], "RepoTags": [f"bench/many{i}:latest"],
                             "Layers": ["blobs/sha256/" + sha(layer)[7:]]})
        add(t, "manifest.json", json.dumps(manifest).encode())

{"big": lambda: big(sys.argv[2], int(sys.argv[3])), "many": lambda: many(sys.argv[2], int(sys.argv[3]))}[sys.argv[1]]()
