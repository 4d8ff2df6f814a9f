"""The HTTP server: a plain JSON API under ``/api`` beside the web page, sign-in and read-only
mode, on one FastAPI app (the Gradio page of :mod:`qa.ui` is mounted on it at ``/``).

Routes (documented at ``/api/docs``, OpenAPI at ``/api/openapi.json``):

- ``POST /api/ask`` ``{"question": "...", "k": 3}`` -> the JSON list ``qa ask --json`` prints;
- ``GET /api/documents`` -> the indexed documents, the skipped files, whether the index is
  behind the corpus;
- ``POST /api/rebuild`` -> 202 and the rebuild's status (409 with the running one's status if
  one runs, 403 on a read-only server); ``GET /api/rebuild/status`` -> its progress.

Every error is ``{"error": "one line"}`` with an HTTP status: 400 a bad request (malformed
JSON, an empty or too long question, ``k`` out of range), 401 no or wrong credentials, 403 a
read-only server, 409 a rebuild already running, 413 a body over :data:`MAX_BODY_BYTES`, 429
too many failed sign-ins, 503 no usable index, 500 anything unexpected (logged, never a
traceback in the answer).

Access (:func:`decide_access`): with users (``--auth``), the page shows Gradio's sign-in form
and the API takes the same users' HTTP Basic credentials; repeated failures from one address
are refused for a while (:class:`LoginThrottle`, the page's sign-in and the API together).
Upload and rebuild are turned off on a read-only server, and on a non-loopback address without
users unless explicitly allowed."""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request  # the routes' annotations are read at run time

from qa.service import (
    DEFAULT_K,
    MAX_K,
    MAX_UPLOAD_BYTES,
    QAService,
    ReadOnlyError,
    RebuildRunning,
    check_question,
    error_message,
    prepare_index,
)
from qa.settings import DEFAULTS, Settings

if TYPE_CHECKING:  # pragma: no cover
    import gradio as gr
    from fastapi import FastAPI

log = logging.getLogger("qa")

#: Largest request body the JSON API reads (a question is at most a few KB).
MAX_BODY_BYTES = 64 * 1024
#: Environment variable holding ``USER:PASSWORD`` (instead of ``--auth`` on the command line).
AUTH_ENV = "QA_AUTH"

ASGIApp = Callable[
    [dict[str, Any], Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]
]


# ------------------------------------------------------------------------------------------
# users and access
# ------------------------------------------------------------------------------------------
def parse_user(spec: str) -> tuple[str, str]:
    """``USER:PASSWORD`` -> ``(user, password)``, or ``ValueError`` (the password may hold
    colons; neither part may be empty)."""
    user, sep, password = spec.partition(":")
    user = user.strip()
    if not sep or not user or not password:
        raise ValueError("a user is given as USER:PASSWORD (both not empty)")
    return user, password


def read_users(
    specs: Sequence[str] = (), env: Mapping[str, str] | None = None, file: Path | None = None
) -> dict[str, str]:
    """The users allowed to sign in: ``--auth`` values, ``$QA_AUTH`` and the lines of a users
    file (``USER:PASSWORD`` each, the line's surrounding spaces ignored; blank lines and ``#``
    comments skipped)."""
    env = os.environ if env is None else env
    entries = list(specs)
    if env.get(AUTH_ENV):
        entries.append(env[AUTH_ENV])
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"cannot read the users file {file}: {e}") from None
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if line and not line.startswith("#"):
                try:
                    parse_user(line)
                except ValueError:
                    raise ValueError(f"{file}, line {n}: not USER:PASSWORD") from None
                entries.append(line)
    return dict(parse_user(e) for e in entries)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (only this machine can connect)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    """Who may do what: ``users`` (empty: no sign-in) and whether upload and rebuild are on;
    ``notice`` says so at start."""

    users: Mapping[str, str] = field(default_factory=dict)
    writable: bool = True
    notice: str = ""


def decide_access(
    host: str, users: Mapping[str, str], read_only: bool = False, allow_write: bool = False
) -> Access:
    """Upload and rebuild are on unless ``read_only``, and on a non-loopback address only with
    sign-in or when ``allow_write`` says so explicitly."""
    signin = "sign-in required" if users else "no sign-in"
    if read_only:
        return Access(users, False, f"read-only ({signin}): questions only, no upload or rebuild")
    if users:
        return Access(users, True, f"sign-in required ({len(users)} user(s))")
    if is_loopback(host):
        return Access(users, True, "")
    if allow_write:
        return Access(
            users,
            True,
            f"warning: serving on {host} without sign-in and with --allow-write: anyone who can "
            "reach this address can read the documents, upload files and rebuild the index",
        )
    return Access(
        users,
        False,
        f"serving on {host} without sign-in: questions only (no upload, no rebuild). Add "
        f"--auth USER:PASSWORD (or ${AUTH_ENV}, or --auth-file) to let signed-in users upload "
        "and rebuild, or --allow-write to let anyone",
    )


class LoginThrottle:
    """Slows down guessing: after ``free`` failed sign-ins from one address, each further
    attempt is refused until ``base * 2**(failures - free)`` seconds (at most ``cap``) have
    passed since the last failure. A success or ``forget`` quiet seconds clear the address."""

    def __init__(
        self,
        free: int = 5,
        base: float = 1.0,
        cap: float = 60.0,
        forget: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free, self.base, self.cap, self.forget = free, base, cap, forget
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wait_time(self, client: str) -> float:
        """Seconds before ``client`` may try again (0: now)."""
        now = self.clock()
        with self._lock:
            n, last = self._failures.get(client, (0, 0.0))
            if n and now - last > self.forget:
                del self._failures[client]
                return 0.0
        if n < self.free:
            return 0.0
        return max(0.0, min(self.cap, self.base * 2 ** (n - self.free)) - (now - last))

    def failed(self, client: str) -> None:
        """Count a failed sign-in."""
        now = self.clock()
        with self._lock:
            n, _ = self._failures.get(client, (0, 0.0))
            self._failures[client] = (n + 1, now)
            if len(self._failures) > 10_000:  # many addresses: drop the quiet ones
                for c, (_, t) in list(self._failures.items()):
                    if now - t > self.forget:
                        del self._failures[c]

    def succeeded(self, client: str) -> None:
        """A successful sign-in clears the address."""
        with self._lock:
            self._failures.pop(client, None)


def check_basic(header: str | None, users: Mapping[str, str]) -> str | None:
    """The user an ``Authorization: Basic`` header signs in, or ``None``. Every user's password
    is compared in constant time."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        user, sep, password = (
            base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not sep:
        return None
    found = None
    for name, secret in users.items():
        same_user = hmac.compare_digest(name.encode(), user.encode())
        same_password = hmac.compare_digest(secret.encode(), password.encode())
        if same_user and same_password:
            found = name
    return found


# ------------------------------------------------------------------------------------------
# ASGI guard: body size, sign-in throttle, read-only uploads
# ------------------------------------------------------------------------------------------
def _client(scope: Mapping[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"


async def _send_json(
    send: Callable[..., Awaitable[Any]],
    status: int,
    body: Any,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class Guard:
    """Pure ASGI middleware in front of everything: refuses an ``/api`` request whose declared
    body is over ``max_body`` (413), a sign-in (Gradio's ``POST /login``) from an address that
    failed too often (429) and counts its failures, and on a read-only server Gradio's file
    upload route (403)."""

    def __init__(
        self, app: ASGIApp, throttle: LoginThrottle, writable: bool, max_body: int = MAX_BODY_BYTES
    ) -> None:
        self.app, self.throttle, self.writable, self.max_body = app, throttle, writable, max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "")
        if path.startswith("/api/"):
            length = dict(scope.get("headers") or []).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                await _send_json(send, 413, {"error": _too_large(self.max_body)})
                return
        if not self.writable and path.rstrip("/").endswith("/gradio_api/upload"):
            await _send_json(send, 403, {"error": "this server is read-only: no uploads"})
            return
        if method == "POST" and path.rstrip("/") == "/login":
            client = _client(scope)
            wait = self.throttle.wait_time(client)
            if wait > 0:
                await _send_json(
                    send,
                    429,
                    {"error": _throttled(wait)},
                    [(b"retry-after", str(int(wait) + 1).encode())],
                )
                return
            status: list[int] = []

            async def watch(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status.append(int(message["status"]))
                await send(message)

            await self.app(scope, receive, watch)
            if status and status[0] == 200:
                self.throttle.succeeded(client)
            elif status and status[0] in (400, 401):
                self.throttle.failed(client)
            return
        await self.app(scope, receive, send)


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit // 1024} KB"


def _throttled(wait: float) -> str:
    return f"too many failed sign-ins from this address: try again in {int(wait) + 1} s"


# ------------------------------------------------------------------------------------------
# the FastAPI app
# ------------------------------------------------------------------------------------------
class ApiError(Exception):
    """An error answer: HTTP ``status`` and ``{"error": message, **extra}``."""

    def __init__(
        self,
        status: int,
        message: str,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.extra, self.headers = dict(extra or {}), dict(headers or {})


async def _read_json(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The request's JSON body: read up to ``limit`` bytes (413 beyond), 400 if malformed."""
    from starlette.requests import ClientDisconnect

    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise ApiError(413, _too_large(limit))
    except ClientDisconnect:  # nobody is left to read the answer: not a server error
        raise ApiError(400, "the client disconnected before sending the whole body") from None
    if not body.strip():
        raise ApiError(400, 'the body is empty: send JSON such as {"question": "...", "k": 3}')
    try:
        return json.loads(bytes(body).decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8 text") from None
    except ValueError as e:
        raise ApiError(400, f"malformed JSON: {e}") from None


def _schema_models() -> dict[str, Any]:
    """Pydantic models of the API's bodies (for the OpenAPI page)."""
    from pydantic import BaseModel, Field

    class AskRequest(BaseModel):
        question: str = Field(
            description="the question (at most Settings.max_question_chars characters)"
        )
        k: int = Field(DEFAULT_K, ge=1, le=MAX_K, description="passages to return")

    class Hit(BaseModel):
        text: str
        score: float
        doc: str
        section: str
        start: int
        end: int
        highlights: list[list[int]]
        answer: list[int] | None
        confidence: float
        chunk: int
        chunks: list[int]
        page: int | None

    class Error(BaseModel):
        error: str

    class RebuildStatus(BaseModel):
        state: str = Field(description="idle, running, done or failed")
        started: float | None
        finished: float | None
        fraction: float
        message: str
        summary: str | None
        error: str | None

    class RebuildRefused(Error):
        status: RebuildStatus

    class Document(BaseModel):
        path: str
        sha256: str
        size: int
        encoding: str
        chunks: int
        indexed_at: float
        pages: int
        reader: str
        ocr_pages: int

    class Documents(BaseModel):
        documents: list[Document]
        skipped: list[dict[str, Any]]
        stale: str | None = Field(description="why the index is behind the corpus, or null")
        error: str | None
        version: str | None

    return {
        "AskRequest": AskRequest,
        "Hit": Hit,
        "Error": Error,
        "RebuildStatus": RebuildStatus,
        "RebuildRefused": RebuildRefused,
        "Documents": Documents,
    }


def create_app(svc: QAService, access: Access, throttle: LoginThrottle | None = None) -> FastAPI:
    """The FastAPI app with the ``/api`` routes over ``svc`` (the page is mounted by
    :func:`mount_page`)."""
    from fastapi import Depends, FastAPI
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from qa.embed import ModelError
    from qa.index import IndexProblem

    throttle = throttle or LoginThrottle()
    m = _schema_models()
    hit_model = m["Hit"]
    hit_list = list[hit_model]  # type: ignore[valid-type]
    app = FastAPI(
        title="qa: ask questions of a folder of documents",
        description=(
            "The JSON API beside the web page. With sign-in turned on, every route takes the "
            "page's users as HTTP Basic credentials (`curl -u user:password`)."
        ),
        version="1",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.qa_service = svc
    app.state.access = access
    app.state.throttle = throttle

    def err(status: int, model: str = "Error") -> dict[str, Any]:
        return {"model": m[model], "description": f"{status}: see the error message"}

    def error_response(e: ApiError) -> JSONResponse:
        return JSONResponse({"error": e.message, **e.extra}, e.status, headers=e.headers)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, e: ApiError) -> JSONResponse:
        return error_response(e)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}"}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, e: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(e.detail)}, e.status_code, headers=e.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, e: Exception) -> JSONResponse:
        log.error("unexpected error in the API", exc_info=e)
        return JSONResponse({"error": f"internal error ({type(e).__name__})"}, 500)

    async def signed_in(request: Request) -> str | None:
        """The HTTP Basic user (401 without, 429 after too many failures), ``None`` when
        sign-in is off."""
        if not access.users:
            return None
        client = request.client.host if request.client else "?"
        header = request.headers.get("authorization")
        wait = throttle.wait_time(client)
        if wait > 0:
            raise ApiError(429, _throttled(wait), headers={"Retry-After": str(int(wait) + 1)})
        user = check_basic(header, access.users)
        if user is None:
            if header:
                throttle.failed(client)
            raise ApiError(
                401,
                "sign in: send the page's user and password as HTTP Basic credentials"
                if not header
                else "wrong user or password",
                headers={"WWW-Authenticate": 'Basic realm="qa", charset="UTF-8"'},
            )
        throttle.succeeded(client)
        return user

    def answer_error(e: Exception) -> ApiError:
        if isinstance(e, ApiError):
            return e
        if isinstance(e, ValueError):
            return ApiError(400, str(e))
        if isinstance(e, (IndexProblem, ModelError)):
            return ApiError(503, str(e))
        if isinstance(e, ReadOnlyError):
            return ApiError(403, str(e))
        return ApiError(500, error_message(e))

    auth = [Depends(signed_in)]

    @app.post(
        "/api/ask",
        dependencies=auth,
        summary="Ask a question",
        response_model=None,
        responses={
            200: {"model": hit_list, "description": "the passages, best first"},
            400: err(400),
            401: err(401),
            413: err(413),
            429: err(429),
            503: err(503),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": m["AskRequest"].model_json_schema()}},
            }
        },
    )
    async def ask(request: Request) -> JSONResponse:
        """The passages that best answer the question, best first: the same JSON list as
        `qa ask --json` (text, score, doc, section, start, end, highlights, answer,
        confidence, chunk, chunks, page)."""
        body = await _read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, 'the body must be a JSON object: {"question": "...", "k": 3}')
        unknown = sorted(set(body) - {"question", "k"})
        if unknown:
            raise ApiError(400, f"unknown field(s) {', '.join(unknown)}: send question and k")
        if "question" not in body:
            raise ApiError(400, "question: missing")
        try:
            check_question(body["question"], svc.settings)  # an API question is used whole
            answer = await run_in_threadpool(svc.ask, body["question"], body.get("k", DEFAULT_K))
        except Exception as e:
            raise answer_error(e) from None
        return JSONResponse([h.to_dict() for h in answer.hits])

    @app.get(
        "/api/documents",
        dependencies=auth,
        summary="The indexed documents",
        response_model=None,
        responses={200: {"model": m["Documents"]}, 401: err(401), 429: err(429)},
    )
    async def documents() -> JSONResponse:
        """The indexed documents, the skipped files with their reasons, and why the index is
        behind the corpus folder (`stale`, null if it is not)."""
        view = await run_in_threadpool(svc.documents)
        return JSONResponse(view.to_dict())

    @app.post(
        "/api/rebuild",
        dependencies=auth,
        summary="Rebuild the index",
        status_code=202,
        response_model=None,
        responses={
            202: {"model": m["RebuildStatus"], "description": "started"},
            401: err(401),
            403: err(403),
            409: err(409, "RebuildRefused"),
            429: err(429),
        },
    )
    async def rebuild() -> JSONResponse:
        """Start rebuilding the index of the corpus folder in the background (questions are
        answered from the loaded index until the new one is ready). 409 with the running
        rebuild's status if one runs; 403 on a read-only server."""
        try:
            status = svc.start_rebuild()
        except RebuildRunning as e:
            raise ApiError(409, str(e), {"status": e.status.to_dict()}) from None
        except ReadOnlyError as e:
            raise ApiError(403, str(e)) from None
        return JSONResponse(status.to_dict(), 202)

    @app.get(
        "/api/rebuild/status",
        dependencies=auth,
        summary="The rebuild's progress",
        response_model=None,
        responses={200: {"model": m["RebuildStatus"]}, 401: err(401), 429: err(429)},
    )
    async def rebuild_status() -> JSONResponse:
        """The running or the last rebuild: state (idle, running, done, failed), progress,
        summary or error."""
        return JSONResponse(svc.rebuild_status().to_dict())

    routes = {"/api/ask": "POST", "/api/documents": "GET", "/api/rebuild": "POST"}
    routes["/api/rebuild/status"] = "GET"

    @app.api_route(
        "/api/{rest:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        include_in_schema=False,
    )
    async def elsewhere(request: Request) -> JSONResponse:
        """Any other ``/api`` request: 405 for a route's wrong method, else 404 (the page's
        routes never answer under ``/api``)."""
        path = request.url.path.rstrip("/")
        if path in routes:
            raise ApiError(405, f"{path} takes {routes[path]}", headers={"Allow": routes[path]})
        raise ApiError(404, f"no such API route: {path} (see /api/docs)")

    return app


def mount_page(app: FastAPI, demo: gr.Blocks, access: Access) -> FastAPI:
    """Mount the Gradio page at ``/`` with the access's sign-in."""
    import gradio as gr

    from qa.ui import CSS, theme

    return gr.mount_gradio_app(
        app,
        demo,
        path="/",
        auth=list(access.users.items()) or None,
        auth_message="文档问答 / Document QA: sign in" if access.users else None,
        max_file_size=MAX_UPLOAD_BYTES,
        theme=theme(),
        css=CSS,
        show_error=False,
        ssr_mode=False,
        footer_links=["api"],
        run_history=False,
        mcp_server=False,
    )


def build_server_app(svc: QAService, access: Access, examples: Sequence[str] | None = None) -> Any:
    """The whole server as one ASGI app: the API, the page, and the :class:`Guard`."""
    from qa.ui import build_app

    throttle = LoginThrottle()
    app = create_app(svc, access, throttle)
    demo = build_app(svc, examples)
    demo.queue(default_concurrency_limit=4, max_size=64)
    mount_page(app, demo, access)
    app.add_middleware(Guard, throttle=throttle, writable=svc.writable)
    app.state.demo = demo
    return app


@dataclass
class Running:
    """A server started with ``block=False``: ``url``, and ``close()`` to stop it."""

    url: str
    server: Any
    thread: threading.Thread
    app: Any

    def close(self) -> None:
        """Stop serving and wait for the server thread."""
        self.server.should_exit = True
        self.thread.join(30)


def serve(
    settings: Settings = DEFAULTS,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    users: Mapping[str, str] | None = None,
    read_only: bool = False,
    allow_write: bool = False,
    build: bool = True,
    block: bool = True,
) -> Running | None:
    """Serve the page and the API: bring the index up to date (``build``, unless ``read_only``),
    load the model and the index once, and serve on ``host:port`` (loopback unless told
    otherwise). Blocks until stopped unless ``block=False`` (then returns the
    :class:`Running` server)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import uvicorn

    from qa.search import Retriever

    access = decide_access(host, dict(users or {}), read_only, allow_write)
    if access.notice:
        print(f"qa: {access.notice}", file=sys.stderr, flush=True)
    retriever = Retriever(settings.index_dir, settings)  # loaded below
    svc = QAService(settings, retriever, writable=access.writable)
    if build and not read_only:  # the operator's own build; --read-only leaves the index be
        prepare_index(settings, hashes=svc.file_hashes)  # what the Documents tab then reuses
    try:
        retriever.warm_up()
    except Exception as e:  # the page shows it; the server still starts (upload + rebuild)
        print(f"qa: warning: {error_message(e)}", file=sys.stderr)
    app = build_server_app(svc, access)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    print(f"qa: serving {url} (HTTP API: {url}api/docs)", file=sys.stderr, flush=True)
    if block:
        server.run()
        return None
    thread = threading.Thread(target=server.run, name="qa-server", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    if not thread.is_alive():
        raise OSError(f"cannot serve on {host}:{port}")
    return Running(url, server, thread, app)
