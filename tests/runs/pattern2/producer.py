"""Pattern 2's producer: `POST /orders` publishes the order to the `order-events` topic (with
kcat, librdkafka's command-line client) and logs each publish as a JSON line; `GET /health`."""

import itertools
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BROKERS = os.environ.get("KAFKA_BROKERS", "localhost:9092")
PORT = int(os.environ.get("PORT", "8080"))
TOPIC = "order-events"
NEXT_ID = itertools.count(1)
LOCK = threading.Lock()


def log(**fields):
    print(json.dumps(fields), flush=True)


def publish(order_id, message):
    """Returns None when the broker acknowledged the message, else why not."""
    command = ["kcat", "-P", "-b", BROKERS, "-t", TOPIC, "-k", order_id, "-X", "message.timeout.ms=5000"]
    try:
        done = subprocess.run(command, input=message.encode(), capture_output=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if done.returncode == 0:
        return None
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "kcat exited with %d" % done.returncode


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            self.reply(200, {"ok": True})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/orders":
            return self.reply(404, {"error": "not found"})
        length = int(self.headers.get("Content-Length") or 0)
        try:
            order = json.loads(self.rfile.read(length).decode() or "{}")
        except ValueError:
            return self.reply(400, {"error": "the body is not JSON"})
        with LOCK:
            order_id = "order-%d" % next(NEXT_ID)
        why = publish(order_id, json.dumps({"order_id": order_id, "order": order}))
        if why is None:
            log(action="publish", order_id=order_id)
            self.reply(201, {"order_id": order_id})
        else:
            log(action="publish_failed", order_id=order_id, error=why)
            self.reply(503, {"error": "kafka unavailable: " + why})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
