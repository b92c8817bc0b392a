"""The device catalog: the shipped ``catalog.yaml`` plus the user's own device files.

A device file is YAML or JSON in the catalog's schema (:class:`~edgeopt.devices.schema.Device`)
holding one device, a list of devices, or ``{devices: [...]}``. A user device with the name of
a shipped one replaces it (e.g. a Raspberry Pi 4 clocked at 1.8 GHz). Device files are read
like recipes (:mod:`edgeopt.utils.yaml_limits`): safe YAML (no tags that build objects), UTF-8,
at most 1 MiB, no deep nesting or alias bombs; JSON within the same size.

Example:
    >>> pi = get_device("raspberry-pi-4")
    >>> pi.peak_gops.fp32, pi.memory_bandwidth_gbs
    (96.0, 12.8)
    >>> mine = load_catalog(["my_devices.yaml"])  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edgeopt.devices.schema import Device
from edgeopt.errors import EdgeoptError, suggest
from edgeopt.utils.yaml_limits import guarded, load_yaml, read_yaml_text

PathLike = str | os.PathLike[str]
_CATALOG = "catalog.yaml"


def load_catalog(extra_files: Sequence[PathLike] = ()) -> list[Device]:
    """All shipped devices, then those of ``extra_files`` (a same-named device replaces one).

    Raises:
        EdgeoptError: A file is missing, unreadable, or a device in it is invalid (the message
            names the file, the device and the field).
    """
    if isinstance(extra_files, (str, os.PathLike)):  # one path, not a sequence of characters
        extra_files = [extra_files]
    by_name = {d.name: d for d in builtin_devices()}
    for path in extra_files:
        for device in read_device_file(path):
            by_name[device.name] = device
    return list(by_name.values())


def get_device(name: str, extra_files: Sequence[PathLike] = ()) -> Device:
    """The device called ``name`` (shipped or from ``extra_files``).

    Raises:
        EdgeoptError: No such device; the hint names the closest ones.
    """
    devices = {d.name: d for d in load_catalog(extra_files)}
    if name not in devices:
        hint = suggest(name, devices) or "see `edgeopt devices` for the names"
        raise EdgeoptError(f"unknown device {name!r}", hint=hint)
    return devices[name]


@functools.lru_cache(maxsize=1)
def _builtin() -> tuple[Device, ...]:
    text = resources.files("edgeopt.devices").joinpath(_CATALOG).read_text(encoding="utf-8")
    origin = f"edgeopt/devices/{_CATALOG}"
    return tuple(parse_devices(load_yaml(text, origin), origin))


def builtin_devices() -> list[Device]:
    """The devices shipped in ``edgeopt/devices/catalog.yaml`` (parsed once, then cached)."""
    return list(_builtin())


def read_device_file(path: PathLike) -> list[Device]:
    """Read and validate a user's device file (YAML or JSON; one device or a list).

    Raises:
        EdgeoptError: Missing or unparsable file, or an invalid device (names file, device,
            field).
    """
    file = Path(path)
    if not file.exists():
        raise EdgeoptError(f"device file {str(file)!r} not found",
                           hint="give the path of a YAML or JSON device file")
    text = read_yaml_text(file, "device file")  # UTF-8, at most 1 MiB, a file
    return parse_devices(_parse_text(text, file), str(file))


def _parse_text(text: str, file: Path) -> Any:
    source = f"device file {str(file)!r}"
    if file.suffix.lower() != ".json":
        # guarded twice: load_yaml guards composing, this also the building (an unknown tag such as
        # !!python/object/apply fails there, as a ConstructorError)
        return guarded(lambda: load_yaml(text, source), source, text)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:  # also 5,000-digit numbers, 10,000 nested lists
        detail = str(error).replace("\n", " ") if isinstance(error, ValueError) else "nested too deeply"
        raise EdgeoptError(f"{source} is not valid JSON: {detail}",
                           hint="check the syntax near the position named") from None


def parse_devices(data: Any, origin: str) -> list[Device]:
    """Validate already-parsed device data from ``origin`` (used in error messages).

    Example:
        >>> parse_devices([], "inline")
        []
    """
    if isinstance(data, dict) and "devices" in data:
        data = data["devices"]
    entries = [data] if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise EdgeoptError(f"device file {origin!r} holds no device",
                           hint="write one device mapping, a list of them, or {devices: [...]}")
    devices: list[Device] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        device = _validate(entry, origin, index)
        if device.name in seen:
            raise EdgeoptError(f"device file {origin!r}: device {device.name!r} appears twice",
                               hint="give each device a unique name")
        seen.add(device.name)
        devices.append(device)
    return devices


def _validate(entry: Any, origin: str, index: int) -> Device:
    named = isinstance(entry, dict) and entry.get("name")
    label = repr(entry["name"]) if named else f"#{index + 1}"
    if not isinstance(entry, dict):
        raise EdgeoptError(f"device file {origin!r}: device {label} is not a mapping",
                           hint="each device is a mapping of fields (name, category, ...)")
    try:
        return Device.model_validate(entry)
    except ValidationError as error:
        raise EdgeoptError(f"device file {origin!r}: device {label}: {_one_line(error)}",
                           hint="see docs/devices.md for the device schema") from None


def _one_line(error: ValidationError) -> str:
    """The first pydantic error as ``field 'x.y': message`` (+ how many more there are)."""
    errors = error.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field (not in the schema)"
    text = f"field {where!r}: {message}" if where else message
    return text + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")
