#!/usr/bin/env python3
"""A registry that misbehaves on purpose, for the pull client's fault tests.

Serves the busybox test image (an OCI archive given as argv[1]) under three repositories:
  good/img:1    as a real registry would;
  corrupt/img:1 the layer blob's bytes do not match its digest (one byte flipped);
  flaky/img:1   the first GET of the layer blob sends half of it and closes the connection;
                a GET with `Range: bytes=N-` is answered 206 with the rest.
Prints the port it listens on (127.0.0.1, picked by the kernel), then serves until killed.
"""
import http.server, json, socketserver, sys, tarfile

archive = tarfile.open(sys.argv[1])
blobs = {}
for m in archive.getmembers():
    if m.isfile() and m.name.startswith("blobs/sha256/"):
        blobs["sha256:" + m.name.split("/")[-1]] = archive.extractfile(m).read()
index = json.loads(archive.extractfile("index.json").read())
manifest_digest = index["manifests"][0]["digest"]
manifest = blobs[manifest_digest]
layer_digest = json.loads(manifest)["layers"][0]["digest"]
flaky_served = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/v2/":
            return self.send(200, b"{}", [("Docker-Distribution-API-Version", "registry/2.0")])
        parts = path.split("/")
        # /v2/<repo>/img/manifests/<ref> or /v2/<repo>/img/blobs/<digest>
        if len(parts) == 6 and parts[4] == "manifests" and parts[3] == "img" and parts[2] in ("good", "corrupt", "flaky"):
            return self.send(200, manifest, [("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                                             ("Docker-Content-Digest", manifest_digest)])
        if len(parts) == 6 and parts[4] == "blobs" and parts[5] in blobs:
            repo, digest = parts[2], parts[5]
            data = blobs[digest]
            if digest == layer_digest and repo == "corrupt":
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            if digest == layer_digest and repo == "flaky":
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    return self.send(206, data[start:], [("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")])
                if "first" not in flaky_served:
                    flaky_served.add("first")
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
            return self.send(200, data, [("Content-Type", "application/octet-stream"), ("Docker-Content-Digest", digest)])
        body = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}).encode()
        return self.send(404, body, [("Content-Type", "application/json")])


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
