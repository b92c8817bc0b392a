"""Check a ``torch.export`` archive (``.pt2``) before torch reads it, so that reading runs nothing.

``torch.export.load`` (torch 2.13) runs code from the file in several ways, each reproduced by
``tests/reliability/test_no_code_from_files.py``:

- pickles: the sample inputs (``data/sample_inputs/model.pt``) are loaded with
  ``weights_only=True`` and, if that fails, *again without it*; weights and constants marked
  ``use_pickle`` (tensor subclasses) and legacy ``data/weights/model.pt`` /
  ``data/constants/model.pt`` files go through ``torch.load(weights_only=False)``; opaque-object
  constants through ``pickle.loads``; custom-object constants through TorchScript's unpickler;
- ``data/aotinductor/``: compiled shared libraries, loaded (so run) as soon as they are found;
- the older archive format, read with the same pickle fallback when the new one fails;
- the program's JSON itself: symbolic shapes (``expr_str``) are parsed by ``sympy.sympify``,
  which passes them to ``eval``; graph names become parameter names of generated Python source
  run with ``exec``; ``guards_code`` strings are run with ``exec`` in the unlifted module's forward;
  string constants are pasted between quotes into that code; and a node's ``target`` may name
  any callable under ``torch.`` (``torch.os.system``) or an ATen op that writes files.

So a program is accepted only if every part of it is data: the archive holds only the members
``torch.export.save`` writes for one model (no AOTInductor, no legacy or old-format files, no
pickled weights or object constants); its one remaining pickle, the sample inputs, names only
tensor rebuild functions and plain containers (:func:`~edgeopt.models.weights.load_torch_bytes`);
and its JSON holds only names, plain strings, and symbolic expressions, guards and operators of
an allowed form. Everything is read through torch's own zip reader, from the same bytes torch
then loads, so what is checked is what torch sees.

Example:
    >>> check_program(Path("model.pt2").read_bytes(), "model.pt2")   # raises EdgeoptError if unsafe
"""

from __future__ import annotations

import ast
import io
import json
import math
import re
import zipfile
from collections.abc import Callable
from typing import Any

import torch

from edgeopt.errors import EdgeoptError
from edgeopt.models.weights import load_torch_bytes, shown

_MODEL = "model"
_FIXED_MEMBERS = frozenset({
    "archive_format", "archive_version", "byteorder", ".data/version", ".data/serialization_id",
    f"models/{_MODEL}.json", f"data/sample_inputs/{_MODEL}.pt",
    f"data/weights/{_MODEL}_weights_config.json", f"data/constants/{_MODEL}_constants_config.json",
})
_WEIGHTS_DIR, _CONSTANTS_DIR, _EXTRA_DIR = "data/weights/", "data/constants/", "extra/"
_TENSOR_CONSTANT_PREFIX = "tensor_"
_KNOWN_UNSAFE = (("data/aotinductor/", "an AOTInductor compiled library (native code)"),
                 ("data/executorch/", "ExecuTorch files"),
                 ("data/mtia/", "MTIA files"),
                 ("models/", "a second program"),
                 (_WEIGHTS_DIR, "a weights file its config does not list (a legacy pickle?)"),
                 (_CONSTANTS_DIR, "a constants file its config does not list (a legacy pickle?)"))

_ASCII = re.ASCII
_NAME = re.compile(r"[\w.\-]*", _ASCII)  # graph, parameter and type names (ModuleDict keys may hold "-")
_PLAIN = re.compile(r"[ !#-&(-\[\]-~]*")  # printable ASCII but quotes and backslash: inert between quotes
_META = re.compile(r"[\w.,;:<>\- ]*", _ASCII)  # nn_module_stack, torch_fn
_VERSION = re.compile(r"[\w.+\-]*", _ASCII)
_TEXT = re.compile(r"[^\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]*")  # stack traces: no control characters
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*", _ASCII)  # no leading underscore: no dunders
_MAX_EXPR = 2000

# --- operators a graph node may call -------------------------------------------------------------

_OP_NAMESPACES = frozenset({"aten", "prims", "quantized_decomposed", "quantized", "_quantized", "torchao",
                            "onednn", "mkldnn"})
_REFUSED_OPS = frozenset({"aten.save", "aten.from_file"})  # the ATen ops that write or map files
_HIGHER_ORDER = frozenset({"cond", "while_loop", "map_impl", "scan", "associative_scan", "invoke_subgraph",
                           "wrap_with_set_grad_enabled", "wrap_with_autocast", "auto_functionalized",
                           "auto_functionalized_v2", "with_effects"})
_OPERATORS = frozenset({"getitem", "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos",
                        "abs", "eq", "ne", "lt", "le", "gt", "ge", "and_", "or_", "xor", "not_", "invert",
                        "lshift", "rshift"})
_MATH = frozenset(n for n in dir(math) if not n.startswith("_") and callable(getattr(math, n)))
_OP_TARGET = re.compile(r"torch\.ops\.([A-Za-z_]\w*)\.([A-Za-z]\w*)(?:\.([A-Za-z]\w*))?", _ASCII)
_SYM_TARGET = re.compile(r"torch\._?sym_[a-z_]+", _ASCII)

# --- symbolic expressions (sympy) and guards ----------------------------------------------------

_SYMPY_CALLS = frozenset({
    "Symbol", "Integer", "Float", "Rational", "Add", "Mul", "Pow", "Mod", "Max", "Min", "Abs", "floor",
    "ceiling", "sign", "sqrt", "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "Equality", "Unequality", "LessThan",
    "GreaterThan", "StrictLessThan", "StrictGreaterThan", "And", "Or", "Not", "Xor", "Piecewise",
    "ExprCondPair", "ITE",
    # torch.utils._sympy.functions (torch 2.13), the shape functions torch's deserializer knows
    "FloorDiv", "ModularIndexing", "Where", "PythonMod", "CleanDiv", "CeilToInt", "FloorToInt", "CeilDiv",
    "LShift", "RShift", "PowByNatural", "FloatPow", "FloatTrueDiv", "IntTrueDiv",
    "IsNonOverlappingAndDenseIndicator", "TruncToFloat", "TruncToInt", "RoundToInt", "RoundDecimal", "ToFloat",
    "Identity",
})
_SYMPY_FAMILIES = re.compile(r"(OpaqueUnaryFn|BitwiseFn)_[a-z0-9_]+", _ASCII)
_SYMPY_ASSUMPTIONS = frozenset({"integer", "positive", "negative", "nonnegative", "nonpositive", "real",
                                "finite", "zero", "nonzero", "even", "odd", "rational", "commutative"})
_POWERS = frozenset({"Pow", "PowByNatural", "FloatPow"})
_MAX_POWERS, _MAX_EXPONENT = 3, 64  # keeps 9**9**9-style expressions from eating the machine
_GUARD_METHODS = frozenset({"size", "stride", "storage_offset", "dim", "numel", "item"})
_GUARD_CALLS = frozenset({"IsNonOverlappingAndDenseIndicator", "cast_symbool_to_symint_guardless"})
_GUARD_CONSTANTS = frozenset({"inf", "nan", "pi", "e", "tau"})
_EXPR_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call, ast.Name,
               ast.Constant, ast.Load, ast.keyword, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)


class _Unsafe(Exception):
    """What makes a program unsafe, in a few words (turned into one EdgeoptError)."""


def check_program(data: bytes, name: str) -> None:
    """Raise unless the ``.pt2`` archive ``data`` is pure data (see the module docstring).

    Args:
        data: The archive's bytes: pass torch the same bytes afterwards.
        name: The program's file name, for messages.

    Raises:
        EdgeoptError: One line naming what was refused and saying edgeopt will not load it, or
            saying the file is not a readable archive.
    """
    shown_name = shown(name)
    try:
        reader = torch._C.PyTorchFileReader(io.BytesIO(data))
        records = [str(r) for r in reader.get_all_records()]
    except Exception as err:  # not a zip torch can open: torch.export.load would fail the same way
        raise EdgeoptError(
            f"{shown_name!r} is not a readable torch.export program: {type(err).__name__}",
            hint="save it with torch.export.save(torch.export.export(model, args), path)",
        ) from None

    def read(record: str) -> bytes:
        return bytes(reader.get_record(record))

    try:
        _check_archive(data, records, read, shown_name)
    except _Unsafe as unsafe:
        raise EdgeoptError(f"program {shown_name!r} {unsafe}; edgeopt will not load it") from None


def _check_archive(data: bytes, records: list[str], read: Callable[[str], bytes], name: str) -> None:
    lowered = [r.lower() for r in records]
    if len(set(lowered)) != len(lowered):  # torch's reader looks names up ignoring case
        raise _Unsafe("has two members with the same name")
    _check_python_zip_view(data, set(records))
    present = set(records)
    if not {f"models/{_MODEL}.json", "archive_format"} <= present or read("archive_format") != b"pt2":
        raise _Unsafe("is not in the archive format torch.export.save writes (an older format?)")
    weights = _payload_files(read, present, f"{_WEIGHTS_DIR}{_MODEL}_weights_config.json", "weight")
    constants = _payload_files(read, present, f"{_CONSTANTS_DIR}{_MODEL}_constants_config.json", "constant")
    referenced = {_WEIGHTS_DIR + p for p in weights} | {_CONSTANTS_DIR + p for p in constants}
    for record in records:
        if record in _FIXED_MEMBERS or record in referenced:
            continue
        if record.startswith(_EXTRA_DIR) and re.fullmatch(r"[\w.\-]+", record[len(_EXTRA_DIR):], _ASCII):
            continue  # extra files are read as text and handed back, never run
        what = next((label for prefix, label in _KNOWN_UNSAFE if record.startswith(prefix)), "a member")
        raise _Unsafe(f"holds {what} {shown(record)!r}, which edgeopt does not read")
    program = _json(read(f"models/{_MODEL}.json"), f"models/{_MODEL}.json")
    _walk(program, None, f"models/{_MODEL}.json")
    sample = f"data/sample_inputs/{_MODEL}.pt"
    if sample in present:  # an EdgeoptError from here names the global and says it is refused
        load_torch_bytes(read(sample), f"program {name!r}: its sample inputs ({sample})")


def _check_python_zip_view(data: bytes, records: set[str]) -> None:
    """torch.export.load falls back to Python's zipfile for old archives: it must see the same members."""
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _Unsafe("is a zip that Python and torch read differently") from None
    inside = {n.split("/", 1)[1] for n in names if "/" in n}
    if any("/" not in n for n in names) or inside != records or len(names) != len(records):
        raise _Unsafe("is a zip that Python and torch read differently")


def _payload_files(read: Callable[[str], bytes], present: set[str], config: str, kind: str) -> set[str]:
    """The files a weights/constants config lists; refuse pickled entries and object constants."""
    if config not in present:
        return set()
    parsed = _json(read(config), config)
    _walk(parsed, None, config)
    entries = parsed.get("config") if isinstance(parsed, dict) else None
    if not isinstance(entries, dict):
        raise _Unsafe(f"has a malformed {config}")
    files = set()
    for fqn, meta in entries.items():
        if not isinstance(meta, dict) or not isinstance(meta.get("path_name"), str):
            raise _Unsafe(f"has a malformed {config}")
        path = meta["path_name"]
        if meta.get("use_pickle"):
            raise _Unsafe(f"stores {kind} {shown(fqn)!r} as a pickle (a tensor subclass)")
        if kind == "constant" and not path.startswith(_TENSOR_CONSTANT_PREFIX):
            raise _Unsafe(f"stores constant {shown(fqn)!r} as a pickled object ({shown(path)!r})")
        if not re.fullmatch(r"\w+", path, _ASCII):
            raise _Unsafe(f"names a {kind} file {shown(path)!r}")
        files.add(path)
    return files


def _json(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise _Unsafe(f"has malformed JSON in {where} ({type(err).__name__})") from None


# --- the JSON walk -------------------------------------------------------------------------------


def _walk(value: Any, key: str | None, where: str) -> None:
    """Check every string of a program's JSON by the key it sits under (see ``_STRING_RULES``)."""
    try:
        _walk_inner(value, key, where)
    except RecursionError:
        raise _Unsafe(f"nests {where} too deeply") from None


def _walk_inner(value: Any, key: str | None, where: str) -> None:
    if isinstance(value, dict):
        check_key = _check_sympy if key == "range_constraints" else _check_plain if key in _PLAIN_KEYS else _check_name
        for child_key, child in value.items():
            check_key(child_key, f"a key in {key or where}")
            _walk_inner(child, child_key, where)
    elif isinstance(value, list):
        for item in value:
            _walk_inner(item, key, where)
    elif isinstance(value, str):
        _STRING_RULES.get(key or "", _check_name)(value, key or where)


def _refuse(text: str, where: str, what: str = "code-like text") -> _Unsafe:
    return _Unsafe(f"has {what} in {shown(where, 40)} ({shown(text, 60)!r})")


def _check_name(text: str, where: str) -> None:
    if not _NAME.fullmatch(text):
        raise _refuse(text, where, "a name that is not a plain name")


def _check_plain(text: str, where: str) -> None:
    if not _PLAIN.fullmatch(text):
        raise _refuse(text, where, "a string with quotes, backslashes or control characters")


def _matcher(pattern: re.Pattern[str]) -> Callable[[str, str], None]:
    def check(text: str, where: str) -> None:
        if not pattern.fullmatch(text):
            raise _refuse(text, where, "unexpected characters")
    return check


def _check_json_text(text: str, where: str) -> None:
    """A JSON document inside a string (custom metadata): every string in it must be plain."""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        raise _refuse(text, where, "malformed JSON") from None
    _check_plain_tree(parsed, where)


def _check_plain_tree(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _check_plain(k, where)
            _check_plain_tree(v, where)
    elif isinstance(value, list):
        for v in value:
            _check_plain_tree(v, where)
    elif isinstance(value, str):
        _check_plain(value, where)


def _check_treespec(text: str, where: str) -> None:
    """A pytree spec (JSON in a string): type names are names; contexts (dict keys) are plain."""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        raise _refuse(text, where, "a malformed input/output spec") from None
    _check_spec_tree(parsed, where)


def _check_spec_tree(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _check_name(k, where)
            if k == "context" and isinstance(v, str):
                _check_json_text(v, where)
            elif k == "type" and isinstance(v, str):
                _check_name(v, where)
            else:
                _check_spec_tree(v, where)
    elif isinstance(value, list):
        for v in value:
            _check_spec_tree(v, where)
    elif isinstance(value, str):
        _check_plain(value, where)


def _check_target(text: str, where: str) -> None:
    """A node's operator: an allowed ATen-like op, higher-order op, or arithmetic on sizes."""
    if not _allowed_target(text):
        raise _refuse(text, where, "an operator edgeopt does not run")


def _allowed_target(text: str) -> bool:
    op = _OP_TARGET.fullmatch(text)
    if op:
        namespace, name = op.group(1), op.group(2)
        if namespace == "higher_order":
            return name in _HIGHER_ORDER and op.group(3) is None
        return namespace in _OP_NAMESPACES and f"{namespace}.{name}" not in _REFUSED_OPS
    module, _, name = text.partition(".")
    if module == "_operator":
        return name in _OPERATORS
    if module == "math":
        return name in _MATH
    return _SYM_TARGET.fullmatch(text) is not None


def _parse(text: str, where: str, what: str) -> ast.Expression:
    if len(text) > _MAX_EXPR:
        raise _refuse(text, where, f"a {what} longer than {_MAX_EXPR} characters")
    try:
        return ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _refuse(text, where, f"a malformed {what}") from None


def _check_sympy(text: str, where: str) -> None:
    """A symbolic expression as torch prints it (``s0 + 1``, ``Mul(Integer(2), Symbol('s0', ...))``).

    sympy passes these to ``eval``, so only arithmetic, comparisons, numbers, names and calls of sympy's
    and torch's symbolic functions pass; string constants only as a ``Symbol`` name.
    """
    tree = _parse(text, where, "symbolic expression")
    powers = 0
    for node in ast.walk(tree):
        if not isinstance(node, _EXPR_NODES):
            raise _refuse(text, where, "a symbolic expression that is not plain arithmetic")
        if isinstance(node, ast.Name) and not _IDENT.fullmatch(node.id):
            raise _refuse(text, where, "a symbolic expression with a private name")
        elif isinstance(node, ast.Constant):
            _check_sympy_constant(node, text, where)
        elif isinstance(node, ast.Call):
            func = node.func
            if not (isinstance(func, ast.Name) and (func.id in _SYMPY_CALLS or _SYMPY_FAMILIES.fullmatch(func.id))):
                raise _refuse(text, where, "a symbolic expression calling a function edgeopt does not allow")
            for kw in node.keywords:
                if kw.arg not in _SYMPY_ASSUMPTIONS or not isinstance(kw.value, ast.Constant) or \
                        not isinstance(kw.value.value, bool):
                    raise _refuse(text, where, "a symbolic expression with unexpected options")
            if func.id in _POWERS:
                powers += 1
                if len(node.args) != 2 or not _small_exponent(node.args[1]):
                    raise _refuse(text, where, "a symbolic power with a large exponent")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            powers += 1
            if not _small_exponent(node.right):
                raise _refuse(text, where, "a symbolic power with a large exponent")
    if powers > _MAX_POWERS:
        raise _refuse(text, where, "a symbolic expression with too many powers")


def _check_sympy_constant(node: ast.Constant, text: str, where: str) -> None:
    value = node.value
    if isinstance(value, str):
        if not _IDENT.fullmatch(value):
            raise _refuse(text, where, "a symbolic expression with a string constant")
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 1 << 64:
            raise _refuse(text, where, "a symbolic expression with a huge number")
    elif not isinstance(value, (bool, float)):
        raise _refuse(text, where, "a symbolic expression with an unexpected constant")


def _small_exponent(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("Integer", "Rational") \
            and node.args:
        return all(_small_exponent(a) for a in node.args)
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int) and abs(node.value) <= _MAX_EXPONENT
    return isinstance(node, ast.Name) or (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                                          and node.func.id == "Symbol")


def _check_guard(text: str, where: str) -> None:
    """A guard torch runs with ``exec`` in the loaded module (``L['x'].size()[0] <= 64``).

    Only comparisons and arithmetic on the inputs' sizes, strides and plain values pass: names
    are ``L`` (the inputs), ``math`` and ``torch`` only as in ``math.floor(...)`` or
    ``torch.sym_max(...)``; string constants are plain (they become quoted text).
    """
    tree = _parse(text, where, "guard")
    allowed = (*_EXPR_NODES, ast.Subscript, ast.Attribute)
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise _refuse(text, where, "a guard that is not a comparison of input sizes")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                _check_plain(node.value, where)
                if not _NAME.fullmatch(node.value.replace(" ", "_").replace("-", "_")):
                    raise _refuse(text, where, "a guard with an unexpected string")
            elif not isinstance(node.value, (int, float, bool)):
                raise _refuse(text, where, "a guard with an unexpected constant")
        elif isinstance(node, ast.Name):
            if node.id not in ("L", "math", "torch", *_GUARD_CALLS):
                raise _refuse(text, where, "a guard naming something other than the inputs")
        elif isinstance(node, ast.Attribute):
            if not _guard_attribute(node):
                raise _refuse(text, where, "a guard using an attribute edgeopt does not allow")
        elif isinstance(node, ast.Call) and (node.keywords or not _guard_call(node.func)):
            raise _refuse(text, where, "a guard calling a function edgeopt does not allow")


def _guard_attribute(node: ast.Attribute) -> bool:
    base = node.value
    if isinstance(base, ast.Name) and base.id == "math":
        return node.attr in _MATH or node.attr in _GUARD_CONSTANTS
    if isinstance(base, ast.Name) and base.id == "torch":
        return _SYM_TARGET.fullmatch(f"torch.{node.attr}") is not None
    if node.attr in _GUARD_METHODS:
        return _rooted_at_inputs(base)
    return _IDENT.fullmatch(node.attr) is not None and _rooted_at_inputs(base)  # a dataclass input's field


def _rooted_at_inputs(node: ast.expr) -> bool:
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return isinstance(node, ast.Name) and node.id == "L"


def _guard_call(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in _GUARD_CALLS
    if isinstance(func, ast.Attribute):
        base = func.value
        if isinstance(base, ast.Name) and base.id in ("math", "torch"):
            return _guard_attribute(func) and func.attr not in _GUARD_CONSTANTS
        return func.attr in _GUARD_METHODS and _rooted_at_inputs(base)
    return False


_STRING_RULES: dict[str, Callable[[str, str], None]] = {
    "expr_str": _check_sympy,
    "guards_code": _check_guard,
    "target": _check_target,
    "as_operator": _check_target,
    "in_spec": _check_treespec,
    "out_spec": _check_treespec,
    "custom": _check_json_text,
    "from_node": _check_json_text,
    "as_string": _check_plain,
    "as_strings": _check_plain,
    "stack_trace": _matcher(_TEXT),
    "nn_module_stack": _matcher(_META),
    "torch_fn": _matcher(_META),
    "source_fn_stack": _matcher(_META),
    "torch_version": _matcher(_VERSION),
}
_PLAIN_KEYS = frozenset({"as_string_to_argument"})  # dicts keyed by user strings

__all__ = ["check_program"]
