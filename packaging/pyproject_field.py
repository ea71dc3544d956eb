"""Prints one field of pyproject.toml for scripts/package.sh: `version`, `description`, or `scripts`
(the console script names, one per line), so the package follows whatever the project declares."""

import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
field = sys.argv[1]
if field == "scripts":
    print("\n".join(project.get("scripts", {})))
else:
    print(project[field])
