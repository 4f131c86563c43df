"""The sdist and wheel as users get them: contents, metadata, and a fresh install.

The wheel is built once per module with ``python -m build`` (an isolated build,
as pip does it) and installed into new virtual environments, first without the
``llmstore`` extra (the state library alone), then with it.
"""

from __future__ import annotations

import email
import email.message
import os
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300


@dataclass(frozen=True)
class Built:
    wheel: Path
    sdist: Path


def _run(*argv: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMSTORE_", "HF_"))}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("dist")
    result = _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("mstlite-*.whl")
    (sdist,) = out.glob("mstlite-*.tar.gz")
    return Built(wheel, sdist)


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def test_wheel_and_sdist_ship_the_license(built: Built) -> None:
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License")
    assert "Copyright (c) 2026 the mstlite authors" in license_text
    with zipfile.ZipFile(built.wheel) as archive:
        licenses = [n for n in archive.namelist() if n.endswith("/licenses/LICENSE")]
        assert len(licenses) == 1
        assert archive.read(licenses[0]).decode("utf-8") == license_text
        names = set(archive.namelist())
    assert {"mstlite/py.typed", "llmstore/py.typed", "llmstore/cli.py"} <= names
    assert not any(n.startswith("tests/") for n in names)
    with tarfile.open(built.sdist) as archive:
        members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
    assert {"LICENSE", "README.md", "pyproject.toml", "llmstore/py.typed"} <= members


def test_wheel_metadata_names_the_extra_classifiers_and_urls(built: Built) -> None:
    metadata = _metadata(built.wheel)
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    classifiers = metadata.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in classifiers)
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Repository", "Issues"} <= set(urls)
    assert "gguf" in (metadata["Keywords"] or "").split(",")
    assert "llmstore" in (metadata.get_all("Provides-Extra") or [])
    requires = metadata.get_all("Requires-Dist") or []
    plain = sorted(_name(r) for r in requires if "extra ==" not in r)
    assert plain == ["pydantic", "reactivex", "typing-extensions"]
    extra = [r for r in requires if "extra == 'llmstore'" in r or 'extra == "llmstore"' in r]
    assert sorted(_name(r) for r in extra) == [
        "aiohttp",
        "filelock",
        "huggingface-hub",
        "platformdirs",
        "rich",
    ]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match is not None, requirement
    return match[0]


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(directory)
    yield directory / "bin"


def test_fresh_install_without_the_extra_then_with_it(built: Built, fresh_venv: Path) -> None:
    python, pip = fresh_venv / "python", fresh_venv / "pip"
    installed = _run(pip, "install", "-q", built.wheel)
    assert installed.returncode == 0, installed.stderr
    listed = _run(pip, "list", "--format=freeze").stdout.lower()
    assert "aiohttp" not in listed and "rich" not in listed  # the state library alone
    checked = _run(pip, "check")
    assert checked.returncode == 0, checked.stdout
    imported = _run(python, "-c", "import mstlite; print(mstlite.__version__)")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == _metadata(built.wheel)["Version"]
    refused = _run(python, "-c", "import llmstore")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "ImportError: llmstore needs the 'llmstore' extra (missing: aiohttp, huggingface_hub, "
        "platformdirs, rich): pip install 'mstlite[llmstore]'"
    )
    with_extra = _run(pip, "install", "-q", f"mstlite[llmstore] @ {built.wheel.as_uri()}")
    assert with_extra.returncode == 0, with_extra.stderr
    assert _run(pip, "check").returncode == 0
    demo = _run(fresh_venv / "llmstore", "--json", "demo", "--size-mb", "2", cwd=fresh_venv)
    assert demo.returncode == 0, demo.stderr
    assert '"ok": true' in demo.stdout
    version = _run(fresh_venv / "llmstore", "--version")
    assert version.stdout.strip() == f"llmstore {_metadata(built.wheel)['Version']}"
