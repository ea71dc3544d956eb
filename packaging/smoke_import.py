"""Run by scripts/package.sh with the staged venv's interpreter: imports every compiled extension the
environment holds (so a stripped or mislinked library fails the build, not the station) and loads
every entry point the project declares."""

import importlib
import importlib.metadata
import sys
from pathlib import Path

site_packages = (
    Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
)
# Test-only extensions and the Tk bindings (Debian ships tkinter apart) are not needed by the daemon.
skipped_parts = {"tests", "testing", "_tkagg", "_imagingtk"}
failures = []
for extension in sorted(site_packages.rglob("*.so")):
    relative = extension.relative_to(site_packages)
    if (
        relative.parts[0].endswith(".libs")
        or skipped_parts & set(relative.parts)
        or any(part in extension.name for part in skipped_parts)
    ):
        continue
    module = ".".join((*relative.parts[:-1], extension.name.split(".")[0]))
    try:
        importlib.import_module(module)
    except Exception as error:
        failures.append(f"{module}: {type(error).__name__}: {error}")

project = importlib.metadata.distribution("passerelle")
for entry_point in project.entry_points:
    try:
        entry_point.load()
    except Exception as error:
        failures.append(f"entry point {entry_point.name}: {type(error).__name__}: {error}")

if failures:
    sys.exit("package: the bundled environment does not import:\n  " + "\n  ".join(failures))
print(f"package: smoke import ok ({sys.executable})")
