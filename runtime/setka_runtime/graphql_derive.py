"""GraphQL types and inputs that take their fields from the domain, so each field is written once.

A strawberry class names the domain class it shows — a pydantic (or SQLModel) model, or a
dataclass command — and receives that class's fields in that class's order, with GraphQL's types:
``uuid.UUID`` becomes ``ID`` and a nested command becomes its input. Fields the class body
declares itself come after them (to keep a field's place in the schema; ``retype`` changes a
field's type where it stands); resolvers come last, as strawberry puts them. ``of`` copies a
domain object into a type; ``to_command`` builds the command an input stands for, reading ids,
where a malformed id is a :class:`DomainError` on that input field (named as GraphQL names it);
``domain_values`` does the same for a resolver's arguments, and ``filtered`` gives a resolver a
filter's fields as its arguments.

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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Self, TypeVar, Union, get_args, get_origin, get_type_hints

import strawberry
from pydantic import BaseModel
from strawberry.utils.str_converters import to_camel_case

from .graphql import require_id

Description = str | type[Enum]
"""A field's description, or the enumeration whose values it takes (listed as the description)."""

IdReader = Callable[[Any, str], uuid.UUID | None]
"""How an id given for a field (named as GraphQL names it) is read; :func:`require_id` unless told."""

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


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

    def argument_default(self) -> Any:
        """The default of an argument standing for the field (none for a required field)."""
        if self.default is not dataclasses.MISSING:
            return self.default
        if self.default_factory is not dataclasses.MISSING:
            return self.default_factory()
        return inspect.Parameter.empty


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


def _unknown(source: type, names: Iterable[str]) -> set[str]:
    """Those of ``names`` that are no field of ``source``."""
    return set(names) - {f.name for f in _source_fields(source)}


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


def _to_domain(value: Any, hint: Any, field: str, read_id: IdReader = require_id) -> Any:
    """The domain's value for what an input holds: ids read, nested inputs made commands."""
    if value is None:
        return None
    if isinstance(value, CommandInput):
        return value.to_command()
    hint = _optional_of(hint)
    if get_origin(hint) is list:
        return [_to_domain(item, get_args(hint)[0], field, read_id) for item in value]
    if hint is uuid.UUID:
        return read_id(value, field)
    return value


@functools.cache
def _hints(target: Callable[..., Any]) -> dict[str, Any]:
    return get_type_hints(target)


def domain_values(
    target: Callable[..., Any], given: Mapping[str, Any], *, read_id: IdReader = require_id
) -> dict[str, Any]:
    """GraphQL's values (by python name) as ``target``'s parameters or fields take them.

    Ids are read by ``read_id`` (by default a malformed one is a DomainError on that argument),
    nested inputs become their commands; names ``target`` does not annotate pass as they are.
    """
    hints = _hints(target)
    return {
        name: _to_domain(value, hints.get(name), to_camel_case(name), read_id)
        for name, value in given.items()
    }


def filtered(
    criteria: type, *, exclude: Iterable[str] = (), read_id: IdReader = require_id
) -> Callable[[F], F]:
    """A resolver whose arguments are the fields of a filter, written once, in the filter.

    The resolver declares a parameter ``where: criteria``; in its place GraphQL shows the fields of
    ``criteria`` but ``exclude``, in their order, with their defaults and GraphQL's types. The
    resolver receives them read (ids by ``read_id``) into ``where``.
    """
    skipped = set(exclude)
    if unknown := _unknown(criteria, skipped):
        raise TypeError(f"{criteria.__name__} has no field {', '.join(sorted(unknown))} to exclude")
    fields = [f for f in _source_fields(criteria) if f.name not in skipped]
    arguments = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=_graphql_type(f.hint),
            default=f.argument_default(),
        )
        for f in fields
    ]

    def wrap(resolver: F) -> F:
        signature = inspect.signature(resolver)
        if "where" not in signature.parameters:
            raise TypeError(f"{resolver.__qualname__} has no parameter `where` for its {criteria.__name__}")
        shown: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            if parameter.name == "where":
                shown.extend(arguments)
            elif shown and shown[-1].kind is inspect.Parameter.KEYWORD_ONLY:
                shown.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY))
            else:
                shown.append(parameter)

        @functools.wraps(resolver)
        async def resolve(*args: Any, **given: Any) -> Any:
            values = {f.name: given.pop(f.name) for f in fields if f.name in given}
            where = criteria(**domain_values(criteria, values, read_id=read_id))
            return await resolver(*args, where=where, **given)

        resolve.__signature__ = signature.replace(parameters=shown)  # type: ignore[attr-defined]
        return resolve  # type: ignore[return-value]

    return wrap


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
        describe: Mapping[str, Description] | None,
        defaults: bool,
        rename: Mapping[str, str] | None = None,
        retype: Mapping[str, Any] | None = None,
    ) -> None:
        describe, rename, retype = describe or {}, rename or {}, retype or {}
        cls.__source__ = source
        cls.__rename__ = dict(rename)
        own: dict[str, Any] = dict(inspect.get_annotations(cls))
        derived: dict[str, Any] = {}
        skipped = set(exclude)
        for field in _source_fields(source):
            shown = rename.get(field.name, field.name)
            if field.name in skipped or shown in own:
                continue
            derived[shown] = retype[shown] if shown in retype else _graphql_type(field.hint)
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
        unknown = _unknown(source, skipped) | ((set(describe) | set(retype)) - set(derived))
        if unknown:
            names = ", ".join(sorted(unknown))
            raise TypeError(f"{cls.__name__}: no derived field {names} to exclude, describe or retype")
        cls.__annotations__ = {**derived, **own}


class ModelType(_Derived):
    """A type (or an input no command stands behind) showing a model's fields by their names:
    ``class Network(ModelType, model=m.Network)``.

    ``exclude`` keeps internal fields (search keys, bookkeeping) out of the schema; ``describe``
    gives fields their descriptions (an enumeration: the values the field takes); ``retype`` shows
    a field as another GraphQL type where it stands (``of`` is then given its value).
    """

    def __init_subclass__(
        cls,
        *,
        model: type | None = None,
        exclude: Iterable[str] = (),
        describe: Mapping[str, Description] | None = None,
        retype: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if model is not None:
            cls._derive(model, exclude=exclude, describe=describe, retype=retype, defaults=False)

    @classmethod
    def of(cls, obj: Any, **given: Any) -> Self:
        """The type showing ``obj`` (a row, a model): every data field read by name, but those
        ``given`` (shown otherwise than the domain holds them)."""
        values = {
            f.name: given[f.name] if f.name in given else _shown(getattr(obj, f.name))
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
            cls._derive(command, exclude=exclude, describe=describe, rename=rename, defaults=True)
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
