#!/usr/bin/python3
"""Pushes one image of an OCI image layout to a registry (Docker Registry HTTP API v2), with the
Python standard library only: the e2e benchmarks use it instead of `skopeo copy` so that a
machine without skopeo (the device machine) can fill a local docker-registry.

usage: regpush.py LAYOUT_DIR[:REF_NAME] [http://|https://]HOST[:PORT]/NAME:TAG
       regpush.py --ping [http://|https://]HOST[:PORT]     exit 0 when GET /v2/ answers 200
       regpush.py --layers [http://|https://]HOST[:PORT]/NAME:TAG
                                          print the layer digests of the manifest, one a line

REF_NAME picks the index.json entry whose org.opencontainers.image.ref.name annotation equals
it; without it the index must hold exactly one manifest. Only image manifests are pushed (not
indexes). For every blob (config, then layers in order) a HEAD /v2/NAME/blobs/DIGEST; when the
registry lacks it, POST /v2/NAME/blobs/uploads/ and one monolithic PUT <Location>&digest=DIGEST
streaming the file. Then PUT /v2/NAME/manifests/TAG with the manifest's bytes as they are in the
layout and Content-Type its mediaType; the Docker-Content-Digest of the answer must match. No
authentication; plain http unless the reference says https://. Exit status 0 on success, 1 on
any failure (the message names the blob, URL and HTTP status), 2 on a usage error.
"""
import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json")
ACCEPT = ", ".join(MANIFEST_TYPES)
TIMEOUT = 300
# Talks to the registry directly, whatever http_proxy says.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class PushError(Exception):
    pass


def split_ref(ref):
    """'[scheme://]host[:port]/name:tag' -> (base URL, name, tag)."""
    scheme = "http"
    if "://" in ref:
        scheme, _, ref = ref.partition("://")
    host, slash, rest = ref.partition("/")
    if not slash or not rest:
        raise PushError("`%s`: expected HOST[:PORT]/NAME:TAG" % ref)
    name, colon, tag = rest.rpartition(":")
    if not colon or "/" in tag or not name:
        raise PushError("`%s`: expected a tag after the name" % ref)
    return "%s://%s" % (scheme, host), name, tag


class Registry:
    def __init__(self, base, name):
        self.base, self.name = base, name

    def request(self, method, url, data=None, headers=None, expect=(200,)):
        """Returns (status, headers) when the status is in expect; PushError otherwise."""
        url = urllib.parse.urljoin(self.base + "/", url)
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            resp = OPENER.open(req, timeout=TIMEOUT)
        except urllib.error.HTTPError as e:
            with e:
                if e.code in expect:
                    return e.code, e.headers
                body = e.read(400).decode("utf-8", "replace").strip()
            raise PushError("%s %s: HTTP %d: %s" % (method, url, e.code, body)) from None
        except (urllib.error.URLError, OSError) as e:
            raise PushError("%s %s: %s" % (method, url, e)) from None
        with resp:
            resp.read()
        if resp.status not in expect:
            raise PushError("%s %s: HTTP %d (expected %s)" % (method, url, resp.status,
                                                              "/".join(map(str, expect))))
        return resp.status, resp.headers

    def has_blob(self, digest):
        status, _ = self.request("HEAD", "/v2/%s/blobs/%s" % (self.name, digest),
                                 expect=(200, 404))
        return status == 200

    def put_blob(self, digest, path):
        _, hdrs = self.request("POST", "/v2/%s/blobs/uploads/" % self.name, data=b"",
                               headers={"Content-Length": "0"}, expect=(202,))
        loc = hdrs.get("Location")
        if not loc:
            raise PushError("POST /v2/%s/blobs/uploads/: no Location header" % self.name)
        loc = urllib.parse.urljoin(self.base + "/", loc)
        loc += ("&" if urllib.parse.urlsplit(loc).query else "?") + \
            urllib.parse.urlencode({"digest": digest})
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            self.request("PUT", loc, data=f, expect=(201,), headers={
                "Content-Type": "application/octet-stream", "Content-Length": str(size)})

    def put_manifest(self, tag, data, media_type):
        _, hdrs = self.request("PUT", "/v2/%s/manifests/%s" % (self.name, tag), data=data,
                               headers={"Content-Type": media_type}, expect=(201,))
        return hdrs.get("Docker-Content-Digest")

    def get_manifest(self, tag):
        url = urllib.parse.urljoin(self.base + "/", "/v2/%s/manifests/%s" % (self.name, tag))
        req = urllib.request.Request(url, headers={"Accept": ACCEPT})
        try:
            with OPENER.open(req, timeout=TIMEOUT) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise PushError("GET %s: %s" % (url, e)) from None


def blob_path(layout, digest):
    algo, _, hexd = digest.partition(":")
    if algo != "sha256" or len(hexd) != 64:
        raise PushError("`%s`: not a sha256 digest" % digest)
    return os.path.join(layout, "blobs", "sha256", hexd)


def pick_manifest(layout, ref_name):
    try:
        with open(os.path.join(layout, "index.json")) as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        raise PushError("`%s/index.json`: %s" % (layout, e)) from None
    descs = index.get("manifests") or []
    if ref_name is not None:
        descs = [d for d in descs
                 if (d.get("annotations") or {}).get("org.opencontainers.image.ref.name")
                 == ref_name]
    if len(descs) != 1:
        raise PushError("`%s/index.json`: %d manifests match%s (need exactly one)" % (
            layout, len(descs), "" if ref_name is None else " ref name `%s`" % ref_name))
    return descs[0]


def push(layout, ref_name, dest, log=None):
    base, name, tag = split_ref(dest)
    desc = pick_manifest(layout, ref_name)
    mpath = blob_path(layout, desc["digest"])
    with open(mpath, "rb") as f:
        mdata = f.read()
    if "sha256:" + hashlib.sha256(mdata).hexdigest() != desc["digest"]:
        raise PushError("`%s`: content does not match its digest" % mpath)
    manifest = json.loads(mdata)
    mtype = manifest.get("mediaType") or desc.get("mediaType")
    if mtype not in MANIFEST_TYPES:
        raise PushError("`%s`: media type `%s` is not an image manifest" % (mpath, mtype))
    reg = Registry(base, name)
    for b in [manifest["config"]] + list(manifest.get("layers") or []):
        path = blob_path(layout, b["digest"])
        if os.path.getsize(path) != b["size"]:
            raise PushError("`%s`: size %d, the manifest says %d" % (
                path, os.path.getsize(path), b["size"]))
        if reg.has_blob(b["digest"]):
            what = "exists"
        else:
            reg.put_blob(b["digest"], path)
            what = "pushed"
        if log:
            log("%s %s (%d bytes)" % (what, b["digest"], b["size"]))
    got = reg.put_manifest(tag, mdata, mtype)
    if got and got != desc["digest"]:
        raise PushError("PUT manifest `%s`: the registry stored %s, expected %s" % (
            dest, got, desc["digest"]))
    return desc["digest"]


def main(argv):
    try:
        if len(argv) == 2 and argv[0] == "--ping":
            base = argv[1] if "://" in argv[1] else "http://" + argv[1]
            Registry(base, "").request("GET", "/v2/")
            return 0
        if len(argv) == 2 and argv[0] == "--layers":
            base, name, tag = split_ref(argv[1])
            m = Registry(base, name).get_manifest(tag)
            for layer in m.get("layers") or []:
                print(layer["digest"])
            return 0
        if len(argv) != 2 or argv[0].startswith("-"):
            sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
            return 2
        layout, ref_name = argv[0], None
        if ":" in os.path.basename(layout):
            layout, _, ref_name = layout.rpartition(":")
        verbose = os.environ.get("REGPUSH_VERBOSE") == "1"
        digest = push(layout, ref_name, argv[1],
                      log=(lambda s: sys.stderr.write("regpush: %s\n" % s)) if verbose else None)
        print(digest)
        return 0
    except PushError as e:
        sys.stderr.write("regpush: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
