"""What the background-work tests share: the settings a fresh process builds from its environment, the tasks
waiting in the broker, and small real servers on 127.0.0.1 (one that accepts and never answers, an SMTP server
that takes messages and keeps them, a redis-server of the test's own, moto's S3), each started by the test and
stopped by it (threads joined; processes by their pid)."""

import base64
import email
import json
import os
import re
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

import redis

from tests.background import QUEUE
from tests.live_server import ROOT
from tests.stripe_peer import ServerProcess, free_port

SETTINGS_OF = """
import json
from django.conf import settings
print(json.dumps({
    "STORAGES": {"default": settings.STORAGES["default"], "SERVE_MEDIA": settings.SERVE_MEDIA},
    "CACHES": settings.CACHES,
}))
"""


def settings_with(**environ):
    """What shop/settings.py builds in a fresh process (DEBUG=1) from `environ` and no other MEDIA_*, AWS_*,
    REDIS_URL or CELERY_* variable: its default storage and SERVE_MEDIA, and its caches."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(
        ("MEDIA_", "AWS_", "DJANGO_", "PYTEST_", "DATABASE_URL", "SERVE_MEDIA", "REDIS_URL", "CELERY_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "shop.settings", "DEBUG": "1", **environ})
    done = subprocess.run([sys.executable, "-c", SETTINGS_OF], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def queued_tasks(broker):
    """The (task name, args) of every message waiting in the broker's queue, sorted."""
    tasks = []
    for raw in broker.redis.lrange(QUEUE, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], tuple(args)))
    return sorted(tasks)


class SilentServer:
    """Accepts connections and never says a word (a hung SMTP server or Redis, or a proxy in front of a dead one).
    Counts them."""

    def __init__(self):
        self.port = None
        self.connections = 0
        self._socket = None
        self._accepted = []
        self._thread = None
        self._stop = threading.Event()

    def start(self):
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._accepted.append(conn)  # kept open, never read or written
            self.connections += 1

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._accepted:
            conn.close()
        self._socket.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _address(command):
    """The <address> of a MAIL FROM or RCPT TO command."""
    match = re.search(rb"<([^>]*)>", command)
    return match.group(1).decode() if match else ""


class _SMTPSession(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 for Django's SMTP backend: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    def reply(self, line):
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self):
        self.reply("220 p6-test-smtp ESMTP")
        sender, recipients = None, []
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.reply("250-p6-test-smtp")
                self.reply("250 8BITMIME")
            elif verb == b"HELO":
                self.reply("250 p6-test-smtp")
            elif verb == b"MAIL":
                sender, recipients = _address(line), []
                self.reply("250 OK")
            elif verb == b"RCPT":
                recipients.append(_address(line))
                self.reply("250 OK")
            elif verb == b"DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while True:
                    chunk = self.rfile.readline(65536)
                    if chunk in (b".\r\n", b".\n", b""):
                        break
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.server.messages.append((sender, recipients, email.message_from_bytes(b"".join(data))))
                self.reply("250 OK: queued")
            elif verb == b"RSET":
                sender, recipients = None, []
                self.reply("250 OK")
            elif verb == b"NOOP":
                self.reply("250 OK")
            elif verb == b"QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class SMTPServer:
    """A working SMTP server on a free port; `messages` holds (envelope sender, recipients, Message)."""

    def __init__(self):
        self._server = None
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def messages(self):
        return self._server.messages

    def start(self):
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPSession)
        self._server.daemon_threads = True
        self._server.messages = []
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class RedisServer:
    """A redis-server of the test's own (no persistence), with a password, started and stopped by its pid."""

    def __init__(self, *, password, startup_timeout=20.0):
        self.port = free_port()
        self.password = password
        self.url = f"redis://:{password}@127.0.0.1:{self.port}/0"
        self.startup_timeout = startup_timeout
        self.process = None
        self._log = None

    def start(self):
        self._log = tempfile.TemporaryFile(prefix="redis-server-")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--requirepass", self.password],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if client.ping():
                    client.close()
                    return self
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer on port {self.port}:\n{self.output()}")
            time.sleep(0.05)

    def stop(self):
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def output(self):
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None


class MotoS3(ServerProcess):
    """moto's S3 API server (``python -m moto.server``) on a free 127.0.0.1 port."""

    name = "moto"
    health_path = "/moto-api/"

    def __init__(self):
        super().__init__(startup_timeout=60.0)

    def command(self):
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
