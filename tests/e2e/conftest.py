"""Browser test harness: Voilà and JupyterLab servers on 127.0.0.1, headless Chromium.

Everything here is bounded and local:

- each server gets a free port (a socket bound to port 0), no token or password, no browser,
  and its own temporary Jupyter config/data/runtime/IPython dirs, so nothing leaks in or out;
- it is started in a new session (``start_new_session=True``) and stopped in the fixture's
  finaliser by killing its process group, then any kernel it left behind (kernels run in
  sessions of their own), by process id; also when a test fails;
- every wait is a bounded poll; every request goes to 127.0.0.1 only;
- the browser is Debian's Chromium driven by Playwright's sync API (Playwright's own browser
  download is never used); where Chromium or Playwright is missing the e2e tests skip.

Full-page screenshots of each step go to ``artifacts/e2e/`` at the repository root.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ARTIFACTS = REPO / "artifacts" / "e2e"
CHROMIUM = os.environ.get("ACTWIDGETS_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
HOST = "127.0.0.1"

#: Seconds a server may take to answer its first request.
SERVER_START_TIMEOUT = 90.0

# The fixture notebooks are inputs of the browser tests, not notebooks for nbval to run.
collect_ignore_glob = ["fixtures/*"]


# --------------------------------------------------------------------------- requirements


def _browser_requirements() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"headless Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[e2e]')"
    return None


def require_browser() -> None:
    why = _browser_requirements()
    if why:
        pytest.skip(why)


def require_module(name: str) -> None:
    pytest.importorskip(name, reason=f"{name} is not installed (pip install -e '.[e2e]')")


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def server_env(home: Path) -> dict[str, str]:
    """The servers' environment: ours (TORCH_HOME, the venv) plus the repository on
    PYTHONPATH, and private Jupyter/IPython dirs under ``home``."""
    env = dict(os.environ)
    paths = [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    # The kernel is `python -m ipykernel_launcher`; make sure that python is ours.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("JUPYTER_TOKEN", None)
    env.pop("JUPYTER_PASSWORD", None)
    return env


def _answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (any status counts)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - 127.0.0.1 only
            r.read(64)
        return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _descendants(pid: int) -> list[tuple[int, float]]:
    """(pid, create_time) of every process below ``pid`` (kernels run in sessions of their
    own, so killing the server's process group does not reach them)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with ipykernel
        return []
    try:
        return [(c.pid, c.create_time()) for c in psutil.Process(pid).children(recursive=True)]
    except (psutil.Error, OSError):
        return []


def _kill_leftovers(procs: list[tuple[int, float]]) -> None:
    """SIGKILL the processes that are still alive, checked by pid AND start time (a pid that
    was reused by someone else's process is left alone)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover
        return
    for pid, created in procs:
        try:
            p = psutil.Process(pid)
            if abs(p.create_time() - created) < 1e-3 and p.status() != psutil.STATUS_ZOMBIE:
                p.kill()
        except (psutil.Error, OSError):
            pass


class Server:
    """One Jupyter server process (Voilà or JupyterLab) on 127.0.0.1:port."""

    def __init__(self, name: str, argv: list[str], port: int, env: dict[str, str],
                 cwd: Path, log: Path, probe: str) -> None:
        self.name = name
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.log = log
        self._probe = self.url + probe
        self._log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
            stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._seen: dict[int, float] = {}

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Poll until the server answers; raise (with its log) if it exits or times out."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode} before answering:\n"
                    + self.log_tail()
                )
            if _answers(self._probe):
                return
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
        raise TimeoutError(
            f"{self.name} did not answer at {self._probe} within {timeout:.0f} s:\n" + self.log_tail()
        )

    def remember_children(self) -> None:
        """Note the server's descendants (its kernels) so stop() can end them."""
        for pid, created in _descendants(self.proc.pid):
            self._seen[pid] = created

    def stop(self) -> None:
        """SIGTERM the server's process group (it shuts its kernels down), SIGKILL it after
        a bounded wait, then SIGKILL any kernel still alive."""
        self.remember_children()
        try:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.proc.wait(timeout=10)
            # Whatever is left of the group (a reaped leader may leave children behind).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            time.sleep(0.2)
            _kill_leftovers(list(self._seen.items()))
        finally:
            self._log_file.close()


def start_server(name: str, make_argv, env: dict[str, str], cwd: Path, log_dir: Path,
                 probe: str, attempts: int = 3) -> Server:
    """Start a server on a free port; retry on a new port if the port was taken meanwhile."""
    last: Exception | None = None
    for attempt in range(attempts):
        port = free_port()
        server = Server(name, make_argv(port), port, env, cwd,
                        log_dir / f"{name}-{attempt}.log", probe)
        try:
            server.wait_ready()
            return server
        except Exception as exc:  # noqa: BLE001
            server.stop()
            last = exc
            if "address already in use" not in server.log_tail().lower():
                break
    raise RuntimeError(f"could not start {name}: {last}")


@pytest.fixture(scope="session")
def e2e_home() -> Iterator[Path]:
    """A private temporary home for the servers (config, runtime, notebooks, logs)."""
    path = Path(tempfile.mkdtemp(prefix="actwidgets-e2e-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``artifacts/e2e/`` at the repository root, emptied of the last run's screenshots,
    logs and figures (so every file there comes from this run)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.iterdir():
        if old.is_file() and old.suffix in (".png", ".log", ".txt"):
            old.unlink()
    return ARTIFACTS


def _copy_server_log(server: Server, artifacts: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.copyfile(server.log, artifacts / server.log.name)


@contextlib.contextmanager
def _serving(name: str, argv, env: dict[str, str], cwd: Path, sub: Path, probe: str,
             artifacts: Path) -> Iterator[Server]:
    """A started server for the ``with`` block; stopped after it (its log copied to
    ``artifacts``), also when a test fails."""
    server = start_server(name, argv, env, cwd, sub, probe)
    try:
        yield server
    finally:
        server.stop()
        _copy_server_log(server, artifacts)


@contextlib.contextmanager
def voila_server(notebook: Path, home: Path, artifacts: Path) -> Iterator[Server]:
    """Voilà serving ``notebook`` (a path inside the repository) on a free port."""
    require_module("voila")
    sub = home / f"voila-{notebook.stem}"
    sub.mkdir(parents=True, exist_ok=True)
    env = server_env(sub)

    def argv(port: int) -> list[str]:
        return [
            sys.executable, "-m", "voila", str(notebook),
            "--no-browser",
            f"--port={port}",
            f"--Voila.ip={HOST}",
            "--Voila.port_retries=0",
            "--Voila.open_browser=False",
            "--show_tracebacks=True",
            f"--Voila.root_dir={notebook.parent}",
        ]

    with _serving(f"voila-{notebook.stem}", argv, env, notebook.parent, sub, "/__e2e_probe__",
                  artifacts) as server:
        yield server


def _lab_settings(settings: Path) -> None:
    """JupyterLab (and Notebook 7) user settings: no news or update pop-ups, every cell
    rendered."""
    files = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
            {"windowingMode": "none"},
    }
    for rel, content in files.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


#: The Jupyter front ends: (module run with -m, folder and server name, its app's config
#: class, its own flags). JupyterLab's: no news, no update check, no extension manager.
_JUPYTER = {
    "lab": ("jupyterlab", "lab", "jupyterlab", "LabApp", [
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]),
    "notebook": ("notebook", "notebook7", "notebook7", "JupyterNotebookApp", []),
}


@contextlib.contextmanager
def jupyter_server(front_end: str, notebooks: list[Path], home: Path, artifacts: Path) -> Iterator[Server]:
    """JupyterLab (``"lab"``) or Notebook 7 (``"notebook"``) on a free port, rooted in a
    temporary folder holding copies of ``notebooks`` (so checkpoints and workspaces never
    land in the repository), with private settings (:func:`_lab_settings`)."""
    module, folder, name, app, extra = _JUPYTER[front_end]
    require_module(module)
    sub = home / folder
    root = sub / "root"
    root.mkdir(parents=True, exist_ok=True)
    for nb in notebooks:
        shutil.copy(nb, root / nb.name)
    _lab_settings(sub / "settings")
    env = server_env(sub)

    def argv(port: int) -> list[str]:
        return [
            sys.executable, "-m", module, "--no-browser",
            f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False", "--IdentityProvider.token=",
            "--PasswordIdentityProvider.hashed_password=", "--ServerApp.allow_root=True",
            "--ServerApp.disable_check_xsrf=True",  # the tests start kernels through the REST API
            f"--ServerApp.root_dir={root}",
            f"--{app}.workspaces_dir={sub / 'workspaces'}",
            f"--{app}.user_settings_dir={sub / 'settings'}",
            *extra,
        ]

    with _serving(name, argv, env, root, sub, "/api", artifacts) as server:
        yield server


def lab_server(notebooks: list[Path], home: Path, artifacts: Path):
    """JupyterLab 4: :func:`jupyter_server` ``("lab", ...)``."""
    return jupyter_server("lab", notebooks, home, artifacts)


def notebook_server(notebooks: list[Path], home: Path, artifacts: Path):
    """Jupyter Notebook 7: :func:`jupyter_server` ``("notebook", ...)``."""
    return jupyter_server("notebook", notebooks, home, artifacts)


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, through Playwright's sync API.

    Package-scoped on purpose: while Playwright's sync API is alive its event loop counts as
    running in this thread, which would change how widgets in later test modules render.
    """
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


def new_page(browser, console: list[str], width: int = 1280, height: int = 1000):
    """A fresh context and page (``width``×``height``) that may only reach 127.0.0.1; uncaught page
    errors, console errors and the requests refused (anything not on 127.0.0.1, such as
    Voilà's Font Awesome stylesheet from a CDN) are appended to ``console``."""
    context = browser.new_context(viewport={"width": width, "height": height})

    def route(r):
        url = r.request.url
        host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        if url.startswith(("data:", "blob:")) or host == HOST:
            return r.continue_()
        console.append(f"refused (not 127.0.0.1): {url}")
        return r.abort()

    context.route("**/*", route)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    page.on("console", lambda m: console.append(f"console.{m.type}: {m.text}")
            if m.type == "error" else None)
    return context, page


@contextlib.contextmanager
def marimo_server(notebook: Path, home: Path, artifacts: Path) -> Iterator[Server]:
    """``marimo run`` serving ``notebook`` (a marimo .py file) on a free port, no token."""
    require_module("marimo")
    sub = home / f"marimo-{notebook.stem}"
    sub.mkdir(parents=True, exist_ok=True)
    env = server_env(sub)
    env["HOME"] = str(sub)  # marimo's own config and state stay in the temporary home

    def argv(port: int) -> list[str]:
        return [sys.executable, "-m", "marimo", "run", str(notebook), "--headless",
                f"--host={HOST}", f"--port={port}", "--no-token"]

    with _serving(f"marimo-{notebook.stem}", argv, env, notebook.parent, sub, "/", artifacts) as server:
        yield server
