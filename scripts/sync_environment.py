"""Write environment.yml and binder/environment.yml from pyproject.toml, the one place pins live.

Run ``python scripts/sync_environment.py`` after changing dependencies in pyproject.toml;
``tests/test_environment.py`` fails while the copies disagree with it.
"""

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("lab", "test")
HEADER = """\
# Generated from pyproject.toml by scripts/sync_environment.py: edit pyproject.toml, then rerun it.
# binder/environment.yml is an identical copy (Binder reads only binder/ when that folder exists);
# binder/postBuild installs vibook itself.
"""


def render() -> str:
    """The environment file's text for the current pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    python = project["requires-python"].removeprefix(">=")
    reqs = list(project["dependencies"])
    for extra in EXTRAS:
        reqs += project["optional-dependencies"][extra]
    lines = [HEADER, "name: vibook", "channels:", "  - conda-forge", "dependencies:"]
    lines += [f"  - python={python}", "  - pip", "  - pip:"]
    lines += [f'      - "{r}"' for r in reqs]
    return "\n".join(lines) + "\n"


def main() -> int:
    text = render()
    for path in (ROOT / "environment.yml", ROOT / "binder" / "environment.yml"):
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
