"""The embedded AWS: a moto server on 127.0.0.1, run by this very process.

Running moto in-process (``ThreadedMotoServer``) rather than as a separate ``moto_server`` lets
the demo seeder backdate users, access keys and last-used dates by editing moto's backend
objects, which no API can do. The backends are process-global: they outlive a stopped server (a
new one in the same process starts with the old state; see :meth:`LocalAws.reset`), and an
in-process ``mock_aws`` started while a ``LocalAws`` runs wipes the server's state.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import shlex
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from iamflow.errors import IamflowError

# moto accepts any credentials; these are dummies that can never authenticate anywhere real
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"
DEFAULT_REGION = "us-east-1"
_MANAGED_POLICIES_ENV = "MOTO_IAM_LOAD_MANAGED_POLICIES"


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def airflow_connection_json(endpoint_url: str, region: str = DEFAULT_REGION) -> str:
    """Return the ``AIRFLOW_CONN_AWS_DEFAULT`` value that points every hook at ``endpoint_url``.

    STS needs its own ``service_config`` entry: the provider never uses the global
    ``endpoint_url`` for assume-role or ``test_connection``, and would call the real STS. The
    dummy login keeps a user's real credentials from being sent even to the local server.
    """
    return json.dumps(
        {
            "conn_type": "aws",
            "login": DUMMY_ACCESS_KEY_ID,
            "password": DUMMY_SECRET_ACCESS_KEY,
            "extra": {
                "endpoint_url": endpoint_url,
                "region_name": region,
                "service_config": {"sts": {"endpoint_url": endpoint_url}},
            },
        },
        separators=(",", ":"),
    )


def local_env(endpoint_url: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Return the environment a child process needs to use the embedded AWS, through boto3 or Airflow.

    ``AWS_PROFILE`` must be removed from the child's environment by the caller: botocore ignores
    the credential variables when a profile is named.
    """
    no_proxy = ",".join(
        part
        for part in (os.environ.get("NO_PROXY") or os.environ.get("no_proxy"), "127.0.0.1,localhost")
        if part
    )
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": region,
        "AIRFLOW_CONN_AWS_DEFAULT": airflow_connection_json(endpoint_url, region),
        # a corporate HTTP(S)_PROXY would otherwise receive the calls meant for 127.0.0.1
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


class LocalAws:
    """A moto server in a background thread of this process, started and stopped on demand.

    :param port: TCP port to listen on; 0 picks a free one (read :attr:`port` after start).
    :param host: address to listen on; keep the loopback default unless a container must reach it.
    :param load_managed_policies: make AWS-managed policies such as ``ReadOnlyAccess`` exist.
    :param start_timeout: seconds to wait for the server to answer before giving up.
    :param log_requests: let werkzeug log one line per request (off: the demo output stays readable).
    """

    def __init__(
        self,
        port: int = 5000,
        host: str = "127.0.0.1",
        load_managed_policies: bool = True,
        *,
        start_timeout: float = 15.0,
        log_requests: bool = False,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.load_managed_policies = load_managed_policies
        self.start_timeout = start_timeout
        self.log_requests = log_requests
        self._server: Any = None
        self._port: int | None = None
        self._saved_env: str | None = None

    @property
    def running(self) -> bool:
        """Whether the server has been started and not stopped."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The port the server listens on (the requested one until started)."""
        return self._port if self._port is not None else self._requested_port

    @property
    def endpoint_url(self) -> str:
        """The URL clients use, e.g. ``http://127.0.0.1:5000``."""
        return f"http://{_url_host(self.host)}:{self.port}"

    def env(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """Return :func:`local_env` for this server."""
        return local_env(self.endpoint_url, region)

    def start(self) -> LocalAws:
        """Start the server and wait until it answers; raise IamflowError instead of hanging."""
        if self._server is not None:
            return self
        if self._requested_port:
            _ensure_port_free(self.host, self._requested_port)
        self._saved_env = os.environ.get(_MANAGED_POLICIES_ENV)
        # read by moto when it first builds an account's IAM backend, i.e. on the first IAM call
        os.environ[_MANAGED_POLICIES_ENV] = "true" if self.load_managed_policies else "false"
        if not self.log_requests:
            werkzeug_logger = logging.getLogger("werkzeug")
            if werkzeug_logger.level == logging.NOTSET:  # respect a level someone chose
                werkzeug_logger.setLevel(logging.WARNING)
        self._server = server = _BoundedMotoServer(self.host, self._requested_port)
        try:
            server.start_within(self.start_timeout)
            self._port = server.get_host_and_port()[1]
            self._wait_until_answering(time.monotonic() + self.start_timeout)
            self._configure()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (idempotent) and restore the managed-policy setting."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        if self._saved_env is None:
            os.environ.pop(_MANAGED_POLICIES_ENV, None)
        else:
            os.environ[_MANAGED_POLICIES_ENV] = self._saved_env
        self._saved_env = None

    def _configure(self) -> None:
        # No Docker engine here: moto's "simple" Lambda backend accepts functions (a secret's
        # rotation Lambda must exist) without trying to run them in a container.
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/config", method="POST",
            data=json.dumps({"lambda": {"use_docker": False}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with _no_proxy_opener().open(request, timeout=10):
            pass

    def reset(self) -> None:
        """Forget every resource in every account (moto's ``/moto-api/reset``)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST", data=b"")
        with _no_proxy_opener().open(request, timeout=10):
            pass

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalAws({self.endpoint_url}, {state})"

    def _wait_until_answering(self, deadline: float) -> None:
        opener = _no_proxy_opener()
        url = f"{self.endpoint_url}/moto-api/config"
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with opener.open(url, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # any HTTP answer means the server is up
            except (urllib.error.URLError, OSError) as exc:
                last_error = exc
            time.sleep(0.05)
        raise IamflowError(
            f"the embedded AWS on {self.endpoint_url} did not answer within {self.start_timeout:g}s: {last_error}"
        )


def serve(
    port: int = 5000,
    host: str = "127.0.0.1",
    seed: Callable[[str], object] | None = None,
) -> int:
    """Run the embedded AWS in the foreground until SIGINT or SIGTERM; return the exit code.

    :param seed: called with the endpoint URL before it is announced, e.g. to load the demo
        account (``tools.demo_seed.seed``); it runs in this process, so it may also edit moto's
        backends directly.
    :raises IamflowError: the port is taken or the server does not come up.
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with LocalAws(port=port, host=host) as local:
            if seed is not None:
                seed(local.endpoint_url)
            print(f"Embedded AWS (moto) listening on {local.endpoint_url}")
            print("Point a shell at it with:\n")
            for name, value in local.env().items():
                if name != "no_proxy":
                    print(f"export {name}={shlex.quote(value)}")
            print("\nPress Ctrl+C to stop.", flush=True)
            # wait in slices so the signal handler gets to run promptly
            while not stop.wait(0.5):
                pass
            print("Stopping the embedded AWS.", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


class _BoundedMotoServer:
    """Wrap ThreadedMotoServer so a failed bind is reported instead of leaving start() waiting.

    moto 5.2.5's ``start()`` waits on an event with no timeout, and the thread that should set
    it dies if the bind fails; so this starts the same thread itself and waits with a bound.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server = _reporting_server_class()(ip_address=host, port=port, verbose=False)

    def start_within(self, timeout: float) -> None:
        server = self._server
        server._thread = threading.Thread(target=server._server_entry, name="iamflow-local-aws", daemon=True)
        server._thread.start()
        if not server._server_ready_event.wait(timeout):
            raise IamflowError(
                f"the embedded AWS did not start on {self.host}:{self.port} within {timeout:g}s"
            )
        error = server.startup_error
        if isinstance(error, SystemExit) and isinstance(error.__context__, OSError):
            # werkzeug reports a failed bind by printing it and calling sys.exit(1)
            error = error.__context__
        if isinstance(error, OSError) and error.errno == errno.EADDRINUSE:
            raise IamflowError(f"port {self.port} on {self.host} is already in use; pass --port") from error
        if error is not None:
            raise IamflowError(
                f"the embedded AWS failed to start on {self.host}:{self.port}: {error}"
            ) from error

    def get_host_and_port(self) -> tuple[str, int]:
        address: tuple[str, int] = self._server.get_host_and_port()
        return address

    def stop(self) -> None:
        server = self._server
        if server._server is not None and server.startup_error is None:
            server._server.shutdown()
            # ThreadedMotoServer.stop() leaves the socket to the garbage collector; close it now
            # so the port is free again as soon as stop() returns
            server._server.server_close()
        if server._thread is not None:
            server._thread.join(timeout=10)


MOTO_MISSING = ("the embedded AWS needs moto, which the core install of iamflow leaves out: "
                "pip install 'iamflow[local]'")


def _moto_server_class() -> type[Any]:
    """Return moto's ThreadedMotoServer (heavy: imported only when a server is wanted); IamflowError without moto."""
    try:
        from moto.server import ThreadedMotoServer
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] in {"moto", "flask", "flask_cors", "werkzeug"}:
            raise IamflowError(f"{MOTO_MISSING} (missing module {exc.name!r})") from exc
        raise
    server_class: type[Any] = ThreadedMotoServer
    return server_class


@functools.cache
def _reporting_server_class() -> type[Any]:
    """Return a ThreadedMotoServer subclass whose thread records a startup failure and wakes start()."""
    base: Any = _moto_server_class()

    class ReportingMotoServer(base):
        startup_error: BaseException | None = None

        def _server_entry(self) -> None:
            try:
                self._serve()
            except BaseException as exc:
                self.startup_error = exc
                self._server_ready_event.set()

        def _serve(self) -> None:
            """moto 5.2.5's ``_server_entry``, with the app behind :func:`serialized`."""
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                MotoRequestHandler,
                create_backend_app,
            )
            from werkzeug.serving import make_server

            class Dispatcher(DomainDispatcherApplication):
                def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
                    try:
                        backend_app = self.get_application(environ)
                    except Exception:  # moto 5.2.5 has no backend for the service (e.g. Access Analyzer)
                        return not_implemented(environ, start_response)
                    return backend_app(environ, start_response)

            app = serialized(Dispatcher(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return ReportingMotoServer


def not_implemented(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """AWS's answer to what a service does not implement: HTTP 501 ``NotImplemented``, never retried.

    moto 5.2.5 answers a service it lacks with an HTML page and HTTP 500, which clients retry with
    backoff (about 13 s for botocore's 10 adaptive attempts) before the caller learns anything.
    """
    body = json.dumps({"__type": "NotImplemented", "message": (
        f"the embedded AWS (moto) does not implement the service of {environ.get('PATH_INFO') or '/'}")}).encode()
    start_response("501 Not Implemented", [("Content-Type", "application/x-amz-json-1.1"),
                                           ("x-amzn-ErrorType", "NotImplemented"), ("Content-Length", str(len(body)))])
    return [body]


def serialized(app: Callable[..., Any]) -> Callable[..., Any]:
    """Answer one request at a time: AWS serves concurrent requests safely, moto's backends do not.

    moto 5.2.5's IAM backend iterates dicts that another request thread may be changing: with the
    engine's four workers, ``AttachRolePolicy`` beside ``CreateRole`` fails about once in a hundred
    calls with ``RuntimeError: dictionary changed size during iteration`` (an HTTP 500). AWS
    documents no such failure, so the embedded AWS serves its (GIL-bound) requests in turn; the
    response body is read under the lock too, since moto may build it lazily.
    """
    lock = threading.Lock()

    def app_in_turn(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            return list(app(environ, start_response))

    return app_in_turn



def _ensure_port_free(host: str, port: int) -> None:
    """Raise IamflowError when ``host:port`` cannot be listened on (checked by binding, as the server will)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        # the server sets SO_REUSEADDR too, so a port in TIME_WAIT is fine but a listener is not
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise IamflowError(f"port {port} on {host} is already in use; pass --port") from exc
            raise IamflowError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _url_host(host: str) -> str:
    """The address a client on this machine uses to reach a server bound to ``host``."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    # an HTTP_PROXY in the environment must not intercept calls to our own loopback server
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))
