"""The validation suite is the repository's ``validation/`` package (not installed with fpsolve):
put the repository root on ``sys.path`` so the tests import it however pytest was started."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
