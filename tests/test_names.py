"""Every ``fj.NAME`` that README.md, the docs and the notebooks use exists at the top
level of fluxjax under that name (a user copies them as they are)."""

import re
from pathlib import Path

import fluxjax as fj


ROOT = Path(__file__).parent.parent
SOURCES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "notebooks").glob("*.ipynb")),
]


def test_every_fj_name_in_the_guides_exists():
    missing = {}
    for path in SOURCES:
        for name in re.findall(r"\bfj\.([A-Za-z_][A-Za-z0-9_]*)", path.read_text()):
            if not hasattr(fj, name):
                missing.setdefault(name, []).append(path.name)
    assert not missing, missing
