"""Pattern 2's consumer: reads `order-events` (kcat), stores each order in PostgreSQL (psql) and
logs each stored row as a JSON line (`{"action": "INSERT", ...}`); `GET /health` answers 200
once its table exists."""

import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BROKERS = os.environ.get("KAFKA_BROKERS", "localhost:9092")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://localhost/mydb")
PORT = int(os.environ.get("PORT", "8081"))
TOPIC = "order-events"
READY = threading.Event()


def log(**fields):
    print(json.dumps(fields), flush=True)


def psql(script, **variables):
    """Runs `script` (psql variables as `:'name'`); returns None on success, else why not."""
    command = ["psql", DATABASE_URL, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    for name, value in variables.items():
        command += ["-v", "%s=%s" % (name, value)]
    try:
        done = subprocess.run(command, input=script.encode(), capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if done.returncode == 0:
        return None
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "psql exited with %d" % done.returncode


def consume():
    while psql("CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, body text NOT NULL);") is not None:
        time.sleep(0.2)
    READY.set()
    command = ["kcat", "-C", "-b", BROKERS, "-t", TOPIC, "-o", "beginning", "-u", "-q", "-f", "%k\t%s\n"]
    while True:
        reader = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for line in reader.stdout:
            order_id, _, body = line.decode(errors="replace").rstrip("\n").partition("\t")
            why = psql("INSERT INTO orders (id, body) VALUES (:'id', :'body');", id=order_id, body=body)
            if why is None:
                log(action="INSERT", order_id=order_id)
            else:
                log(action="insert_failed", order_id=order_id, error=why)
        reader.wait()
        time.sleep(0.5)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/health" and READY.is_set()
        data = json.dumps({"ok": ok}).encode()
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


threading.Thread(target=consume, daemon=True).start()
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
