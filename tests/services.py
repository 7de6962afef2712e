"""PostgreSQL and Redis for the tests marked `postgres` and `redis`.

The tests read their servers from TEST_POSTGRES_URL (a SQLAlchemy URL) and TEST_REDIS_URL,
defaulting to the machine's 127.0.0.1:5432 (trust, database `test`) and 127.0.0.1:6379.
`make test` runs pytest through this module, which keeps a URL already set, uses the machine's
server when it answers, and otherwise starts a throwaway one on a free port from Debian's
binaries (postgresql, redis-server) in a temporary folder, exports its URL, runs the command and
removes the server afterwards:

    python -m tests.services [--install] [--throwaway] -- pytest ...

--install installs the missing Debian package with apt-get (root only, as `make test` does for
Chromium); --throwaway starts fresh servers even when the machine's servers answer.
Exit status: the command's, or 2 when a server is needed and cannot be had (the message says
what is missing and how to get it).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from tests.delivery.support import free_port

POSTGRES_ENV = "TEST_POSTGRES_URL"
REDIS_ENV = "TEST_REDIS_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
START_TIMEOUT_S = 60.0
EXIT_UNAVAILABLE = 2


class ServiceUnavailableError(Exception):
    """A server is needed, none answers and none can be started here."""


@dataclass(frozen=True)
class Service:
    name: str
    env: str
    default_url: str
    port: int
    debian_package: str

    def how_to_get(self) -> str:
        return (
            f"{self.name} is not running on 127.0.0.1:{self.port} and its binaries are missing: "
            f"install Debian's {self.debian_package} (sudo apt-get install -y "
            f"{self.debian_package}) or run `make test` as root, or point {self.env} at a "
            "server, or run `make test-fast` (leaves out the tests marked postgres and redis)"
        )


POSTGRES = Service("PostgreSQL", POSTGRES_ENV, DEFAULT_POSTGRES_URL, 5432, "postgresql")
REDIS = Service("Redis", REDIS_ENV, DEFAULT_REDIS_URL, 6379, "redis-server")


def postgres_url() -> str:
    """The PostgreSQL server of the tests marked `postgres` (SQLAlchemy URL)."""
    return os.environ.get(POSTGRES_ENV) or POSTGRES.default_url


def redis_url() -> str:
    """The Redis server of the tests marked `redis`."""
    return os.environ.get(REDIS_ENV) or REDIS.default_url


def answers(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1.0):
        return True
    return False


def postgres_bin(name: str) -> str | None:
    """A PostgreSQL server binary: on PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which(name)
    if found:
        return found
    versions = {
        int(Path(path).parts[-3]): path
        for path in glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
        if Path(path).parts[-3].isdigit()
    }
    return versions[max(versions)] if versions else None


def apt_install(package: str) -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    print(f"tests.services: installing Debian's {package}", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=False, env=env)


@dataclass(frozen=True)
class Owner:
    """Who runs the PostgreSQL binaries (None: this process's user)."""

    uid: int | None = None
    gid: int | None = None


def _postgres_owner() -> Owner:
    """initdb and postgres refuse to run as root: run them as `postgres` (else `nobody`)."""
    if os.geteuid() != 0:
        return Owner()
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam(name)
            return Owner(user.pw_uid, user.pw_gid)
    raise ServiceUnavailableError("running as root and no `postgres` nor `nobody` user")


@contextlib.contextmanager
def throwaway_postgres(install: bool) -> Iterator[str]:
    """A PostgreSQL server in a temporary folder on a free port, trust auth, database `test`."""
    if postgres_bin("initdb") is None and install:
        apt_install(POSTGRES.debian_package)
    initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise ServiceUnavailableError(POSTGRES.how_to_get())
    owner = _postgres_owner()
    root = Path(tempfile.mkdtemp(prefix="test-postgres-"))
    if owner.uid is not None and owner.gid is not None:
        os.chown(root, owner.uid, owner.gid)
    data, port = root / "data", free_port()

    def run(*args: str, check: bool = True) -> None:
        result = subprocess.run(
            list(args), cwd=root, capture_output=True, text=True, check=False,
            user=owner.uid, group=owner.gid,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise ServiceUnavailableError(f"{args[0]} failed: {result.stderr.strip()[-1500:]}")

    try:
        run(initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
            "--locale=C", "--no-sync")  # fmt: skip
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -F"
        run(pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-o", options,
            "-w", "-t", str(int(START_TIMEOUT_S)), "start")  # fmt: skip
        try:
            createdb = postgres_bin("createdb") or "createdb"
            run(createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "test")
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
        finally:
            run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


class PostgresServer:
    """A PostgreSQL server of one's own (initdb into a temporary folder, trust auth, database
    `postgres`) on a free port, that a fault test may crash (SIGKILL of the postmaster and its
    backends), start again on the same data folder (crash recovery), or stall (SIGSTOP of all
    of them: connections are accepted and never answered) and resume. The postmaster is a child
    of the test run (no pg_ctl, no waiting on a daemon); its backends each call setsid(), so a
    signal goes to the postmaster first (it forks no more), then to each of its children.
    Never the machine's shared server."""

    def __init__(self, binary: str, root: Path, owner: Owner) -> None:
        self.binary = binary
        self.root = root
        self.owner = owner
        self.data = root / "data"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        command = [self.binary, "-D", str(self.data), "-p", str(self.port), "-k", str(self.root),
                   "-c", "listen_addresses=127.0.0.1", "-F"]  # fmt: skip
        with (self.root / "server.log").open("ab") as sink:
            self.process = subprocess.Popen(
                command, cwd=self.root, stdout=sink, stderr=subprocess.STDOUT,
                user=self.owner.uid, group=self.owner.gid,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.accepts_queries():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "server.log").read_text(errors="replace")[-1500:]
                raise ServiceUnavailableError(f"postgres did not start on {self.port}: {log}")
            time.sleep(0.1)

    def accepts_queries(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(
                host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                connect_timeout=2,
            ) as conn:  # fmt: skip
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def _signal(self, signum: int) -> None:
        import psutil

        assert self.process is not None
        with contextlib.suppress(psutil.NoSuchProcess):
            postmaster = psutil.Process(self.process.pid)
            postmaster.send_signal(signal.SIGSTOP)  # it forks no more while we go round
            for child in postmaster.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.send_signal(signum)
            postmaster.send_signal(signum)

    def kill(self) -> None:
        """A crash: the postmaster and its backends die at once, nothing is flushed."""
        if self.process is None:
            return
        self._signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None
        deadline = time.monotonic() + START_TIMEOUT_S
        while answers(self.port):  # backends of the old server may take a moment to go
            if time.monotonic() > deadline:
                raise ServiceUnavailableError(f"port {self.port} still answers after the kill")
            time.sleep(0.05)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)


@contextlib.contextmanager
def own_postgres(install: bool = False) -> Iterator[PostgresServer]:
    """A started PostgresServer, killed and removed afterwards (even when the test fails)."""
    if postgres_bin("initdb") is None and install:
        apt_install(POSTGRES.debian_package)
    initdb, binary = postgres_bin("initdb"), postgres_bin("postgres")
    if initdb is None or binary is None:
        raise ServiceUnavailableError(POSTGRES.how_to_get())
    owner = _postgres_owner()
    root = Path(tempfile.mkdtemp(prefix="test-postgres-"))
    server = PostgresServer(binary, root, owner)
    try:
        if owner.uid is not None and owner.gid is not None:
            os.chown(root, owner.uid, owner.gid)
        result = subprocess.run(
            [initdb, "-D", str(server.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C", "--no-sync"],
            cwd=root, capture_output=True, text=True, check=False, timeout=START_TIMEOUT_S,
            user=owner.uid, group=owner.gid,
        )  # fmt: skip
        if result.returncode != 0:
            raise ServiceUnavailableError(f"initdb failed: {result.stderr.strip()[-1500:]}")
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(root, ignore_errors=True)


def _redis_ping(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1.0) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


class RedisServer:
    """A redis-server of one's own on a free port, keeping nothing on disk, that a fault test
    may stop, start again on the same port, or pause (SIGSTOP: it accepts connections and never
    answers, a stalled store) and resume. Never the machine's shared server."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(self.root)]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=self.root, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _redis_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise ServiceUnavailableError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@contextlib.contextmanager
def own_redis(install: bool = False) -> Iterator[RedisServer]:
    """A started RedisServer, stopped and removed afterwards."""
    if shutil.which("redis-server") is None and install:
        apt_install(REDIS.debian_package)
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceUnavailableError(REDIS.how_to_get())
    root = Path(tempfile.mkdtemp(prefix="test-redis-"))
    server = RedisServer(binary, root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def throwaway_redis(install: bool) -> Iterator[str]:
    """A Redis server on a free port that keeps nothing on disk."""
    with own_redis(install) as server:
        yield server.url


Starter = Callable[[bool], contextlib.AbstractContextManager[str]]


def provide(
    stack: contextlib.ExitStack,
    service: Service,
    starter: Starter,
    *,
    install: bool,
    throwaway: bool,
) -> str:
    """The URL the tests get for `service`: the one set, the machine's, or a throwaway one."""
    given = os.environ.get(service.env)
    if given:
        print(f"tests.services: {service.name} from {service.env}", file=sys.stderr)
        return given
    if not throwaway and answers(service.port):
        print(f"tests.services: {service.name} on 127.0.0.1:{service.port}", file=sys.stderr)
        return service.default_url
    url = stack.enter_context(starter(install))
    print(f"tests.services: throwaway {service.name}, {service.env}={url}", file=sys.stderr)
    return url


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwind: the servers are stopped on the way out


def run(command: Sequence[str], *, install: bool = False, throwaway: bool = False) -> int:
    """Run `command` with TEST_POSTGRES_URL and TEST_REDIS_URL set to servers that answer."""
    with contextlib.ExitStack() as stack:
        try:
            env = {
                POSTGRES.env: provide(
                    stack, POSTGRES, throwaway_postgres, install=install, throwaway=throwaway
                ),
                REDIS.env: provide(
                    stack, REDIS, throwaway_redis, install=install, throwaway=throwaway
                ),
            }
        except ServiceUnavailableError as error:
            print(f"tests.services: {error}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        process = subprocess.Popen(list(command), env={**os.environ, **env})
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            return process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.services", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--install", action="store_true", help="apt-get what is missing (root)")
    parser.add_argument("--throwaway", action="store_true", help="never the machine's servers")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run (python -m tests.services -- pytest ...)")
    signal.signal(signal.SIGTERM, _terminate)
    return run(command, install=args.install, throwaway=args.throwaway)


if __name__ == "__main__":
    sys.exit(main())
