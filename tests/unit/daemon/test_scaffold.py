"""``passerelle scaffold family``: the same files for every family, refusals that write nothing.

That the generated code passes ruff and mypy and runs under the daemon: tests/kit/test_scaffold_family.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from passerelle.daemon.cli import main

FILES = [
    "drivers/gauge/__init__.py",
    "drivers/gauge/driver.py",
    "simulators/gauge/__init__.py",
    "simulators/gauge/simulator.py",
    "simulators/gauge/hooks.py",
    "tests/unit/drivers/gauge/__init__.py",
    "tests/unit/drivers/gauge/test_gauge.py",
]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "passerelle"\nversion = "0"\n')
    return tmp_path


def written(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_writes_the_walkthrough_files_and_prints_what_is_left(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scaffold", "family", "gauge", "--root", str(checkout)]) == 0
    assert written(checkout) == sorted([*FILES, "pyproject.toml"])
    family = (checkout / "drivers/gauge/__init__.py").read_text()
    assert 'name = "gauge"' in family
    assert "class GaugeFamily(FamilyBase):" in family
    assert "DeviceLoop(" in (checkout / "drivers/gauge/driver.py").read_text()
    assert "SIMULATOR = GaugeSimulatorHooks()" in (checkout / "simulators/gauge/hooks.py").read_text()
    out = capsys.readouterr().out
    assert 'gauge = "passerelle.drivers.gauge:FAMILY"' in out
    assert 'gauge = "passerelle.simulators.gauge.hooks:SIMULATOR"' in out
    assert "async def gauge(workdir: Path, request: pytest.FixtureRequest)" in out  # the kit scenario
    assert "passerelle schema --write docs" in out
    assert "passerelle config reference --write docs/configuration.md" in out
    assert (checkout / "pyproject.toml").read_text().count("entry-points") == 0, "printed, not edited"


def test_names_with_underscores_give_classes_and_topic_leaves_their_own_forms(checkout: Path) -> None:
    assert main(["scaffold", "family", "air_quality", "--root", str(checkout)]) == 0
    family = (checkout / "drivers/air_quality/__init__.py").read_text()
    assert "class AirQualityFamily(FamilyBase):" in family
    assert 'READING_SCHEMA = "passerelle.air-quality.reading/1"' in family
    assert 'leaf="air-quality"' in family


def test_dry_run_lists_the_files_and_writes_nothing(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scaffold", "family", "gauge", "--root", str(checkout), "--dry-run"]) == 0
    assert written(checkout) == ["pyproject.toml"]
    assert capsys.readouterr().out.split() == [str(checkout / name) for name in FILES]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("mqtt", "reserved by the core"),
        ("bridge", "reserved by the core"),
        ("Gauge", "not a lower-case identifier"),
        ("2gauge", "not a lower-case identifier"),
        ("gauge-x", "not a lower-case identifier"),
        ("import", "Python keyword"),
        ("scanner", "already installed"),
        ("scan", "topic leaf 'scan' is already used by family 'scanner'"),
    ],
)
def test_refused_names_write_nothing(
    checkout: Path, name: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scaffold", "family", name, "--root", str(checkout)]) == 2
    assert why in capsys.readouterr().err
    assert written(checkout) == ["pyproject.toml"]


@pytest.mark.parametrize("existing", ["drivers/gauge", "simulators/gauge"])
def test_an_existing_family_folder_is_refused(
    checkout: Path, existing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (checkout / existing).mkdir(parents=True)
    assert main(["scaffold", "family", "gauge", "--root", str(checkout)]) == 2
    assert f"{checkout / existing} already exists" in capsys.readouterr().err
    assert written(checkout) == ["pyproject.toml"]


def test_an_existing_unit_test_is_not_overwritten(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = checkout / "tests/unit/drivers/gauge/test_gauge.py"
    mine.parent.mkdir(parents=True)
    mine.write_text("# mine\n")
    assert main(["scaffold", "family", "gauge", "--root", str(checkout)]) == 2
    assert "would overwrite" in capsys.readouterr().err
    assert mine.read_text() == "# mine\n"
    assert not (checkout / "drivers").exists()


@pytest.mark.parametrize("pyproject", [None, '[project]\nname = "other"\n', "not toml ["])
def test_the_root_must_be_a_passerelle_checkout(
    tmp_path: Path, pyproject: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    assert main(["scaffold", "family", "gauge", "--root", str(tmp_path)]) == 2
    assert "is not a Passerelle checkout" in capsys.readouterr().err
    assert not (tmp_path / "drivers").exists()


def test_the_package_must_be_a_dotted_name(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scaffold", "family", "gauge", "--root", str(checkout), "--package", "my-pkg"]) == 2
    assert "not a dotted Python name" in capsys.readouterr().err
    assert written(checkout) == ["pyproject.toml"]
