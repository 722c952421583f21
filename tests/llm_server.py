#!/usr/bin/python3
"""llm_server.py - an OpenAI-compatible chat-completions server for llmnas tests.

No LLM is reachable from the test machines, so every LLM test of the project talks to
this server instead. It listens on 127.0.0.1 only, on a free port chosen at start, answers
POST .../chat/completions (streamed or not) with scripted replies, injects faults on
demand, records every request it receives, and exits on its own after --lifetime seconds
(or when --watch-pid's process is gone, or on SIGTERM/SIGINT). Python standard library
only; run it with /usr/bin/python3.

Usage
    /usr/bin/python3 tests/llm_server.py --replies R.jsonl [--requests LOG.jsonl]
        [--port-file F] [--pid-file F] [--lifetime 120] [--watch-pid PID] [--loop]
        [--models ID,ID...] [--models-status STATUS] [--probe LINE]

    It prints "llm_server: listening on 127.0.0.1:PORT" and writes PORT to --port-file
    (atomically) once it accepts connections. Point the client at
    http://127.0.0.1:PORT/v1 (LLMNAS_BASE_URL or --base-url).

Reply file (--replies): JSON lines, one reply per request in order (per queue, see
"when"); blank lines and lines starting with # are skipped. When the script (or a "when"
queue) runs out the server answers HTTP 400 "llm_server: script exhausted" (not retried by
the client) unless --loop is given.
A line is either a JSON string - the reply text - or an object:

    "hello"                                     a reply, finish_reason "stop"
    {"reply": "text", "finish_reason": "stop", "prompt_tokens": 12,
     "completion_tokens": 3, "model": "m", "delay": 0.2}   all fields but reply optional
    {"echo": true}                              reply with the last user message
    {"when": "TEXT", ...}                       this line belongs to the queue of requests
                                                whose messages contain TEXT (first such
                                                queue in file order wins); lines without
                                                "when" answer every other request in order
    {"fault": NAME, ...}                        a fault, below
    any object may carry "repeat": N            the line answers the next N requests

Faults (NAME and its optional fields):
    retry_after       429 with "Retry-After: <seconds>" (seconds, default 1;
                      "date": true sends an HTTP date instead)
    retry_after_ms    429 with "retry-after-ms: <ms>" (ms, default 200)
    rate_limit        429 without any Retry-After header
    status            any status: status (default 500), message, type, code,
                      shape "openai" (default: {"error": {...}}), "vllm" (top-level
                      {"object": "error", "message": ...}), "string" ({"error": "..."}),
                      "text" (a plain-text body), headers {name: value}
    503 / 500 / 400 / 403 / 404 / 408 / 409 / 422   that status, OpenAI shape
    401               401 whose message echoes the key it received (clients must scrub it)
    quota             429 insufficient_quota (billing; must not be retried)
    vllm_error        400 in vLLM's top-level shape (status may be given)
    error_in_200      status 200 with an error object as the body
    bad_json          status 200 with a body that is not JSON
    close             close the connection without any response
    cut               (not streamed) status line, headers and the first half of the body,
                      then the connection is dropped: a transfer cut short
    length            a reply with finish_reason "length" (reply text optional)
    empty             content ""        null     content null
    refusal           content null and message.refusal (refusal text optional)
    content_filter    finish_reason "content_filter"
    oversized         a 200 body of `bytes` bytes (default 9 MiB), valid JSON
    stall             status line and headers, then silence for `seconds` (default 30)
    slow              answer normally after `seconds` (default 5), nothing sent before
    stream_error      (stream) a content chunk, then an error event (message, type),
                      then the end
    stream_cut        (stream) a content chunk, then the connection is dropped
                      without [DONE]
    no_stream         answer a stream request with a plain JSON completion (servers
                      that ignore "stream")
A streamed request (stream: true) gets the same replies as server-sent events:
": keep-alive" comment, role chunk, content in pieces, finish chunk, a usage chunk when
stream_options.include_usage is set, then "data: [DONE]".

Model list: GET .../models answers {"object": "list", "data": [{"id": ...}]} with the ids
of --models, or --models-status's status (401 echoing the key, like the 401 fault); without
either it answers 404, as a server that does not list its models. GET requests are logged
too when --models or --models-status is given (body null, answer "models", "404" or the
status), so that the logs of other tests hold their POSTs only.

Preflight probe: a chat request with max_tokens 1 is the client's preflight for a server
that lists no models (llm_ping). It is answered "ok" without taking a scripted reply and
is not logged, unless --probe gives its answer (any script line); then it is logged.

Request log (--requests): one JSON object per line, appended as requests arrive:
    {"n": 1, "t": 0.012, "method": "POST", "path": "/v1/chat/completions",
     "auth": "bearer" | "none", "key_sha256": "<hex of the bearer token>" | null,
     "body": {...the request JSON...}, "answer": "reply" | "<fault name>",
     "in_flight": K}
K counts the requests being answered when this one arrived, itself included: the
concurrency of a client is read from it (an ordering, not a wall-clock measure).
The key itself is never written; tests compare key_sha256 with the hash of the key
they set.

From a shell test:
    /usr/bin/python3 tests/llm_server.py --replies "$T/replies.jsonl" \
        --requests "$T/requests.jsonl" --port-file "$T/port" --lifetime 120 &
    srv=$!
    i=0; while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
    export LLMNAS_BASE_URL="http://127.0.0.1:$(cat "$T/port")/v1" LLMNAS_MODEL=test
    ...
    kill "$srv"; wait "$srv" 2>/dev/null
"""

import argparse
import email.utils
import hashlib
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STOP = threading.Event()
START = time.monotonic()
FLIGHT = {"now": 0}  # requests being answered
FLIGHT_LOCK = threading.Lock()
HERE = threading.local()  # the handler thread's in_flight at arrival


def load_script(path):
    items = []
    if not path:
        return items
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                item = json.loads(line)
            except ValueError as e:
                sys.exit(f"llm_server: {path}:{lineno}: not JSON: {e}")
            if isinstance(item, str):
                item = {"reply": item}
            if not isinstance(item, dict):
                sys.exit(f"llm_server: {path}:{lineno}: expected a string or an object")
            items.extend([item] * int(item.get("repeat", 1)))
    return items


class Script:
    """Replies in order; lines with "when": TEXT form their own queue, used for the
    requests whose messages contain TEXT (first matching queue in file order)."""

    def __init__(self, items, loop):
        self.loop = loop
        self.queues = {}  # when-text (None = the default queue) -> [items, position]
        for item in items:
            self.queues.setdefault(item.get("when"), [[], 0])[0].append(item)
        self.lock = threading.Lock()

    def next(self, text=""):
        with self.lock:
            key = next((k for k in self.queues if k is not None and k in text), None)
            q = self.queues.get(key) or [[], 0]
            items, n = q
            q[1] = n + 1
            if n < len(items):
                return items[n]
            if self.loop and items:
                return items[n % len(items)]
            what = f' for "{key}"' if key else ""
            return {"fault": "status", "status": 400,
                    "message": f"llm_server: script exhausted{what} ({len(items)} replies served)",
                    "type": "invalid_request_error"}


class Log:
    def __init__(self, path):
        self.path, self.n = path, 0
        self.lock = threading.Lock()

    def write(self, entry):
        with self.lock:
            self.n += 1
            entry = dict(n=self.n, t=round(time.monotonic() - START, 4), **entry)
            entry["in_flight"] = getattr(HERE, "in_flight", None)
            if self.path:
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")


def last_user(messages):
    for m in reversed(messages or []):
        if isinstance(m, dict) and m.get("role") == "user":
            return str(m.get("content", ""))
    return ""


def prompt_chars(messages):
    return sum(len(str(m.get("content", ""))) for m in messages or [] if isinstance(m, dict))


def wait(seconds):
    """Sleep, but return at once when the server stops."""
    STOP.wait(seconds)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "llm_server/1"

    def log_message(self, fmt, *args):  # quiet: the request log is the record
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm
        # and the client's delayed ACK add 40 ms to every reply (real servers set it too).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing ------------------------------------------------------------------
    def send_json(self, status, obj, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(body)

    def send_error_shape(self, status, message, etype, code=None, shape="openai",
                         headers=None):
        if shape == "vllm":
            obj = {"object": "error", "message": message, "type": etype, "param": None,
                   "code": status}
        elif shape == "string":
            obj = {"error": message}
        elif shape == "text":
            return self.send_json(status, None, headers, raw=message.encode())
        else:
            obj = {"error": {"message": message, "type": etype, "param": None, "code": code}}
        self.send_json(status, obj, headers)

    def chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def event(self, obj):
        self.chunk("data: " + (obj if isinstance(obj, str) else json.dumps(obj)) + "\n\n")

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    # -- requests ------------------------------------------------------------------
    def do_GET(self):
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else None
        models = self.server.models
        status = self.server.models_status
        is_models = self.path.rstrip("/").endswith("/models")
        answer = str(status) if is_models and status else \
            "models" if is_models and models is not None else "404"
        if models is not None or status:  # other tests count POSTs in the log
            self.server.log.write(dict(
                method="GET", path=self.path, auth="bearer" if token is not None else "none",
                key_sha256=hashlib.sha256(token.encode()).hexdigest() if token else None,
                body=None, answer=answer))
        if is_models and status == 401:
            return self.send_error_shape(401, f"Incorrect API key provided: {token}.",
                                         "invalid_request_error", "invalid_api_key")
        if is_models and status:
            return self.send_error_shape(status, f"injected HTTP {status}", "server_error")
        if is_models and models is not None:
            return self.send_json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "owned_by": "llm_server"} for m in models]})
        self.send_error_shape(404, f"no route {self.path}", "not_found")

    def do_POST(self):
        with FLIGHT_LOCK:
            FLIGHT["now"] += 1
            HERE.in_flight = FLIGHT["now"]
        try:
            self.post()
        finally:
            with FLIGHT_LOCK:
                FLIGHT["now"] -= 1

    def post(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else None
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self.server.log.write(dict(method="POST", path=self.path, auth="none",
                                       key_sha256=None, body=body, answer="404"))
            return self.send_error_shape(404, f"no route {self.path}", "not_found")
        msgs = body.get("messages") if isinstance(body, dict) else None
        probe = isinstance(body, dict) and body.get("max_tokens") == 1
        if probe:
            item = self.server.probe or {"reply": "ok"}
        else:
            item = self.server.script.next("\n".join(
                str(m.get("content", "")) for m in msgs or [] if isinstance(m, dict)))
        answer = item.get("fault", "echo" if item.get("echo") else "reply")
        if not probe or self.server.probe:  # other tests count the script's POSTs
            self.server.log.write(dict(
                method="POST", path=self.path, auth="bearer" if token is not None else "none",
                key_sha256=hashlib.sha256(token.encode()).hexdigest() if token is not None else None,
                body=body, answer=str(answer)))
        req = body if isinstance(body, dict) else {}
        try:
            self.answer(item, req, token)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def answer(self, item, req, token):
        fault = str(item.get("fault", ""))
        if item.get("delay"):
            wait(float(item["delay"]))
        simple = {"503": 503, "500": 500, "400": 400, "403": 403, "404": 404, "408": 408,
                  "409": 409, "422": 422}
        if fault in simple:
            st = simple[fault]
            return self.send_error_shape(st, item.get("message", f"injected HTTP {st}"),
                                         item.get("type", "server_error" if st >= 500
                                                  else "invalid_request_error"),
                                         item.get("code"), item.get("shape", "openai"))
        if fault == "status":
            st = int(item.get("status", 500))
            return self.send_error_shape(st, item.get("message", f"injected HTTP {st}"),
                                         item.get("type", "server_error"), item.get("code"),
                                         item.get("shape", "openai"), item.get("headers"))
        if fault == "401":
            return self.send_error_shape(401, f"Incorrect API key provided: {token}. You can "
                                         "find your API key at https://example.invalid.",
                                         "invalid_request_error", "invalid_api_key")
        if fault == "quota":
            return self.send_error_shape(429, "You exceeded your current quota, please check "
                                         "your plan and billing details.", "insufficient_quota",
                                         "insufficient_quota", headers={"Retry-After": "1"})
        if fault == "vllm_error":
            st = int(item.get("status", 400))
            return self.send_error_shape(st, item.get("message", "vLLM says no"),
                                         "BadRequestError", shape="vllm")
        if fault == "retry_after":
            s = item.get("seconds", 1)
            value = email.utils.formatdate(time.time() + float(s), usegmt=True) \
                if item.get("date") else str(s)
            return self.send_error_shape(429, "Rate limit reached, retry later", "requests",
                                         "rate_limit_exceeded", headers={"Retry-After": value})
        if fault == "retry_after_ms":
            return self.send_error_shape(429, "Rate limit reached", "requests",
                                         "rate_limit_exceeded",
                                         headers={"retry-after-ms": item.get("ms", 200)})
        if fault == "rate_limit":
            return self.send_error_shape(429, "Rate limit reached", "requests",
                                         "rate_limit_exceeded")
        if fault == "close":
            self.close_connection = True
            return None
        if fault == "cut" and not req.get("stream"):
            body = json.dumps(self.completion(req, self.reply_text(item, req), "stop", item)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return None
        if fault == "error_in_200":
            return self.send_error_shape(200, "The server had an error while processing your "
                                         "request", "server_error")
        if fault == "bad_json":
            return self.send_json(200, None, raw=b"<html>502 Bad Gateway</html>")
        if fault == "stall":
            return self.stall(float(item.get("seconds", 30)), req.get("stream"))
        if fault == "slow":
            wait(float(item.get("seconds", 5)))
        if fault == "oversized":
            size = int(item.get("bytes", 9 << 20))
            return self.send_json(200, self.completion(req, "x" * size, "stop", item))
        text, finish, refusal = self.reply_text(item, req), item.get("finish_reason", "stop"), None
        if fault == "length":
            finish = "length"
        elif fault == "empty":
            text = ""
        elif fault == "null":
            text = None
        elif fault == "refusal":
            text, refusal = None, item.get("refusal", "I can't help with that.")
        elif fault == "content_filter":
            text, finish = item.get("reply", ""), "content_filter"
        if req.get("stream") and fault != "no_stream":
            return self.stream(req, text, finish, refusal, item, fault)
        return self.send_json(200, self.completion(req, text, finish, item, refusal),
                              item.get("headers"))

    def reply_text(self, item, req):
        if item.get("echo"):
            return last_user(req.get("messages"))
        return item.get("reply", "ok")

    def usage(self, req, text, item):
        p = int(item.get("prompt_tokens", prompt_chars(req.get("messages")) // 4 + 1))
        c = int(item.get("completion_tokens", len(text or "") // 4 + 1))
        return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}

    def completion(self, req, text, finish, item, refusal=None):
        msg = {"role": "assistant", "content": text}
        if refusal is not None:
            msg["refusal"] = refusal
        return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                "model": item.get("model", req.get("model", "test-model")),
                "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
                "usage": self.usage(req, text, item)}

    def stream(self, req, text, finish, refusal, item, fault):
        model = item.get("model", req.get("model", "test-model"))
        base = {"id": "chatcmpl-test", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model}

        def delta(d, fr=None):
            return dict(base, choices=[{"index": 0, "delta": d, "finish_reason": fr}])

        self.start_stream()
        self.chunk(": keep-alive\n\n")
        self.event(delta({"role": "assistant", "content": ""}))
        pieces = [text[i:i + 7] for i in range(0, len(text), 7)] if text else []
        if fault in ("stream_error", "stream_cut"):
            self.event(delta({"content": (pieces or ["partial"])[0]}))
            if fault == "stream_cut":
                self.close_connection = True
                return  # no terminating chunk: the client sees a cut transfer
            self.event({"error": {"message": item.get("message", "injected error mid-stream"),
                                  "type": item.get("type", "server_error"), "code": None}})
            self.chunk(b"")
            return
        for p in pieces:
            self.event(delta({"content": p}))
        if refusal is not None:
            self.event(delta({"refusal": refusal}))
        self.event(delta({}, finish))
        if (req.get("stream_options") or {}).get("include_usage"):
            self.event(dict(base, choices=[], usage=self.usage(req, text, item)))
        self.event("[DONE]")
        self.chunk(b"")

    def stall(self, seconds, stream):
        self.send_response(200)
        if stream:
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.flush()
        wait(seconds)
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops the SYNs of a wide chat_many (1 s stalls)

    def handle_error(self, request, client_address):
        # Clients that hang up (a cap, a stall detector, a timeout) are part of the tests.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description="OpenAI-compatible test server for llmnas")
    ap.add_argument("--replies", help="scripted replies, JSON lines")
    ap.add_argument("--requests", help="append every request here, JSON lines")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--pid-file", help="write the process id here")
    ap.add_argument("--lifetime", type=float, default=120, help="exit after this many seconds")
    ap.add_argument("--watch-pid", type=int, help="exit when this process is gone")
    ap.add_argument("--loop", action="store_true", help="cycle through the replies")
    ap.add_argument("--models", help="comma-separated model ids listed at GET .../models "
                    "(without it, GET .../models answers 404, as servers that list none)")
    ap.add_argument("--models-status", type=int, default=0,
                    help="answer GET .../models with this HTTP status (401 echoes the key)")
    ap.add_argument("--probe", help="answer the client's preflight probe (a chat request with "
                    "max_tokens 1) with this script line, e.g. '{\"fault\": \"404\"}', and log it "
                    "(without it, probes are answered \"ok\", unlogged, outside the script)")
    a = ap.parse_args()

    srv = Server(("127.0.0.1", 0), Handler)  # loopback only, a free port
    srv.script = Script(load_script(a.replies), a.loop)
    srv.log = Log(a.requests)
    srv.models = [m for m in a.models.split(",") if m] if a.models is not None else None
    srv.models_status = a.models_status
    srv.probe = None
    if a.probe:
        srv.probe = json.loads(a.probe)
        srv.probe = {"reply": srv.probe} if isinstance(srv.probe, str) else srv.probe
    port = srv.server_address[1]
    if a.pid_file:
        with open(a.pid_file, "w") as f:
            f.write(f"{os.getpid()}\n")
    # The handler only sets a flag: STOP.set() takes the Event's lock, and a signal that
    # lands while this thread holds it (in STOP.wait) would deadlock the server for good.
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.append(1))
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, a.port_file)
    print(f"llm_server: listening on 127.0.0.1:{port}", flush=True)
    deadline = START + a.lifetime
    while not stopping and time.monotonic() < deadline:
        if a.watch_pid:
            try:
                os.kill(a.watch_pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
        time.sleep(0.1)
    STOP.set()
    srv.shutdown()
    srv.server_close()


if __name__ == "__main__":
    main()
