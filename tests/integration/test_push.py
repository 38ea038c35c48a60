# SPDX-License-Identifier: MIT
"""agent --push: windows sent to a Pyroscope-like receiver of our own.

The receiver implements Pyroscope's Connect endpoint
(POST /push.v1.PusherService/Push), and every request is decoded with the
message definitions (proto/push.proto) by protoc-c --decode, as protoc
would; each raw profile is opened by spyglass's pprof reader (and go tool
pprof when there is one).
"""
import base64
import email.parser
import gzip
import http.server
import urllib.parse
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import ROOT, SPYGLASS, parse_folded, frame_name
from pbwire import fields
from test_agent import MARK, Agent, spyglass, workload
from test_pprof import GO, go_env, pprof  # noqa: F401 (go_env is a fixture)

PROTO = os.path.join(ROOT, "proto")
PROTOC = shutil.which("protoc-c") or shutil.which("protoc")
pytestmark = pytest.mark.skipif(not PROTOC, reason="needs protoc-c or protoc to decode")


class Receiver(object):
    """An HTTP server on 127.0.0.1 that keeps every push; stop() and
    start() again on the same port make an outage."""

    def __init__(self, port=0, old=False, refuse=None, delay=0):
        self.requests = []
        self.refused = 0
        self.delayed = 0
        self.delay = delay  # seconds each push waits before it is answered
        self.port = port
        self.old = old  # a server from before the push API: /ingest only
        self.refuse = refuse  # an HTTP status answered to every push
        self.server = None
        self.start()

    def start(self):
        receiver, requests, old = self, self.requests, self.old

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.delay:
                    receiver.delayed += 1
                    time.sleep(receiver.delay)
                    # The client gave up long ago: nothing to answer.
                    self.close_connection = True
                    return
                refuse = 404 if old and not self.path.startswith("/ingest?") else receiver.refuse
                if refuse:
                    receiver.refused += 1
                    self.send_response(refuse)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                requests.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/proto")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        # stop() does not wait for a delayed answer.
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port


def decode(body):
    """The request as protoc prints it, and its (labels, raw profile, ID)."""
    text = subprocess.run([PROTOC, "--decode=push.v1.PushRequest", "--proto_path", PROTO,
                           os.path.join(PROTO, "push.proto")], input=body,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True,
                          timeout=30).stdout.decode()
    series = [v for n, _, v in fields(body) if n == 1]
    assert len(series) == 1, text
    labels, samples = {}, []
    for n, _, v in fields(series[0]):
        if n == 1:
            pair = {k: x.decode() for k, _, x in fields(v)}
            labels[pair[1]] = pair.get(2, "")
        elif n == 2:
            samples.append({k: x for k, _, x in fields(v)})
    assert len(samples) == 1
    # protoc read the same labels: the encoding follows the definitions.
    for name, value in labels.items():
        assert 'name: "%s"' % name in text
    return text, labels, samples[0][1], samples[0][2].decode()


def decode_profile(raw):
    """A raw profile (gzipped pprof) as protoc prints it by proto/profile.proto."""
    return subprocess.run([PROTOC, "--decode=perftools.profiles.Profile", "--proto_path", PROTO,
                           os.path.join(PROTO, "profile.proto")], input=gzip.decompress(raw),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True,
                          timeout=30).stdout.decode()


def windows_in(store):
    db = sqlite3.connect(store)
    try:
        rows = db.execute("SELECT id, start_ns FROM windows ORDER BY start_ns, id").fetchall()
        queued = db.execute("SELECT count(*) FROM push_queue").fetchone()[0]
    finally:
        db.close()
    return rows, queued


def push_run(tmp_path, url, *args, seconds=4, settle=1.5):
    """An agent (args added) pushing to url while cpu_split.py runs for
    seconds, stopped settle seconds after it ended: (store, status, log,
    seconds the stop took)."""
    store = str(tmp_path / "s.db")
    busy = workload(tmp_path, "cpu_split.py", seconds)
    agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "1", "-r", "50",
                  "--push", url, *args)
    assert busy.wait(timeout=60) == 0
    time.sleep(settle)
    started = time.time()
    status, log = agent.stop()
    return store, status, log, time.time() - started


def test_push_every_window_once_across_an_outage(tmp_path, go_env):
    receiver = Receiver()
    store = str(tmp_path / "s.db")
    busy = workload(tmp_path, "cpu_split.py", 40)
    agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "1", "-r", "50",
                  "--push", receiver.url, "--push-auth", "ann:s3cret", "--push-tenant", "team-a")
    time.sleep(3)
    receiver.stop()  # the server goes away for 30 s, as long as the longest backoff
    before = len(receiver.requests)
    time.sleep(30)
    receiver.start()
    assert busy.wait(timeout=60) == 0
    # Backoff is at most 30 s after a failure; the queue then drains.
    deadline = time.time() + 60
    while time.time() < deadline and windows_in(store)[1]:
        time.sleep(0.5)
    status, log = agent.stop()
    receiver.stop()
    assert status == 0, log
    rows, queued = windows_in(store)
    assert queued == 0 and before >= 2, (queued, before)
    got = []
    for path, headers, body in receiver.requests:
        assert path == "/push.v1.PusherService/Push"
        assert headers["Content-Type"] == "application/proto"
        assert headers["X-Scope-OrgID"] == "team-a"
        assert headers["Authorization"] == "Basic " + base64.b64encode(b"ann:s3cret").decode()
        text, labels, raw, id_ = decode(body)
        assert labels["__name__"] in ("process_cpu", "wall"), text
        assert labels["service_name"] == "cpu_split" and labels["service"] == "cpu_split"
        assert labels["pid"] == str(busy.pid)
        got.append((id_, raw))
    ids = [i for i, _ in got]
    # Every window, exactly once, in the order they were stored.
    assert len(ids) == len(set(ids)), ids
    want = [int(r[0]) for r in rows]
    assert [int(re.match(r"spyglass-.*-(\d+)-\d+$", i).group(1)) for i in ids] == want
    assert len(rows) >= 60  # 2 modes x ~40 windows, 60 of them queued during the outage
    # The raw profiles are the windows' pprof files.
    pb = tmp_path / "w.pb.gz"
    pb.write_bytes(next(raw for i, raw in got))
    status, out, err = spyglass("convert", str(pb), "-f", "collapsed", "-o", "-")
    assert status == 0, err
    assert any(frame_name(f) in ("alpha", "beta", "gamma") for s in parse_folded(out) for f in s)
    # Each one a pprof Profile by its own definitions, and opened by go tool pprof.
    for i, (_, raw) in enumerate(got):
        assert "sample_type {" in decode_profile(raw)
        if GO:
            pb = tmp_path / ("w%d.pb.gz" % i)
            pb.write_bytes(raw)
            assert "spyglass.mode=" in pprof(go_env, "-raw", str(pb))
    # The outage was said once, however many tries it took.
    assert log.count("could not push") == 1, log


def test_push_bad_url_and_unreachable_server(tmp_path):
    store = str(tmp_path / "s.db")
    for url in ("ftp://example.com", "http://", "localhost:4040"):
        status, _, err = spyglass("agent", "--store", store, "--match", MARK, "--push", url)
        assert status == 2 and err.count("\n") == 1 and "--push" in err, (url, err)
    # Nothing listens on this port (it was just closed): sampling goes on,
    # windows stay queued.
    receiver = Receiver()
    receiver.stop()
    store, status, log, _ = push_run(tmp_path, receiver.url)
    assert status == 0, log
    rows, queued = windows_in(store)
    assert len(rows) >= 4 and queued == len(rows), (len(rows), queued)
    lines = log.splitlines()
    assert len(lines) == 1 and "could not push" in lines[0] and "sampling goes on" in lines[0], log


def test_push_falls_back_to_ingest(tmp_path):
    """A server older than the push API answers it 404: the windows go to
    /ingest?name=SERVICE.cpu{labels}&from&until&format=pprof instead, the
    pprof as the form's profile file, each once."""
    receiver = Receiver(old=True)
    store = str(tmp_path / "s.db")
    busy = workload(tmp_path, "cpu_split.py", 4)
    agent = Agent(tmp_path, "--store", store, "--match", MARK, "--window", "1", "-r", "50",
                  "--push", receiver.url + "/")
    assert busy.wait(timeout=60) == 0
    deadline = time.time() + 30
    time.sleep(1.5)
    while time.time() < deadline and windows_in(store)[1]:
        time.sleep(0.5)
    status, log = agent.stop()
    receiver.stop()
    assert status == 0 and log == "", log
    rows, queued = windows_in(store)
    assert queued == 0 and len(rows) >= 4
    assert len(receiver.requests) == len(rows)
    names = []
    for path, headers, body in receiver.requests:
        url = urllib.parse.urlparse(path)
        q = dict(urllib.parse.parse_qsl(url.query))
        assert url.path == "/ingest" and q["format"] == "pprof", path
        assert int(q["from"]) <= int(q["until"])
        names.append(q["name"])
        form = email.parser.BytesParser().parsebytes(
            b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body)
        parts = {p.get_param("name", header="content-disposition"): p.get_payload(decode=True)
                 for p in form.get_payload()}
        pb = tmp_path / "w.pb.gz"
        pb.write_bytes(parts["profile"])
        status, out, err = spyglass("convert", str(pb), "-f", "collapsed", "-o", "-")
        assert status == 0, err
    assert all(re.match(r"cpu_split\.(cpu|wall)\{.*pid=%d" % busy.pid, n) for n in names), names
    assert sum(n.startswith("cpu_split.cpu{") for n in names) == len(rows) // 2


def test_push_refused_credentials_keep_the_windows(tmp_path):
    """A server that refuses our credentials (401) refuses every window
    alike: it is said once, with what to check, and the windows stay
    queued; the next run, let in, sends each of them once."""
    refusing = Receiver(refuse=401)
    store, status, log, _ = push_run(tmp_path, refusing.url, "--push-auth", "ann:wrong")
    refusing.stop()
    assert status == 0, log
    rows, queued = windows_in(store)
    assert len(rows) >= 4 and queued == len(rows) and refusing.refused >= 1, (rows, queued)
    lines = log.splitlines()
    assert len(lines) == 1 and "HTTP 401" in lines[0] and "--push-auth" in lines[0] and \
        "windows wait in the store" in lines[0], log
    receiver = Receiver()
    agent = Agent(tmp_path, "--store", store, "--match", "no-such-program-%d" % os.getpid(),
                  "--push", receiver.url, "--push-auth", "ann:right")
    deadline = time.time() + 30
    while time.time() < deadline and windows_in(store)[1]:
        time.sleep(0.2)
    status, log = agent.stop()
    receiver.stop()
    assert status == 0 and log == "", log
    ids = [decode(body)[3] for _, _, body in receiver.requests]
    assert windows_in(store)[1] == 0 and len(ids) == len(set(ids)) == len(rows), (ids, rows)


def test_push_rejected_windows_said_once(tmp_path):
    """A server that rejects each window as bad (400): each is given up,
    the queue moves on, and the reason is said once, not once a window."""
    rejecting = Receiver(refuse=400)
    store, status, log, _ = push_run(tmp_path, rejecting.url)
    rejecting.stop()
    assert status == 0, log
    rows, queued = windows_in(store)
    assert len(rows) >= 4 and queued == 0 and rejecting.refused == len(rows), \
        (len(rows), queued, rejecting.refused)
    lines = log.splitlines()
    assert len(lines) == 1 and "HTTP 400" in lines[0] and "given up" in lines[0], log


def test_push_to_a_hanging_server_keeps_sampling(tmp_path):
    """A server that takes each push and never answers in time (it waits
    longer than the 10 s a request may take): windows go on being stored,
    one a second as --window 1 says, with no gap, the failure is said
    once, and the windows stay queued. The stop takes the 5 s it may send
    in at most, the request in flight cut at that deadline too (it took
    10 + 10 s: the request in flight, then the stop's first try)."""
    receiver = Receiver(delay=25)
    store, status, log, stopped = push_run(tmp_path, receiver.url, seconds=16, settle=1)
    receiver.stop()
    assert status == 0, log
    rows, queued = windows_in(store)
    # The first try hung until its time limit, then the backoff's: at
    # least two requests reached the server, none was answered.
    assert receiver.delayed >= 2 and not receiver.requests, receiver.delayed
    assert queued == len(rows), (queued, len(rows))
    db = sqlite3.connect(store)
    try:
        starts = [s for s, in db.execute("SELECT start_ns FROM windows WHERE mode = 'cpu' "
                                         "ORDER BY start_ns")]
    finally:
        db.close()
    # 16 s of run in 1 s windows on one grid: each window follows the last
    # by exactly one (a window held up by the pusher would leave a gap).
    assert len(starts) >= 15, len(starts)
    assert all(b - a == 10**9 for a, b in zip(starts, starts[1:])), starts
    lines = log.splitlines()
    assert len(lines) == 1 and "could not push" in lines[0] and "Timeout" in lines[0] and \
        "sampling goes on" in lines[0], log
    # The stop sends what is queued for 5 s at most (the progress callback
    # that cuts a request in flight runs about once a second).
    assert stopped < 8, stopped
