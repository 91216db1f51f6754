"""Workflow configs that cannot be read fail at build time, naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from infrastructure.graph.workflow import WorkflowConfigError, build_workflow


def test_a_broken_yaml_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_text("nodes: [unclosed")
    with pytest.raises(WorkflowConfigError, match=r"workflow.yaml: not valid YAML"):
        build_workflow(path)
