"""One import namespace: the wheel holds nothing but ``passerelle/`` (with its data files), and installs
beside python-daemon, whose import name is ``daemon``, without either shadowing the other."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".tools" / "bin" / "uv"
# Files that are read at run time, not imported: a wheel without them imports and then fails.
DATA_FILES = (
    "passerelle/daemon/web/console/index.html",
    "passerelle/drivers/scanner/data/gs1-syntax-dictionary.txt",
    "passerelle/drivers/cpap/lpp_codes.json",
)

pytestmark = pytest.mark.timeout(300)


def uv(*args: str, cwd: Path = ROOT) -> str:
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    environment.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        [str(UV), *args], cwd=cwd, env=environment, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"uv {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    uv("build", "--wheel", "--out-dir", str(out))
    (built,) = out.glob("passerelle-*.whl")
    return built


def test_the_wheel_holds_one_top_level_package_and_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"passerelle"}
    for data in DATA_FILES:
        assert data in names
    assert "passerelle/__init__.py" in names
    assert not [name for name in names if name.startswith("passerelle/src/")]
    entry_points = zipfile.ZipFile(wheel).read(
        next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
    )
    assert b"passerelle.daemon.cli:main" in entry_points
    assert b"passerelle.drivers.scanner:FAMILY" in entry_points


def test_installs_beside_python_daemon(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    uv("venv", "--quiet", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    uv("pip", "install", "--quiet", "--python", str(python), str(wheel), "python-daemon>=3,<4")
    check = (
        "import daemon, daemon.pidfile, importlib.metadata as m;"
        "import passerelle.daemon.cli, passerelle.daemon.app;"
        "assert hasattr(daemon, 'DaemonContext'), daemon.__file__;"
        "assert 'site-packages/daemon/' in daemon.__file__, daemon.__file__;"
        "families = {e.name: e.load() for e in m.entry_points(group='passerelle.families')};"
        "print(sorted(families))"
    )
    # Run from an empty directory: the repository's own folders must not be what gets imported.
    done = subprocess.run(
        [str(python), "-c", check], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "'card', 'cpap', 'scanner', 'synthetic'" in done.stdout
    version = subprocess.run(
        [str(venv / "bin" / "passerelle"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert version.returncode == 0, version.stderr
