"""nginx serving a directory on loopback from the page cache, for the download benchmark.

The uncapped download run prefers nginx (``sendfile``, C, its own process)
to the repository's aiohttp server: on a 2-CPU machine the server's CPU
counts, and nginx spends the least. Debian: ``apt-get install nginx-light``
(or ``nginx``). The capped run keeps the aiohttp server: nginx's
``limit_rate`` lets every request send a second's worth at once, so short
Range requests beat the cap and the figures would flatter every client.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["Nginx", "find_nginx"]

# One process, no master: it serves as the user who started it (a root master
# would hand the work to "nobody", who cannot read a private temporary directory).
_CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""


def find_nginx() -> str | None:
    """The nginx binary (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("nginx")
    if found is None and Path("/usr/sbin/nginx").is_file():
        found = "/usr/sbin/nginx"
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Nginx:
    """An nginx process serving ``root``; :attr:`base_url` once started, :meth:`close` stops it."""

    def __init__(self, binary: str, root: Path, workdir: Path) -> None:
        prefix = workdir / "nginx"
        prefix.mkdir()
        port = _free_port()
        config = prefix / "nginx.conf"
        config.write_text(_CONFIG.format(prefix=prefix, port=port, root=root.resolve()))
        self.base_url = f"http://127.0.0.1:{port}"
        self._log = prefix / "error.log"
        self._process = subprocess.Popen(
            [binary, "-c", str(config), "-p", str(prefix)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_listening(port)

    def _wait_until_listening(self, port: int) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        log = self._log.read_text() if self._log.exists() else ""
        raise OSError(f"nginx did not start listening on port {port}: {log.strip()[-500:]}")

    def close(self) -> None:
        """Stop nginx (SIGTERM, then SIGKILL after 10 s)."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
