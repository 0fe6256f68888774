"""A tiny HTTP service for the fault tests: GET /x fetches BACKEND_URL + / with a fresh
connection per request and answers 200 with the backend's status in the body, 502 when the
backend fails or refuses, 504 when it does not answer within a second. GET /write appends a
line to WRITE_FILE and answers 200, or 507 with the errno when the write fails. GET /health
answers 200 without touching anything; GET /write-or-die exits the process (code 3) when the
write fails, as a service that does not handle a full disk would."""
import errno
import http.server
import os
import socket
import urllib.error
import urllib.request

BACKEND = os.environ["BACKEND_URL"]
WRITE_FILE = os.environ.get("WRITE_FILE", "")
if WRITE_FILE:
    os.makedirs(os.path.dirname(WRITE_FILE), exist_ok=True)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            return self.answer(200, "ok")
        if self.path == "/write":
            return self.write_line()
        if self.path == "/write-or-die":
            try:
                with open(WRITE_FILE, "a") as f:
                    f.write("line\n")
            except OSError:
                os._exit(3)
            return self.answer(200, "written")
        try:
            with urllib.request.urlopen(BACKEND + "/", timeout=1) as resp:
                self.answer(200, "backend %d" % resp.status)
        except urllib.error.HTTPError as e:
            self.answer(502, "backend answered %d" % e.code)
        except (socket.timeout, TimeoutError):
            self.answer(504, "backend timed out")
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                self.answer(504, "backend timed out")
            else:
                self.answer(502, "backend unreachable: %s" % reason)
        except (ConnectionError, OSError) as e:
            self.answer(502, "backend failed: %s" % e)

    def write_line(self):
        try:
            with open(WRITE_FILE, "a") as f:
                f.write("line\n")
                f.flush()
                os.fsync(f.fileno())
            self.answer(200, "written")
        except OSError as e:
            self.answer(507, "write failed: %s" % errno.errorcode.get(e.errno, e.errno))

    def answer(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
