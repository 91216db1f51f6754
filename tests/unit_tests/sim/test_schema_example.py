"""example_value: deterministic values that satisfy the JSON schemas clients send."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from infrastructure.llm.sim.schema_example import example_value


class Address(BaseModel):
    street: str
    city: str | None = None


class Person(BaseModel):
    name: str
    age: int = Field(gt=17, lt=130)
    height: float = Field(le=1.0)
    role: Literal["admin", "user"]
    nicknames: list[str]
    address: Address
    previous: list[Address] = []
    active: bool = True


def test_pydantic_schema_round_trips_through_validation() -> None:
    value = example_value(Person.model_json_schema())
    person = Person.model_validate(value)
    assert person.age == 18
    assert person.height == 1.0
    assert person.role == "admin"
    assert person.nicknames == ["example nicknames"]
    assert person.address.city == "example city"  # optional fields are filled too
    assert len(person.previous) == 1


def test_strings_use_the_given_text_and_formats() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "when": {"type": "string", "format": "date"},
            "code": {"type": "string", "maxLength": 2},
        },
    }
    assert example_value(schema, "你好") == {"name": "你好", "when": "2024-01-01", "code": "你好"}


def test_recursive_schemas_terminate() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"child": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}},
            }
        },
    }
    value = example_value(schema)
    depth = 0
    while value:
        value = value["child"]
        depth += 1
    assert 1 < depth < 20


def test_type_lists_consts_and_untyped_schemas() -> None:
    assert example_value({"type": ["null", "integer"], "minimum": 10}) == 10
    assert example_value({"const": "fixed"}) == "fixed"
    assert example_value({"type": "object"}) == {}
    assert example_value({"properties": {"x": {"type": "boolean"}}}) == {"x": True}
