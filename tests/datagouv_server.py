"""A small local HTTP server that speaks like data.gouv.fr, for tests (stdlib only, loopback only).

It answers what it was told to answer, path by path, and records every request:

    with DatagouvServer() as portal:
        portal.file("/files/a.csv", data)
        portal.redirect("/api/1/datasets/r/abc", "/files/a.csv")
        portal.dataset("some-dataset", [("a.csv", "csv", "/files/a.csv")])
        ... portal.url("/api/1/datasets/r/abc") ... portal.requests ...

Unknown paths answer 404 with a JSON body, like the portal.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_length: int | None = None  # announced length when it differs from the body's (a body cut short)
    delay: float = 0.0  # seconds to wait before answering (a server that stalls)


class DatagouvServer:
    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[str] = []  # paths, in the order they were asked for
        self.headers: list[dict[str, str]] = []  # the request headers, in the same order
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    # --- lifetime ---
    def __enter__(self) -> DatagouvServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    # --- what to answer ---
    def url(self, path: str) -> str:
        return self.base_url + path

    def answer(self, path: str, answer: Answer) -> str:
        self.answers[path] = answer
        return self.url(path)

    def file(
        self, path: str, data: bytes, content_type: str = "application/octet-stream", headers=None
    ) -> str:
        return self.answer(path, Answer(body=data, headers={"Content-Type": content_type, **(headers or {})}))

    def json(self, path: str, value, status: int = 200) -> str:
        body = json.dumps(value).encode()
        return self.answer(path, Answer(status, body, {"Content-Type": "application/json"}))

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        target = self.url(location) if location.startswith("/") else location
        return self.answer(path, Answer(status, headers={"Location": target}))

    def error(self, path: str, status: int) -> str:
        return self.json(path, {"message": f"error {status}", "status": status}, status)

    def dataset(self, slug: str, files: list[tuple[str, str, str]]) -> list[dict]:
        """Describe a dataset at /api/1/datasets/<slug>/ with resources (title, format, file path),
        in the API's shape; each gets a stable URL /api/1/datasets/r/<id> redirecting to its file."""
        resources = []
        for title, fmt, path in files:
            rid = str(uuid.uuid5(uuid.NAMESPACE_URL, slug + title))
            body = self.answers[path].body if path in self.answers else b""
            latest = self.redirect(f"/api/1/datasets/r/{rid}", path)
            resources.append(
                {
                    "id": rid,
                    "title": title,
                    "description": None,
                    "filetype": "file",
                    "type": "main",
                    "format": fmt,
                    "mime": "text/csv" if fmt == "csv" else None,
                    "url": self.url(path),
                    "latest": latest,
                    "checksum": None,
                    "filesize": len(body),
                    "created_at": "2024-01-01T00:00:00+00:00",
                    "last_modified": "2024-01-01T00:00:00+00:00",
                    "extras": {"check:available": True, "analysis:content-length": len(body)},
                    "preview_url": None,
                    "schema": None,
                }
            )
        self.json(
            f"/api/1/datasets/{slug}/", {"id": slug, "slug": slug, "title": slug, "resources": resources}
        )
        return resources

    def count(self, prefix: str = "") -> int:
        with self._lock:
            return sum(1 for p in self.requests if p.startswith(prefix))


def _not_modified(answer_headers: dict[str, str], request_headers) -> bool:
    """Conditional GET as HTTP servers do it: the ETag first, else the Last-Modified date."""
    etag, modified = answer_headers.get("ETag"), answer_headers.get("Last-Modified")
    if_none_match, if_modified_since = (
        request_headers.get("If-None-Match"),
        request_headers.get("If-Modified-Since"),
    )
    if etag and if_none_match:
        return etag in [t.strip() for t in if_none_match.split(",")]
    return bool(modified and if_modified_since and modified == if_modified_since)


def _handler(server: DatagouvServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            with server._lock:
                server.requests.append(path)
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
            answer = server.answers.get(path) or Answer(
                404,
                json.dumps({"message": "Not found", "status": 404}).encode(),
                {"Content-Type": "application/json"},
            )
            if answer.delay:
                time.sleep(answer.delay)
            if answer.status == 200 and _not_modified(answer.headers, self.headers):
                self.send_response(304)
                for name in ("ETag", "Last-Modified"):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            length = answer.content_length if answer.content_length is not None else len(answer.body)
            self.send_header("Content-Length", str(length))
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                self.wfile.write(answer.body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                pass
            self.close_connection = True

        def log_message(self, format, *args) -> None:  # quiet
            pass

    return Handler
