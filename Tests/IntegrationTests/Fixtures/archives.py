#!/usr/bin/env python3
"""Makes image archives for the integration tests: hostile ones (each must be rejected) and a
large one (for the crash test). Usage: archives.py OUTDIR SENTINEL_DIR [large_mb]"""
import gzip, hashlib, io, json, os, sys, tarfile

out, sentinel = sys.argv[1], sys.argv[2]
large_mb = int(sys.argv[3]) if len(sys.argv) > 3 else 0
os.makedirs(out, exist_ok=True)

def sha(b): return "sha256:" + hashlib.sha256(b).hexdigest()

def layer(entries):
    """entries: list of (TarInfo, bytes|None)"""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()

def entry(name, kind=tarfile.REGTYPE, data=b"", link=""):
    i = tarfile.TarInfo(name)
    i.type = kind
    i.mode = 0o644 if kind == tarfile.REGTYPE else 0o755
    if kind == tarfile.REGTYPE:
        i.size = len(data)
        return (i, data)
    i.linkname = link
    return (i, None)

def config(diff_ids):
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                       "rootfs": {"type": "layers", "diff_ids": diff_ids}}, sort_keys=True).encode()

def docker_archive(name, layers, diff_ids=None, tag="hostile:latest", manifest_layers=None):
    """A docker-save style archive (manifest.json + blobs)."""
    diff_ids = diff_ids or [sha(l) for l in layers]
    cfg = config(diff_ids)
    files = {"blobs/sha256/" + sha(cfg)[7:]: cfg}
    paths = []
    for l in layers:
        p = "blobs/sha256/" + sha(l)[7:]
        files[p] = l
        paths.append(p)
    manifest = [{"Config": "blobs/sha256/" + sha(cfg)[7:], "RepoTags": [tag], "Layers": manifest_layers or paths}]
    files["manifest.json"] = json.dumps(manifest).encode()
    write(name, files)

def write(name, files):
    with tarfile.open(os.path.join(out, name + ".tar"), "w", format=tarfile.PAX_FORMAT) as t:
        for p, data in files.items():
            i = tarfile.TarInfo(p)
            i.size = len(data)
            i.mode = 0o644
            t.addfile(i, io.BytesIO(data))

# Layer entries that try to leave the root.
docker_archive("dotdot", [layer([entry("../../../../../../" + sentinel.lstrip("/") + "/dotdot", data=b"pwned")])])
docker_archive("symlink-write", [layer([entry("link", tarfile.SYMTYPE, link=sentinel), entry("link/symlink", data=b"pwned")])])
docker_archive("symlink-relative", [layer([entry("a", tarfile.DIRTYPE), entry("a/up", tarfile.SYMTYPE, link="../../../../../../../.."),
                                           entry("a/up" + sentinel + "/relative", data=b"pwned")])])
docker_archive("hardlink-out", [layer([entry("h", tarfile.LNKTYPE, link="../../../../../../../etc/passwd")])])
docker_archive("hardlink-abs", [layer([entry("h", tarfile.LNKTYPE, link="/etc/passwd")])])
# A GNU sparse entry claiming a huge size.
sp = tarfile.TarInfo("sparse")
sp.type = tarfile.GNUTYPE_SPARSE
sp.size = 0
docker_archive("sparse", [layer([(sp, None)])])
# A file claiming 1 TB but the stream ends: truncated.
big = tarfile.TarInfo("huge")
big.size = 1 << 40
raw = layer([]) # empty tar; we build the header by hand below
hdr = big.tobuf(format=tarfile.PAX_FORMAT)
docker_archive("huge-truncated", [hdr + b"x" * 4096])
# The manifest names a layer path outside the archive.
good = layer([entry("ok", data=b"ok")])
docker_archive("manifest-escape", [good], manifest_layers=["../../../../etc/passwd"])
docker_archive("manifest-absolute", [good], manifest_layers=["/etc/passwd"])
# diff_ids that do not match the layer.
docker_archive("wrong-diffid", [good], diff_ids=[sha(b"something else")])
# A blob whose content does not match its name.
cfg = config([sha(good)])
write("wrong-digest", {"blobs/sha256/" + sha(cfg)[7:]: cfg, "blobs/sha256/" + sha(b"other")[7:]: good,
                       "manifest.json": json.dumps([{"Config": "blobs/sha256/" + sha(cfg)[7:], "RepoTags": ["hostile:x"],
                                                     "Layers": ["blobs/sha256/" + sha(b"other")[7:]]}]).encode()})
# An OCI archive whose gzip layer is truncated (its digest is of the truncated bytes, so only
# decompression can notice).
gz = gzip.compress(layer([entry("file", data=os.urandom(200000))]), mtime=0)
cut = gz[: len(gz) // 2]
diff = sha(gzip.decompress(gz))
cfg = config([diff])
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(cfg), "size": len(cfg)},
                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(cut), "size": len(cut)}]}).encode()
index = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": sha(manifest), "size": len(manifest), "annotations": {"io.containerd.image.name": "docker.io/library/hostile:gz"}}]}).encode()
write("truncated-gzip", {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index,
                         "blobs/sha256/" + sha(cfg)[7:]: cfg, "blobs/sha256/" + sha(cut)[7:]: cut,
                         "blobs/sha256/" + sha(manifest)[7:]: manifest})
# Not a tar at all.
with open(os.path.join(out, "garbage.tar"), "wb") as f:
    f.write(b"this is not a tar archive" * 100)

if large_mb:
    # One layer of large random files, streamed to disk.
    path = os.path.join(out, "large-layer.tar")
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for n in range(large_mb // 16):
            i = tarfile.TarInfo("data/file%03d" % n)
            i.size = 16 << 20
            t.addfile(i, io.BytesIO(os.urandom(16 << 20)))
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    d = "sha256:" + h.hexdigest()
    cfg = config([d])
    lp = os.path.join(out, "large.tar")
    with tarfile.open(lp, "w", format=tarfile.PAX_FORMAT) as t:
        for p, data in [("blobs/sha256/" + sha(cfg)[7:], cfg)]:
            i = tarfile.TarInfo(p); i.size = len(data); t.addfile(i, io.BytesIO(data))
        t.add(path, arcname="blobs/sha256/" + d[7:])
        m = json.dumps([{"Config": "blobs/sha256/" + sha(cfg)[7:], "RepoTags": ["large:1"], "Layers": ["blobs/sha256/" + d[7:]]}]).encode()
        i = tarfile.TarInfo("manifest.json"); i.size = len(m); t.addfile(i, io.BytesIO(m))
    os.remove(path)
    print(sha(cfg))
