"""Progress reporting shared by the checks that run over every query."""

from __future__ import annotations

from collections.abc import Callable

# Called with the number of items processed so far; None when nobody is listening.
ProgressCallback = Callable[[int], None] | None

PROGRESS_EVERY = 1000
