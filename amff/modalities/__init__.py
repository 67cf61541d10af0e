"""The modality registry: everything that differs between modalities lives in its own module.

A modality is described by a `ModalitySpec` (its name, label, files, parser, preprocessor,
encoder factory, quality signals and attribution adapter) and registered once; every loop over
modalities goes through the registry, in registration order (tensors, JSON, CLI, UI). The four
built-in modalities register themselves below; a fifth is one more module::

    from amff.modalities import ModalitySpec, register
    register(MyLabsModality())

`Modality` is the registered name: a `str` ("tabular") that also knows its spec and label.
Unknown names are an error, never a silent default.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import combinations
from typing import overload

from amff.modalities.spec import ModalitySpec

_REGISTRY: dict[str, ModalitySpec] = {}
_MEMBERS: dict[str, Modality] = {}
BUILTIN: tuple[str, ...] = ("tabular", "text", "image", "rna")


class Modality(str):
    """A registered modality's name: compares and hashes as its name, and knows its spec."""

    __slots__ = ()

    # the built-in modalities, set once they are registered (below)
    TABULAR: Modality
    TEXT: Modality
    IMAGE: Modality
    RNA: Modality

    def __new__(cls, name: object) -> Modality:
        if isinstance(name, Modality):
            return name
        member = _MEMBERS.get(str(name))
        if member is None:
            raise ValueError(
                f"unknown modality {name!r}; use one of {', '.join(_REGISTRY) or '(none)'}"
            )
        return member

    def __getnewargs__(self) -> tuple[str]:  # pickles as its name; unpickles to the member
        return (str.__str__(self),)

    def __repr__(self) -> str:
        return f"Modality({str.__str__(self)!r})"

    @property
    def value(self) -> str:
        """The plain name used in files, flags and JSON keys."""
        return str.__str__(self)

    @property
    def spec(self) -> ModalitySpec:
        return _REGISTRY[self.value]

    @property
    def label(self) -> str:
        """The plain-language name shown to users."""
        return self.spec.label


class _Registered(Sequence[Modality]):
    """A live, ordered view of the registered modalities (a fifth appears once registered)."""

    @overload
    def __getitem__(self, i: int) -> Modality: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[Modality, ...]: ...
    def __getitem__(self, i: int | slice) -> Modality | tuple[Modality, ...]:
        return tuple(_MEMBERS.values())[i]

    def __len__(self) -> int:
        return len(_MEMBERS)

    def __iter__(self) -> Iterator[Modality]:
        return iter(tuple(_MEMBERS.values()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"MODALITIES{tuple(m.value for m in self)}"


class _Names(_Registered):
    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter(tuple(_REGISTRY))

    def __getitem__(self, i):  # type: ignore[no-untyped-def, override]
        return tuple(_REGISTRY)[i]

    def __repr__(self) -> str:
        return f"NAMES{tuple(self)}"


MODALITIES: Sequence[Modality] = _Registered()
NAMES: Sequence[str] = _Names()  # type: ignore[assignment]


def register(spec: ModalitySpec) -> Modality:
    """Add a modality (after the ones registered before it). Its name must be new."""
    name = spec.name
    if not name or not name.isidentifier() or name != name.lower():
        raise ValueError(f"modality name {name!r}: use a lower-case identifier such as 'labs'")
    if name in _REGISTRY:
        raise ValueError(f"modality {name!r} is already registered")
    _REGISTRY[name] = spec
    member = str.__new__(Modality, name)
    _MEMBERS[name] = member
    return member


def unregister(name: str) -> None:
    """Remove a modality registered by the user (the built-in four stay)."""
    if name in BUILTIN:
        raise ValueError(f"the built-in modality {name!r} cannot be unregistered")
    _REGISTRY.pop(name, None)
    _MEMBERS.pop(name, None)


@contextmanager
def registered(spec: ModalitySpec) -> Iterator[Modality]:
    """Register `spec` for the duration of a block (tests, experiments)."""
    member = register(spec)
    try:
        yield member
    finally:
        unregister(spec.name)


def get_spec(modality: str) -> ModalitySpec:
    """The spec of a registered modality (ValueError naming the registered ones if unknown)."""
    return Modality(modality).spec


def parse_modalities(text: str | None) -> tuple[Modality, ...]:
    """Parse 'tabular,image' into modalities (all registered when text is empty or None).

    Raises ValueError with the accepted names when a name is unknown.
    """
    if text is None or not text.strip():
        return tuple(MODALITIES)
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in _REGISTRY]
    if unknown:
        raise ValueError(
            f"unknown modality {unknown[0]!r}; use a comma-separated list of {', '.join(NAMES)}"
        )
    chosen = set(names)
    return tuple(m for m in MODALITIES if m.value in chosen)


def all_subsets(modalities: Iterable[str] | None = None) -> list[tuple[Modality, ...]]:
    """The non-empty subsets (15 for four modalities), smallest first, in registry order."""
    chosen = tuple(MODALITIES) if modalities is None else tuple(Modality(m) for m in modalities)
    return [c for k in range(1, len(chosen) + 1) for c in combinations(chosen, k)]


def subset_name(subset: Iterable[str]) -> str:
    """'tabular+image' for a subset; the key used in JSON for subset results."""
    return "+".join(str.__str__(m) if isinstance(m, Modality) else str(m) for m in subset)


def _register_builtins() -> None:
    from amff.modalities.image import ImageModality
    from amff.modalities.rna import RnaModality
    from amff.modalities.tabular import TabularModality
    from amff.modalities.text import TextModality

    for spec in (TabularModality(), TextModality(), ImageModality(), RnaModality()):
        register(spec)
    Modality.TABULAR, Modality.TEXT, Modality.IMAGE, Modality.RNA = (_MEMBERS[n] for n in BUILTIN)


_register_builtins()

__all__ = [
    "BUILTIN",
    "MODALITIES",
    "NAMES",
    "Modality",
    "ModalitySpec",
    "all_subsets",
    "get_spec",
    "parse_modalities",
    "register",
    "registered",
    "subset_name",
    "unregister",
]
