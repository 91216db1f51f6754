"""`infrastructure.llm`'s public names load on first use and say the same to type checkers."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import infrastructure.llm as package


def _type_checking_imports() -> dict[str, str]:
    """Each name the module's `if TYPE_CHECKING:` block imports, and where from."""
    tree = ast.parse(Path(package.__file__).read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    return {
        alias.name: statement.module
        for statement in block.body
        if isinstance(statement, ast.ImportFrom) and statement.module
        for alias in statement.names
    }


def test_type_checkers_see_every_public_name_where_it_is_loaded_from() -> None:
    assert _type_checking_imports() == package._EXPORTS
    assert sorted(package.__all__) == sorted(package._EXPORTS)


@pytest.mark.parametrize("name", sorted(package._EXPORTS))
def test_each_public_name_is_the_object_its_module_defines(name: str) -> None:
    defined = getattr(importlib.import_module(package._EXPORTS[name]), name)
    assert getattr(package, name) is defined
    assert name in package.__all__
    assert name in dir(package)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match=r"'infrastructure\.llm' has no attribute 'Nope'"):
        package.Nope  # noqa: B018


def test_star_import_brings_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from infrastructure.llm import *", namespace)
    assert set(package.__all__) <= set(namespace)
