"""A small strict schema layer: typed fields for frozen dataclasses.

Each wire type has `load(plain)` (validate an unpacked msgpack value and
convert it to the Python value) and `dump(value)` (Python value to the
plain value that `codec.pack` encodes canonically).  Encoders validate by
running `load(dump(x))`, so nothing is ever sent that a decoder would refuse.
Type checks are exact (`type(x) is int`): a bool is not an int, an int is not a
float, bytes are not str.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Protocol

from protocol.errors import ProtocolError
from protocol.wire.codec import describe_value
from protocol.wire.reasons import WireReason

U64_MAX = 2**64 - 1
I64_MIN = -(2**63)

# An Ed25519 libp2p peer id: identity multihash (code 0x00, length 0x24) of the
# protobuf PublicKey {Type: Ed25519 (field 1 = 1), Data (field 2, 32 bytes)}.
ED25519_PEER_ID_PREFIX = bytes.fromhex("002408011220")
ED25519_PEER_ID_LEN = len(ED25519_PEER_ID_PREFIX) + 32


def wire_error(reason: WireReason, what: str) -> ProtocolError:
    """An error whose detail starts with ": "; enclosing containers prefix their
    part of the path (".name", "[i]") while the exception travels up, so paths
    cost nothing on the success path."""
    return ProtocolError(reason, f": {what}")


def at(path: str, exc: ProtocolError) -> ProtocolError:
    """`exc` with `path` prefixed to its detail."""
    return ProtocolError(exc.reason, f"{path}{exc.detail}")


class WireType(Protocol):
    def load(self, value: Any) -> Any: ...

    def dump(self, value: Any) -> Any: ...

    # optional: normalize(value) -> value, applied when a Struct is constructed


@dataclasses.dataclass(frozen=True)
class UInt:
    lo: int = 0
    hi: int = U64_MAX

    def load(self, value: Any) -> int:
        if type(value) is not int:
            raise wire_error(WireReason.WRONG_TYPE, f"expected int, got {describe_value(value)}")
        if not self.lo <= value <= self.hi:
            raise wire_error(WireReason.BAD_VALUE, f"{describe_value(value)} outside [{self.lo}, {self.hi}]")
        return value

    def dump(self, value: Any) -> Any:
        return value


@dataclasses.dataclass(frozen=True)
class Float:
    lo: float = -math.inf
    hi: float = math.inf

    def normalize(self, value: Any) -> Any:
        return float(value) if type(value) is int else value

    def load(self, value: Any) -> float:
        if type(value) is not float:
            raise wire_error(WireReason.WRONG_TYPE, f"expected float64, got {describe_value(value)}")
        if not math.isfinite(value) or not self.lo <= value <= self.hi:
            raise wire_error(WireReason.BAD_VALUE, f"{value!r} not finite within [{self.lo}, {self.hi}]")
        return value

    def dump(self, value: Any) -> Any:
        # Let callers write `throughput=100`; the wire always carries float64.
        return float(value) if type(value) is int else value


def utf8_len(value: str) -> int:
    if value.isascii():
        return len(value)
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates cannot go on the wire
        raise wire_error(WireReason.BAD_VALUE, "string is not valid Unicode text") from None


@dataclasses.dataclass(frozen=True)
class Text:
    max_bytes: int
    min_bytes: int = 0
    choices: frozenset[str] | None = None

    def load(self, value: Any) -> str:
        if type(value) is not str:
            raise wire_error(WireReason.WRONG_TYPE, f"expected str, got {describe_value(value)}")
        size = len(value) if value.isascii() else utf8_len(value)
        if not self.min_bytes <= size <= self.max_bytes:
            raise wire_error(WireReason.BAD_VALUE, f"{size} UTF-8 bytes outside [{self.min_bytes}, {self.max_bytes}]")
        if self.choices is not None and value not in self.choices:
            raise wire_error(WireReason.BAD_VALUE, f"not one of {sorted(self.choices)}")
        return value

    def dump(self, value: Any) -> Any:
        return value


@dataclasses.dataclass(frozen=True)
class Blob:
    """bin; `sizes` lists the allowed exact lengths, else any length up to max_bytes."""

    sizes: frozenset[int] | None = None
    max_bytes: int = 0

    def load(self, value: Any) -> bytes:
        if type(value) is not bytes:
            raise wire_error(WireReason.WRONG_TYPE, f"expected bin, got {describe_value(value)}")
        ok = len(value) in self.sizes if self.sizes is not None else len(value) <= self.max_bytes
        if not ok:
            allowed = sorted(self.sizes) if self.sizes is not None else f"<= {self.max_bytes}"
            raise wire_error(WireReason.BAD_VALUE, f"{len(value)} bytes, allowed {allowed}")
        return value

    def dump(self, value: Any) -> Any:
        return bytes(value) if isinstance(value, (bytearray, memoryview)) else value


HASH32 = Blob(sizes=frozenset({32}))
HASH32_OR_EMPTY = Blob(sizes=frozenset({0, 32}))


def is_ed25519_peer_id(value: object) -> bool:
    return (
        type(value) is bytes
        and len(value) == ED25519_PEER_ID_LEN
        and value.startswith(ED25519_PEER_ID_PREFIX)
    )


@dataclasses.dataclass(frozen=True)
class PeerId:
    """bin holding an Ed25519 identity-multihash peer id (38 bytes)."""

    reason: WireReason = WireReason.BAD_VALUE

    def load(self, value: Any) -> bytes:
        if type(value) is not bytes:
            raise wire_error(WireReason.WRONG_TYPE, f"expected bin, got {describe_value(value)}")
        if not is_ed25519_peer_id(value):
            raise wire_error(self.reason, "not an Ed25519 identity-multihash peer id")
        return value

    def dump(self, value: Any) -> Any:
        return bytes(value) if isinstance(value, (bytearray, memoryview)) else value


@dataclasses.dataclass(frozen=True)
class ListOf:
    item: Any  # a WireType
    max_items: int
    min_items: int = 0
    sorted_unique: bool = False  # canonical sets: strictly increasing

    def load(self, value: Any) -> tuple:
        if type(value) is not list:
            raise wire_error(WireReason.WRONG_TYPE, f"expected array, got {describe_value(value)}")
        if not self.min_items <= len(value) <= self.max_items:
            raise wire_error(WireReason.BAD_VALUE, f"{len(value)} items outside [{self.min_items}, {self.max_items}]")
        load = self.item.load
        items = []
        for i, v in enumerate(value):
            try:
                items.append(load(v))
            except ProtocolError as exc:
                raise at(f"[{i}]", exc) from None
        if self.sorted_unique and any(a >= b for a, b in zip(items, items[1:])):
            raise wire_error(WireReason.BAD_VALUE, "items must be strictly increasing (sorted, no duplicates)")
        return tuple(items)

    def dump(self, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise wire_error(WireReason.WRONG_TYPE, f"expected a list or tuple, got {type(value).__name__}")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(self.item.dump(v))
            except ProtocolError as exc:
                raise at(f"[{i}]", exc) from None
        return out

    def normalize(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            norm = getattr(self.item, "normalize", None)
            return tuple(norm(v) for v in value) if norm else tuple(value)
        return value


def _load_scalar(value: Any, max_str_bytes: int) -> Any:
    kind = type(value)
    if kind is bool:
        return value
    if kind is int:
        if not I64_MIN <= value <= U64_MAX:
            raise wire_error(WireReason.BAD_VALUE, "int outside the msgpack range")
        return value
    if kind is float:
        if not math.isfinite(value):
            raise wire_error(WireReason.BAD_VALUE, "float must be finite")
        return value
    if kind is str:
        if utf8_len(value) > max_str_bytes:
            raise wire_error(WireReason.BAD_VALUE, f"string longer than {max_str_bytes} UTF-8 bytes")
        return value
    raise wire_error(WireReason.WRONG_TYPE, f"expected bool/int/float/str, got {describe_value(value)}")


@dataclasses.dataclass(frozen=True)
class ScalarMap:
    """map str -> bool | int | float | str | array of those (no deeper nesting).

    Canonical order: keys sorted by their UTF-8 bytes.  Python's str order is
    code-point order, which equals UTF-8 byte order.  Arrays become tuples.
    """

    max_items: int
    max_key_bytes: int
    max_str_bytes: int
    max_list_items: int = 64

    def _load_value(self, value: Any) -> Any:
        if type(value) is list:
            if len(value) > self.max_list_items:
                raise wire_error(WireReason.BAD_VALUE, f"more than {self.max_list_items} items")
            items = []
            for i, v in enumerate(value):
                try:
                    items.append(_load_scalar(v, self.max_str_bytes))
                except ProtocolError as exc:
                    raise at(f"[{i}]", exc) from None
            return tuple(items)
        return _load_scalar(value, self.max_str_bytes)

    def load(self, value: Any) -> dict[str, Any]:
        if type(value) is not dict:
            raise wire_error(WireReason.WRONG_TYPE, f"expected map, got {describe_value(value)}")
        if len(value) > self.max_items:
            raise wire_error(WireReason.BAD_VALUE, f"{len(value)} entries, at most {self.max_items}")
        out: dict[str, Any] = {}
        previous = None
        for key, item in value.items():
            if type(key) is not str:
                raise wire_error(WireReason.WRONG_TYPE, f"map key must be str, got {describe_value(key)}")
            if not 1 <= utf8_len(key) <= self.max_key_bytes:
                raise wire_error(WireReason.BAD_VALUE, f"key must be 1..{self.max_key_bytes} UTF-8 bytes")
            if previous is not None and key <= previous:
                raise wire_error(WireReason.NON_CANONICAL, "map keys must be sorted by their UTF-8 bytes")
            previous = key
            try:
                out[key] = self._load_value(item)
            except ProtocolError as exc:
                raise at(f".{key[:40]}", exc) from None
        return out

    def dump(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise wire_error(WireReason.WRONG_TYPE, f"expected a dict, got {type(value).__name__}")
        try:
            keys = sorted(value)
        except TypeError:
            raise wire_error(WireReason.WRONG_TYPE, "map keys must all be str") from None
        return {k: list(value[k]) if isinstance(value[k], (list, tuple)) else value[k] for k in keys}

    def normalize(self, value: Any) -> Any:
        if isinstance(value, dict) and all(type(k) is str for k in value):
            return {k: tuple(value[k]) if isinstance(value[k], list) else value[k] for k in sorted(value)}
        return value


def wire(kind: Any, default: Any = dataclasses.MISSING) -> Any:
    """Declare a dataclass field's wire type: `name: int = wire(UInt())`.  A default
    is only a constructor convenience: the field is still required on the wire."""
    return dataclasses.field(default=default, metadata={"wire": kind})


class Struct:
    """Base for frozen dataclass bodies: a msgpack map with exactly the declared
    fields, keys in declaration order.  Subclasses may add `_check()` for
    cross-field rules (raise BAD_VALUE).

    Construction normalizes the friendly forms (lists to tuples, ints to floats
    in float fields, map keys sorted) so that a built value equals its decoded
    copy; validation happens on encode and decode, not on construction.
    """

    _wire_fields: ClassVar[tuple[tuple[str, Any], ...]]
    _wire_names: ClassVar[tuple[str, ...]]
    _normalized: ClassVar[tuple[tuple[str, Any], ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._wire_fields = ()  # filled in lazily: the dataclass decorator runs after this

    @classmethod
    def wire_fields(cls) -> tuple[tuple[str, Any], ...]:
        if not cls._wire_fields:
            fields = tuple((f.name, f.metadata["wire"]) for f in dataclasses.fields(cls))
            cls._wire_names = tuple(name for name, _ in fields)
            cls._normalized = tuple((n, k.normalize) for n, k in fields if hasattr(k, "normalize"))
            cls._wire_fields = fields
        return cls._wire_fields

    def __post_init__(self) -> None:
        self.wire_fields()
        for name, normalize in self._normalized:
            object.__setattr__(self, name, normalize(getattr(self, name)))

    def _check(self) -> None:
        """Cross-field validation hook."""

    @classmethod
    def load(cls, value: Any) -> Any:
        if type(value) is not dict:
            raise wire_error(WireReason.WRONG_TYPE, f"expected map, got {describe_value(value)}")
        fields = cls.wire_fields()
        if tuple(value) != cls._wire_names:
            names = set(cls._wire_names)
            for key in value:
                if key not in names:
                    shown = key[:40] if type(key) is str else describe_value(key)
                    raise wire_error(WireReason.EXTRA_FIELD, f"unexpected field {shown!r}")
            for name in cls._wire_names:
                if name not in value:
                    raise wire_error(WireReason.MISSING_FIELD, f"missing field {name!r}")
            raise wire_error(WireReason.NON_CANONICAL, "fields out of the declared order")
        # Loaded values are already in normal form, so skip __init__/__post_init__
        # and fill the instance dict directly (frozen only blocks setattr).
        obj = object.__new__(cls)
        slots = obj.__dict__
        for name, kind in fields:
            try:
                slots[name] = kind.load(value[name])
            except ProtocolError as exc:
                raise at(f".{name}", exc) from None
        obj._check()
        return obj

    @classmethod
    def dump(cls, value: Any) -> Any:
        if not isinstance(value, cls):
            raise wire_error(WireReason.WRONG_TYPE, f"expected {cls.__name__}, got {type(value).__name__}")
        out = {}
        for name, kind in cls.wire_fields():
            try:
                out[name] = kind.dump(getattr(value, name))
            except ProtocolError as exc:
                raise at(f".{name}", exc) from None
        return out


@dataclasses.dataclass(frozen=True)
class Nested:
    """A field holding another Struct."""

    struct: type

    def load(self, value: Any) -> Any:
        return self.struct.load(value)

    def dump(self, value: Any) -> Any:
        return self.struct.dump(value)


def load_at(kind: Any, value: Any, path: str) -> Any:
    """kind.load(value) with `path` naming the value in any error."""
    try:
        return kind.load(value)
    except ProtocolError as exc:
        raise at(path, exc) from None


def validated_plain(kind: Any, value: Any, path: str) -> Any:
    """Dump `value` and check it as a decoder would; returns the plain value."""
    try:
        plain = kind.dump(value)
        kind.load(plain)
    except ProtocolError as exc:
        raise at(path, exc) from None
    return plain


@dataclasses.dataclass(frozen=True)
class EnumOf:
    """str on the wire, a member of `enum_type` (by value) in Python."""

    enum_type: type

    def load(self, value: Any) -> Any:
        if type(value) is not str:
            raise wire_error(WireReason.WRONG_TYPE, f"expected str, got {describe_value(value)}")
        try:
            return self.enum_type(value)
        except ValueError:
            raise wire_error(WireReason.BAD_VALUE, f"not one of {[m.value for m in self.enum_type]}") from None

    def dump(self, value: Any) -> Any:
        if not isinstance(value, self.enum_type):
            raise wire_error(WireReason.WRONG_TYPE, f"expected {self.enum_type.__name__}")
        return value.value
