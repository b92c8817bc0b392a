"""Loading never executes code from a file (issue 11): one hostile file per format edgeopt reads.

Every hostile file carries a payload that would create a marker file if anything in it ever ran
(a pickle whose ``__reduce__`` opens the marker for writing, a YAML tag calling ``os.system``, a
string torch would ``eval``...). Each test feeds it to the real loader, or through the CLI, and
checks two things: a one-line :class:`EdgeoptError` (CLI: exit 2, one ``error:`` line) and no
marker. Legit files of every format load in the tests of their own modules.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import json
import os
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from edgeopt.checkpoint import FORMAT, VERSION, load_checkpoint, save_checkpoint
from edgeopt.cli import main
from edgeopt.data import load_dataset
from edgeopt.devices.catalog import read_device_file
from edgeopt.errors import EdgeoptError
from edgeopt.lineage import Lineage
from edgeopt.loading import load_model, open_model
from edgeopt.models.root import ModelRoot, load_program
from edgeopt.models.weights import read_state_dict
from edgeopt.pipeline.recipe import load_recipe
from edgeopt.report.store import load_results

# --- payloads ------------------------------------------------------------------------------------


class OpensMarker:
    """Unpickling this opens the marker for writing (creating it): ``(open, (marker, "w"))``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class ExecsMarker:
    """Unpickling this runs Python source that creates the marker: ``builtins.exec``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.exec, (f"open({self.marker!r}, 'w').close()",))


def _torch_bytes(obj, **kwargs) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def _one_line_refusal(err: pytest.ExceptionInfo[EdgeoptError], *words: str) -> str:
    message = str(err.value)
    assert "\n" not in message and "\x1b" not in message, message
    assert "weights_only=False" not in message and "allow_pickle" not in message, message
    for word in words:
        assert word in message, message
    return message


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "a payload ran"


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """The real entry point in-process: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["edgeopt", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _cli_refuses(run_cli, *args: str) -> str:
    code, _, err = run_cli(*args)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1, err
    assert "Traceback" not in err and "\x1b" not in errors[0], err
    return errors[0]


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))


# --- .pt checkpoints and bare weights -----------------------------------------------------------


def _hostile_checkpoint(path: Path, payload) -> Path:
    state = tiny().state_dict()
    torch.save({"format": FORMAT, "version": VERSION, "state_dict": state, "lineage": None,
                "metadata": {"note": payload}}, path)
    return path


@pytest.mark.parametrize("payload", [OpensMarker, ExecsMarker])
def test_pt_checkpoint_with_a_pickled_payload_is_refused(tmp_path, marker, payload):
    path = _hostile_checkpoint(tmp_path / "evil.pt", payload(marker))
    with pytest.raises(EdgeoptError) as err:
        load_checkpoint(path, model=tiny())
    _one_line_refusal(err, "not plain data", "edgeopt will not load it")


def test_pt_checkpoint_refusal_names_the_global(tmp_path, marker):
    path = _hostile_checkpoint(tmp_path / "evil.pt", OpensMarker(marker))
    with pytest.raises(EdgeoptError) as err:
        load_checkpoint(path, model=tiny())
    assert str(err.value).endswith("(it refers to 'io.open'); edgeopt will not load it")


def test_pt_checkpoint_through_the_cli(tmp_path, marker, run_cli):
    path = _hostile_checkpoint(tmp_path / "evil.pt", OpensMarker(marker))
    line = _cli_refuses(run_cli, "profile", str(path), "-i", "1,8,8")
    assert "io.open" in line and "will not load it" in line


def test_pt_checkpoint_with_protocol_4_stack_globals_is_refused(tmp_path, marker):
    path = tmp_path / "evil.pt"
    path.write_bytes(_torch_bytes({"format": FORMAT, "x": OpensMarker(marker)}, pickle_protocol=4))
    with pytest.raises(EdgeoptError) as err:
        load_checkpoint(path, model=tiny())
    _one_line_refusal(err, "io.open")


def test_pre_zip_torch_format_is_refused(tmp_path, marker):
    path = tmp_path / "old.pt"
    torch.save({"format": FORMAT, "x": OpensMarker(marker)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(EdgeoptError) as err:
        load_checkpoint(path, model=tiny())
    _one_line_refusal(err, "pre-1.6 format")


def test_torchscript_archive_is_refused(tmp_path, marker):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(tiny()), str(path))
    for load in (lambda: load_checkpoint(path, model=tiny()), lambda: read_state_dict(path)):
        with pytest.raises(EdgeoptError) as err:
            load()
        _one_line_refusal(err, "TorchScript archive, which runs code")


def test_pt_checkpoint_whose_data_pkl_was_swapped_is_refused(tmp_path, marker):
    """A pickle written by hand into a valid torch zip (no torch.save): the check reads what torch reads."""
    path = tmp_path / "evil.pt"
    legit = _torch_bytes({"format": FORMAT})
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(legit)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = pickle.dumps(OpensMarker(marker), protocol=2) if info.filename.endswith("data.pkl") \
                else src.read(info)
            dst.writestr(info.filename, data)
    path.write_bytes(out.getvalue())
    with pytest.raises(EdgeoptError) as err:
        load_checkpoint(path, model=tiny())
    _one_line_refusal(err, "io.open")


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_bare_weights_with_a_pickled_payload_are_refused(tmp_path, marker, suffix):
    path = tmp_path / f"w{suffix}"
    torch.save({"0.weight": torch.zeros(2, 1, 3, 3), "hook": OpensMarker(marker)}, path)
    with pytest.raises(EdgeoptError) as err:
        load_model("simple_cnn", weights=path)
    message = _one_line_refusal(err, "weights file", "io.open", "edgeopt will not load it")
    assert err.value.hint is None and "trust" not in message


def test_bare_weights_refusal_carries_no_terminal_escapes(tmp_path, marker):
    """A global named with escape codes: the error shows '?' where the codes were."""
    evil = b"\x80\x02cposix\x1b[2J\x1b]0;owned\x07\nsystem\nX\x05\x00\x00\x00touchq\x00\x85R."
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_torch_bytes({})), "r") as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, evil if info.filename.endswith("data.pkl") else src.read(info))
    path = tmp_path / "w.pt"
    path.write_bytes(out.getvalue())
    with pytest.raises(EdgeoptError) as err:
        read_state_dict(path)
    message = _one_line_refusal(err, "posix?[2J?]0;owned?.system")
    assert "\x07" not in message


def test_bare_weights_through_the_cli(tmp_path, marker, run_cli):
    path = tmp_path / "w.pt"
    torch.save({"w": OpensMarker(marker)}, path)
    line = _cli_refuses(run_cli, "profile", "simple_cnn", "-i", "1,28,28", "-w", str(path))
    assert "io.open" in line


def test_weights_with_escape_codes_in_their_keys_give_a_clean_error(tmp_path, marker):
    path = tmp_path / "w.pt"
    torch.save({"\x1b[2Jweight": torch.zeros(1), "\x1b]0;owned\x07bias": torch.zeros(1)}, path)
    with pytest.raises(EdgeoptError) as err:
        load_model("simple_cnn", weights=path)
    _one_line_refusal(err, "unexpected keys ?[2Jweight, ?]0;owned?bias")


def test_version_1_checkpoint_naming_os_system_does_not_run_it(tmp_path, marker):
    """Format 1 named its model in the header: a module:factory there is imported only with trust."""
    path = tmp_path / "old.pt"
    torch.save({"format": FORMAT, "version": 1, "state_dict": {}, "model_name": "os:system",
                "model_kwargs": {"command": f"touch {marker}"}, "metadata": {}}, path)
    with pytest.raises(EdgeoptError) as err:
        load_checkpoint(path)
    _one_line_refusal(err, "'os:system'", "only when you allow it")


# --- .safetensors checkpoints -------------------------------------------------------------------


def test_safetensors_checkpoint_naming_os_system_does_not_run_it(tmp_path, marker):
    """safetensors hold no pickles; the one way a header could run code is a factory root."""
    from safetensors.torch import save_file

    lineage = {"root": {"kind": "factory", "source": "os:system", "kwargs": {"command": f"touch {marker}"}},
               "steps": [], "input_size": None}
    strings = {"format": FORMAT, "version": str(VERSION), "lineage": json.dumps(lineage),
               "metadata": "{}", "edgeopt_version": '"0"'}
    path = tmp_path / "evil.safetensors"
    save_file({"w": torch.zeros(1)}, str(path), metadata=strings)
    with pytest.raises(EdgeoptError) as err:
        load_checkpoint(path)
    _one_line_refusal(err, "'os:system'", "edgeopt imports a module only when you allow it")


def test_safetensors_header_with_a_json_bomb_is_one_line(tmp_path, marker):
    from safetensors.torch import save_file

    path = tmp_path / "deep.safetensors"
    save_file({"w": torch.zeros(1)}, str(path),
              metadata={"format": FORMAT, "version": "2", "metadata": "[" * 100_000, "lineage": "null"})
    with pytest.raises(EdgeoptError) as err:
        load_checkpoint(path, model=nn.Linear(1, 1))
    _one_line_refusal(err, "corrupt metadata header")


# --- .pt2 programs ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def program_members(tmp_path_factory) -> dict[str, bytes]:
    """A legit program's archive members (without the root folder)."""

    class WithConstant(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = tiny()

        def forward(self, x):
            return self.net(x) + torch.tensor([1.0, 2.0, 3.0])

    path = tmp_path_factory.mktemp("program") / "legit.pt2"
    torch.export.save(torch.export.export(WithConstant().eval(), (torch.randn(1, 1, 8, 8),)), str(path))
    with zipfile.ZipFile(path) as archive:
        return {n.split("/", 1)[1]: archive.read(n) for n in archive.namelist()}


def _archive(members: dict[str, bytes], root: str = "evil") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(f"{root}/{name}" if root else name, data)
    return out.getvalue()


def _edit_json(members: dict[str, bytes], name: str, edit) -> dict[str, bytes]:
    data = json.loads(members[name])
    edit(data)
    return {**members, name: json.dumps(data).encode()}


def _sample_inputs(m, marker):
    return {**m, "data/sample_inputs/model.pt": _torch_bytes(((OpensMarker(marker),), {}))}


def _pickled_weight(m, marker):
    def mark(cfg):
        cfg["config"]["net.0.bias"]["use_pickle"] = True
    edited = _edit_json(m, "data/weights/model_weights_config.json", mark)
    path = json.loads(m["data/weights/model_weights_config.json"])["config"]["net.0.bias"]["path_name"]
    return {**edited, f"data/weights/{path}": _torch_bytes(OpensMarker(marker))}


def _pickled_constant(m, marker):
    def mark(cfg):
        cfg["config"]["lifted_tensor_0"]["use_pickle"] = True
    return {**_edit_json(m, "data/constants/model_constants_config.json", mark),
            "data/constants/tensor_0": _torch_bytes(OpensMarker(marker))}


def _opaque_constant(m, marker):
    def mark(cfg):
        cfg["config"]["lifted_tensor_0"].update(path_name="opaque_obj_0", tensor_meta=None)
    return {**_edit_json(m, "data/constants/model_constants_config.json", mark),
            "data/constants/opaque_obj_0": pickle.dumps(OpensMarker(marker))}


def _legacy_weights(m, marker):
    return {**m, "data/weights/model.pt": _torch_bytes({"net.0.weight": OpensMarker(marker)})}


def _aotinductor(m, marker):
    return {**m, "data/aotinductor/model/model.so": b"\x7fELF" + b"\0" * 60}


def _sympy_eval(m, marker):
    expr = {"as_expr": {"expr_str": f"__import__('builtins').open({str(marker)!r}, 'w') and 1",
                        "hint": {"as_int": 1}}}

    def edit(program):
        meta = next(iter(program["graph_module"]["graph"]["tensor_values"].values()))
        meta["sizes"][0] = expr
    return _edit_json(m, "models/model.json", edit)


def _placeholder_default(m, marker):
    text = m["models/model.json"].decode().replace('"x"', json.dumps(f"x=open({str(marker)!r}, 'w')"))
    return {**m, "models/model.json": text.encode()}


def _guard_code(m, marker):
    def edit(program):
        program["guards_code"] = [f"__import__('builtins').open({str(marker)!r}, 'w') is None"]
    return _edit_json(m, "models/model.json", edit)


def _guard_string(m, marker):
    def edit(program):  # a plain comparison whose string breaks out of the quotes torch pastes it into
        program["guards_code"] = [f"L['x'] == 'a\" + str(open(\"{marker}\", \"w\")) + \"'"]
    return _edit_json(m, "models/model.json", edit)


def _os_system_target(m, marker):
    text = m["models/model.json"].decode().replace('"torch.ops.aten.relu.default"', '"torch.os.system"', 1)
    return {**m, "models/model.json": text.encode()}


def _aten_save_target(m, marker):
    text = m["models/model.json"].decode().replace('"torch.ops.aten.relu.default"', '"torch.ops.aten.save.default"', 1)
    return {**m, "models/model.json": text.encode()}


PROGRAM_ATTACKS = {
    "sample-inputs-pickle": (_sample_inputs, "its sample inputs"),
    "pickled-weight": (_pickled_weight, "as a pickle"),
    "pickled-constant": (_pickled_constant, "as a pickle"),
    "opaque-object-constant": (_opaque_constant, "as a pickled object"),
    "legacy-weights-pickle": (_legacy_weights, "'data/weights/model.pt'"),
    "aotinductor-library": (_aotinductor, "AOTInductor compiled library"),
    "sympy-eval": (_sympy_eval, "symbolic expression"),
    "placeholder-default-argument": (_placeholder_default, "not a plain name"),
    "guard-code": (_guard_code, "guard"),
    "guard-string-breakout": (_guard_string, "a string with quotes"),
    "os-system-target": (_os_system_target, "'torch.os.system'"),
    "aten-save-target": (_aten_save_target, "'torch.ops.aten.save.default'"),
}


@pytest.mark.parametrize("attack", sorted(PROGRAM_ATTACKS))
def test_hostile_pt2_program_is_refused(tmp_path, marker, program_members, attack):
    build, words = PROGRAM_ATTACKS[attack]
    path = tmp_path / "evil.pt2"
    path.write_bytes(_archive(build(program_members, marker)))
    with pytest.raises(EdgeoptError) as err:
        load_model(str(path))
    _one_line_refusal(err, "evil.pt2", words, "edgeopt will not load it")


# What plain torch 2.13 does with them: these run the payload (so the refusals above matter).
LIVE_IN_TORCH = ["guard-code", "guard-string-breakout", "legacy-weights-pickle", "pickled-constant",
                 "pickled-weight", "placeholder-default-argument", "sample-inputs-pickle", "sympy-eval"]


@pytest.mark.slow
@pytest.mark.parametrize("attack", LIVE_IN_TORCH)
def test_the_attacks_run_under_plain_torch_export_load(tmp_path, program_members, attack):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pt2"
    path.write_bytes(_archive(PROGRAM_ATTACKS[attack][0](program_members, marker)))
    with contextlib.suppress(Exception):  # most break the program after their payload has run
        torch.export.load(str(path)).module()(torch.randn(1, 1, 8, 8))
    assert marker.exists(), f"{attack} no longer runs in torch {torch.__version__}: update the docs"


def test_the_legit_program_these_are_made_from_loads(tmp_path, program_members):
    path = tmp_path / "legit.pt2"
    path.write_bytes(_archive(program_members))
    model = load_model(str(path))
    assert model(torch.randn(1, 1, 8, 8)).shape == (1, 3)


def test_old_pt2_format_is_refused(tmp_path, marker, program_members):
    """torch.export.load reads the pre-2.8 layout (no root folder) with weights_only=False fallbacks."""
    from torch._export.serde.schema import SCHEMA_VERSION

    old = {"version": ".".join(map(str, SCHEMA_VERSION)).encode(),
           "serialized_exported_program.json": program_members["models/model.json"],
           "serialized_state_dict.pt": _torch_bytes({"w": OpensMarker(marker)}),
           "serialized_constants.pt": _torch_bytes({}),
           "serialized_example_inputs.pt": _torch_bytes(((), {}))}
    path = tmp_path / "old.pt2"
    path.write_bytes(_archive(old, root=""))
    with pytest.raises(EdgeoptError) as err:
        load_model(str(path))
    _one_line_refusal(err, "old.pt2")
    path.write_bytes(_archive(old))  # with a root folder: torch's reader opens it, edgeopt refuses it
    with pytest.raises(EdgeoptError) as err:
        load_model(str(path))
    _one_line_refusal(err, "older format", "edgeopt will not load it")


def test_zip_read_differently_by_python_and_torch_is_refused(tmp_path, marker, program_members):
    """Two members whose names differ in case: torch's reader finds one, Python's zipfile the other."""
    members = dict(program_members)
    path = tmp_path / "twins.pt2"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(f"twins/{name}", data)
        archive.writestr("twins/DATA/SAMPLE_INPUTS/MODEL.PT", _torch_bytes(((OpensMarker(marker),), {})))
    path.write_bytes(out.getvalue())
    with pytest.raises(EdgeoptError) as err:
        load_model(str(path))
    _one_line_refusal(err, "two members with the same name")


@pytest.mark.parametrize("command", ["profile", "bench"])
def test_hostile_pt2_through_the_cli(tmp_path, marker, program_members, run_cli, command):
    path = tmp_path / "evil.pt2"
    path.write_bytes(_archive(_sample_inputs(program_members, marker)))
    extra = ["-i", "1,8,8"] + (["-n", "1", "--warmup", "0"] if command == "bench" else [])
    line = _cli_refuses(run_cli, command, str(path), *extra)
    assert "io.open" in line and "will not load it" in line


# --- checkpoints embedding a program root -------------------------------------------------------


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("attack", ["sample-inputs-pickle", "sympy-eval", "guard-code"])
def test_checkpoint_embedding_a_hostile_program_is_refused(tmp_path, marker, program_members, suffix, attack):
    build, _ = PROGRAM_ATTACKS[attack]
    hostile = _archive(build(program_members, marker))
    root = ModelRoot(kind="program", source="evil.pt2", program=hostile,
                     program_sha256=hashlib.sha256(hostile).hexdigest())
    path = save_checkpoint(tmp_path / f"m{suffix}", nn.Linear(1, 1), Lineage(root=root))
    with pytest.raises(EdgeoptError) as err:
        load_checkpoint(path)
    _one_line_refusal(err, f"checkpoint {path}", "edgeopt will not load it")
    with pytest.raises(EdgeoptError):
        open_model(str(path))


def test_checkpoint_embedding_a_program_through_the_cli(tmp_path, marker, program_members, run_cli):
    hostile = _archive(_placeholder_default(program_members, marker))
    root = ModelRoot(kind="program", source="evil.pt2", program=hostile)
    path = save_checkpoint(tmp_path / "m.pt", nn.Linear(1, 1), Lineage(root=root))
    line = _cli_refuses(run_cli, "profile", str(path), "-i", "1,8,8")
    assert "not a plain name" in line


def test_program_name_from_a_checkpoint_is_shown_without_escapes(program_members, marker):
    hostile = _archive(_sample_inputs(program_members, marker))
    with pytest.raises(EdgeoptError) as err:
        load_program(io.BytesIO(hostile), "evil\x1b[2J.pt2")
    _one_line_refusal(err, "evil?[2J.pt2")


# --- data: .npz, CIFAR batches, image folders ---------------------------------------------------


def test_npz_with_a_pickled_object_array_is_refused(tmp_path, marker):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([OpensMarker(marker)], dtype=object), y=np.array([0]))
    with pytest.raises(EdgeoptError) as err:
        load_dataset(path)
    _one_line_refusal(err, "pickled (object) data, which edgeopt will not load")


def test_npz_that_is_a_bare_pickle_or_npy_is_refused(tmp_path, marker):
    pickled = tmp_path / "pickled.npz"
    pickled.write_bytes(pickle.dumps(OpensMarker(marker)))
    npy = tmp_path / "array.npz"
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    npy.write_bytes(buffer.getvalue())
    for path in (pickled, npy):
        with pytest.raises(EdgeoptError) as err:
            load_dataset(path)
        _one_line_refusal(err, "not a zip of .npy arrays")


def _cifar_folder(root: Path, first_batch: bytes) -> Path:
    root.mkdir()
    batch = {b"data": np.zeros((2, 3072), dtype=np.uint8), b"labels": [0, 1]}
    for name in (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"):
        (root / name).write_bytes(pickle.dumps(batch, protocol=2))
    (root / "data_batch_1").write_bytes(first_batch)
    return root


@pytest.mark.parametrize("payload", [OpensMarker, ExecsMarker])
def test_cifar_batch_with_a_payload_is_refused(tmp_path, marker, payload):
    evil = pickle.dumps({b"data": payload(marker), b"labels": [0, 1]}, protocol=2)
    root = _cifar_folder(tmp_path / "cifar", evil)
    with pytest.raises(EdgeoptError) as err:
        load_dataset(root)
    _one_line_refusal(err, "not a plain CIFAR batch", "which edgeopt will not load")


def test_cifar_batch_refusal_carries_no_terminal_escapes(tmp_path, marker):
    evil = b"\x80\x02cposix\x1b[31m\nsystem\nX\x05\x00\x00\x00touchq\x00\x85R."
    root = _cifar_folder(tmp_path / "cifar", evil)
    with pytest.raises(EdgeoptError) as err:
        load_dataset(root)
    _one_line_refusal(err, "posix?[31m.system")


def test_cifar_batch_with_a_persistent_id_is_refused(tmp_path, marker):
    root = _cifar_folder(tmp_path / "cifar", b"\x80\x02X\x03\x00\x00\x00abcQ.")
    with pytest.raises(EdgeoptError) as err:
        load_dataset(root)
    _one_line_refusal(err, "external object")


def test_image_that_is_a_postscript_program_is_refused(tmp_path, marker):
    """Pillow hands EPS to Ghostscript whatever the extension; edgeopt opens raster formats only."""
    from PIL import Image

    root = tmp_path / "images"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        Image.new("L", (4, 4)).save(root / label / "ok.png")
    (root / "a" / "evil.png").write_text(
        f"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 4 4\n({marker}) (w) file closefile\nshowpage\n")
    with pytest.raises(EdgeoptError) as err:
        load_dataset(root)
    _one_line_refusal(err, "evil.png", "not a PNG, JPEG, BMP, GIF, WebP or TIFF image")


# --- YAML and JSON: device files, recipes, results.json -----------------------------------------


def _python_tag(marker: Path) -> str:
    return f"name: !!python/object/apply:os.system ['touch {marker}']\n"


def test_device_yaml_with_a_python_tag_is_refused(tmp_path, marker):
    path = tmp_path / "board.yaml"
    path.write_text(_python_tag(marker))
    with pytest.raises(EdgeoptError) as err:
        read_device_file(path)
    _one_line_refusal(err, "board.yaml", "a YAML tag edgeopt does not read")


def test_device_yaml_gets_the_recipe_limits(tmp_path, marker):
    laughs = "a: &a ['x','x','x','x','x','x','x','x','x','x']\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
        f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
        for i in range(8))
    cases = {"laughs.yaml": laughs.encode(), "deep.yaml": b"[" * 5000 + b"]" * 5000,
             "latin1.yaml": "name: caf\xe9\n".encode("latin-1"), "huge.yaml": b"# " + b"x" * (2 << 20)}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(EdgeoptError) as err:
            read_device_file(tmp_path / name)
        _one_line_refusal(err, name)


def test_device_json_bombs_are_one_line_errors(tmp_path, marker):
    for name, text in {"deep.json": "[" * 100_000, "digits.json": "1" * 5000,
                       "tagged.json": json.dumps({"name": "!!python/object/apply:os.system"})}.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(EdgeoptError) as err:
            read_device_file(tmp_path / name)
        _one_line_refusal(err, name)


def test_device_file_through_the_cli(tmp_path, marker, run_cli):
    path = tmp_path / "board.yaml"
    path.write_text(_python_tag(marker))
    assert "board.yaml" in _cli_refuses(run_cli, "devices", "--device-file", str(path))


def test_recipe_with_a_python_tag_is_refused(tmp_path, marker, run_cli):
    path = tmp_path / "recipe.yaml"
    path.write_text(f"model: simple_cnn\ndata: digits\n{_python_tag(marker)}")
    with pytest.raises(EdgeoptError) as err:
        load_recipe(path)
    _one_line_refusal(err, "recipe.yaml")
    assert "recipe.yaml" in _cli_refuses(run_cli, "run", str(path), "-o", str(tmp_path / "run"))


def test_results_json_cannot_carry_code(tmp_path, marker, run_cli):
    run = tmp_path / "run"
    run.mkdir()
    for text in (json.dumps({"py/reduce": [{"py/type": "os.system"}, {"py/tuple": [f"touch {marker}"]}]}),
                 json.dumps({"candidates": [{"\x1b[2Jname": pickle.dumps(OpensMarker(marker)).decode("latin-1")}]}),
                 "[" * 100_000, "1" * 5000):
        (run / "results.json").write_text(text, encoding="utf-8")
        with pytest.raises(EdgeoptError) as err:
            load_results(run)
        _one_line_refusal(err, "results.json")
    assert "results.json" in _cli_refuses(run_cli, "report", str(run))


# --- ONNX and ExecuTorch artifacts --------------------------------------------------------------


def _onnx_reading_outside(folder: Path, location: str) -> Path:
    from onnx import TensorProto, helper

    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1, 1, 2, 2],
                         data_location=TensorProto.EXTERNAL)
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        weight.external_data.add(key=key, value=value)
    shape = [1, 1, 2, 2]
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
@pytest.mark.parametrize("command", ["profile", "bench"])
def test_onnx_external_data_cannot_leave_the_model_folder(tmp_path, marker, run_cli, how, command):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(4, dtype=np.float32).tobytes())
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "link.bin").symlink_to(secret)
    location = {"absolute": str(secret), "dotdot": "../secret.bin", "symlink": "link.bin"}[how]
    path = _onnx_reading_outside(folder, location)
    extra = ["-n", "1", "--warmup", "0", "-i", "1,2,2"] if command == "bench" else []
    _cli_refuses(run_cli, command, str(path), *extra)


def test_pte_that_is_a_pickle_is_refused(tmp_path, marker, run_cli):
    pytest.importorskip("executorch.runtime")
    path = tmp_path / "evil.pte"
    path.write_bytes(pickle.dumps(OpensMarker(marker)))
    _cli_refuses(run_cli, "bench", str(path), "-n", "1", "--warmup", "0", "-i", "1,8,8")


def test_no_marker_fixture_is_honest(tmp_path):
    """The payloads do run when handed to an unrestricted unpickler (so the tests above mean something)."""
    path = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(OpensMarker(path))).close()
    assert path.exists()
    os.remove(path)
    pickle.loads(pickle.dumps(ExecsMarker(path)))
    assert path.exists()
