"""GraphQL types and inputs that take their fields from the domain, so each field is written once.

A strawberry class names the domain class it shows — a pydantic (or SQLModel) model, or a
dataclass command — and receives that class's fields in that class's order, with GraphQL's types:
``uuid.UUID`` becomes ``ID`` and a nested command becomes its input. Fields the class body
declares itself come after them (to change a type, or to keep a field's place in the schema);
resolvers come last, as strawberry puts them. ``of`` copies a domain object into a type;
``to_command`` builds the command an input stands for, reading ids, where a malformed id is a
:class:`DomainError` on that input field (named as GraphQL names it); ``domain_values`` does the
same for a resolver's arguments.

Why not ``strawberry.experimental.pydantic.type(all_fields=True)``: it would publish every column
(search keys, timestamps), a ``UUID`` scalar instead of ``ID``, drop descriptions given in the
class body and list resolvers first — a different schema from the one the portals already use.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import operator
import types
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Self, Union, get_args, get_origin, get_type_hints

import strawberry
from pydantic import BaseModel
from strawberry.utils.str_converters import to_camel_case

from .errors import DomainError

Description = str | type[Enum]
"""A field's description, or the enumeration whose values it takes (listed as the description)."""


def require_id(value: object, field: str) -> uuid.UUID:
    """The id given for ``field``; a malformed one is a DomainError on that field."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise DomainError("not a valid id", field=field) from None


def choices(enum: type[Enum]) -> str:
    """``"a, b or c"``: the values a string field takes, as its description says them."""
    values = [str(member.value) for member in enum]
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


@dataclass(frozen=True)
class _SourceField:
    name: str
    hint: Any
    default: Any = dataclasses.MISSING
    default_factory: Any = dataclasses.MISSING
    description: str | None = None


@functools.cache
def _source_fields(source: type) -> tuple[_SourceField, ...]:
    if dataclasses.is_dataclass(source):
        hints = get_type_hints(source)
        return tuple(
            _SourceField(f.name, hints[f.name], f.default, f.default_factory)
            for f in dataclasses.fields(source)
        )
    if issubclass(source, BaseModel):
        return tuple(
            _SourceField(
                name,
                info.annotation,
                dataclasses.MISSING if info.is_required() or info.default_factory else info.default,
                info.default_factory or dataclasses.MISSING,
                info.description,
            )
            for name, info in source.model_fields.items()
        )
    raise TypeError(f"{source.__name__} is neither a dataclass nor a pydantic model")


_INPUTS: dict[type, type] = {}
"""The input derived from each command, for commands nested in others (a list of posts)."""


def _optional_of(hint: Any) -> Any:
    """``X`` for ``X | None``; the hint itself otherwise."""
    if get_origin(hint) in (Union, types.UnionType):
        present = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(present) == 1:
            return present[0]
    return hint


def _graphql_type(hint: Any) -> Any:
    """The annotation GraphQL shows for a domain annotation."""
    if hint is uuid.UUID:
        return strawberry.ID
    if get_origin(hint) in (Union, types.UnionType):
        return functools.reduce(operator.or_, (_graphql_type(arg) for arg in get_args(hint)))
    if get_origin(hint) is list:
        return list[_graphql_type(get_args(hint)[0])]  # type: ignore[misc]
    if dataclasses.is_dataclass(hint):
        if hint not in _INPUTS:
            raise TypeError(f"{hint.__name__} is nested in a command: derive its input first")
        return _INPUTS[hint]
    return hint


def _to_domain(value: Any, hint: Any, field: str) -> Any:
    """The domain's value for what an input holds: ids read, nested inputs made commands."""
    if value is None:
        return None
    if isinstance(value, CommandInput):
        return value.to_command()
    hint = _optional_of(hint)
    if get_origin(hint) is list:
        return [_to_domain(item, get_args(hint)[0], field) for item in value]
    if hint is uuid.UUID:
        return require_id(value, field)
    return value


@functools.cache
def _hints(target: Callable[..., Any]) -> dict[str, Any]:
    return get_type_hints(target)


def domain_values(target: Callable[..., Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """GraphQL's values (by python name) as ``target``'s parameters or fields take them.

    Ids are read (a malformed one is a DomainError on that argument), nested inputs become their
    commands; names ``target`` does not annotate pass as they are.
    """
    hints = _hints(target)
    return {name: _to_domain(value, hints.get(name), to_camel_case(name)) for name, value in given.items()}


def _shown(value: Any) -> Any:
    return strawberry.ID(str(value)) if isinstance(value, uuid.UUID) else value


class _Derived:
    """What both kinds share: the fields of ``__source__`` written into the class at its creation."""

    __source__: ClassVar[type]
    __rename__: ClassVar[Mapping[str, str]] = {}
    """The name each field shown under another name has in GraphQL, by its name in the domain."""

    @classmethod
    def _derive(
        cls,
        source: type,
        *,
        exclude: Iterable[str],
        rename: Mapping[str, str],
        describe: Mapping[str, Description],
        defaults: bool,
    ) -> None:
        cls.__source__ = source
        cls.__rename__ = dict(rename)
        own: dict[str, Any] = dict(inspect.get_annotations(cls))
        derived: dict[str, Any] = {}
        skipped = set(exclude)
        for field in _source_fields(source):
            shown = rename.get(field.name, field.name)
            if field.name in skipped or shown in own:
                continue
            derived[shown] = _graphql_type(field.hint)
            options: dict[str, Any] = {}
            description = describe.get(shown, field.description)
            if description is not None:
                options["description"] = description if isinstance(description, str) else choices(description)
            if defaults and field.default is not dataclasses.MISSING:
                options["default"] = field.default
            elif defaults and field.default_factory is not dataclasses.MISSING:
                options["default_factory"] = field.default_factory
            if options:
                setattr(cls, shown, strawberry.field(**options))
        unknown = (skipped - {f.name for f in _source_fields(source)}) | (set(describe) - set(derived))
        if unknown:
            names = ", ".join(sorted(unknown))
            raise TypeError(f"{cls.__name__}: no derived field {names} to exclude or describe")
        cls.__annotations__ = {**derived, **own}


class ModelType(_Derived):
    """A type (or an input no command stands behind) showing a model's fields by their names:
    ``class Network(ModelType, model=m.Network)``.

    ``exclude`` keeps internal fields (search keys, bookkeeping) out of the schema; ``describe``
    gives fields their descriptions (an enumeration: the values the field takes).
    """

    def __init_subclass__(
        cls,
        *,
        model: type | None = None,
        exclude: Iterable[str] = (),
        describe: Mapping[str, Description] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if model is not None:
            cls._derive(model, exclude=exclude, rename={}, describe=describe or {}, defaults=False)

    @classmethod
    def of(cls, obj: Any) -> Self:
        """The type showing ``obj`` (a row, a model): every data field read by name."""
        values = {
            f.name: _shown(getattr(obj, f.name))
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.init
        }
        return cls(**values)


class CommandInput(_Derived):
    """An input standing for a command: ``class JoinNetworkInput(CommandInput, command=JoinNetwork)``.

    Its fields and their defaults are the command's; ``rename`` shows a command field under
    another name (``{"organization_id": "id"}``), ``describe`` gives descriptions.
    """

    def __init_subclass__(
        cls,
        *,
        command: type | None = None,
        exclude: Iterable[str] = (),
        rename: Mapping[str, str] | None = None,
        describe: Mapping[str, Description] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if command is not None:
            cls._derive(command, exclude=exclude, rename=rename or {}, describe=describe or {}, defaults=True)
            _INPUTS[command] = cls

    def to_command(self, **given: Any) -> Any:
        """The command this input stands for; ``given`` supplies fields the input holds otherwise."""
        source, rename = type(self).__source__, type(self).__rename__
        values = dict(given)
        for field in _source_fields(source):
            if field.name not in values:
                shown = rename.get(field.name, field.name)
                values[field.name] = _to_domain(getattr(self, shown), field.hint, to_camel_case(shown))
        return source(**values)
