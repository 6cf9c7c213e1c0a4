"""Notebooks are committed without outputs (the integration tests execute them)."""

from __future__ import annotations

import nbformat


def test_notebooks_are_committed_without_outputs(project):
    books = sorted((project.root / "notebooks").glob("*.ipynb"))
    assert [p.name for p in books] == ["slo-burn-rate.ipynb", "threshold-tuning.ipynb"]
    for path in books:
        book = nbformat.read(path, as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert code and all(not c.get("outputs") and c.get("execution_count") is None for c in code), path.name
