"""Property tests of the loaders (issue 34): any bytes, header or document ends in a result or one InputFileError.

Random ``.npy`` headers and bodies go to the submission loader, random JSON documents to
``read_json`` and to challenge.json / key.json of a real challenge. Nothing may raise anything
but :class:`InstaHideBenchError`, hang, or read more than a header promises.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instahide_bench.core.challenge import load_challenge, load_key, write_challenge
from instahide_bench.core.errors import InstaHideBenchError
from instahide_bench.core.io import read_json
from instahide_bench.core.submission import load_decryption
from tests.conftest import tiny_encoded

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

DIMENSIONS = st.one_of(st.integers(-3, 40), st.sampled_from([32, 3, 2**31, 2**63, 2**64 + 1, 10**20]))
DESCRS = st.sampled_from(["<f4", "<f8", "<f2", "|u1", "<i8", "|O", "<c8", ">f4", "|b1", "<U3", "V8", "nonsense"])


def _header(descr: str, shape: tuple[int, ...], fortran: bool) -> bytes:
    text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape!r}, }}".encode("latin1")
    text += b" " * (16 - (10 + len(text) + 1) % 16) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


@pytest.fixture(scope="module")
def challenge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_challenge(tmp_path_factory.mktemp("fuzz") / "c", tiny_encoded("mixup"))


@FAST
@given(
    descr=DESCRS,
    shape=st.lists(DIMENSIONS, max_size=5).map(tuple),
    fortran=st.booleans(),
    body=st.binary(max_size=2048),
)
def test_any_npy_header_is_a_result_or_one_error(
    challenge_dir: Path, tmp_path_factory: pytest.TempPathFactory, descr: str, shape: tuple, fortran: bool, body: bytes
) -> None:
    path = tmp_path_factory.mktemp("npy") / "decryption.npy"
    path.write_bytes(_header(descr, shape, fortran) + body)
    challenge = load_challenge(challenge_dir)
    try:
        decryption = load_decryption(path, challenge)
    except InstaHideBenchError:
        return
    assert decryption.shape == (challenge.num_rows, 32, 32, 3)  # accepted only when it is one


@FAST
@given(raw=st.binary(max_size=512))
def test_any_bytes_as_npy_are_a_result_or_one_error(
    challenge_dir: Path, tmp_path_factory: pytest.TempPathFactory, raw: bytes
) -> None:
    path = tmp_path_factory.mktemp("raw") / "decryption.npy"
    path.write_bytes(b"\x93NUMPY" + raw)
    with contextlib.suppress(InstaHideBenchError):
        load_decryption(path, load_challenge(challenge_dir))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@FAST
@given(text=st.text(max_size=200))
def test_any_text_as_json_is_a_value_or_one_error(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("json") / "x.json"
    path.write_text(text, encoding="utf-8")
    with contextlib.suppress(InstaHideBenchError):
        read_json(path)


@FAST
@given(
    which=st.sampled_from(["challenge.json", "key/key.json"]),
    field=st.sampled_from(
        [
            "format_version",
            "params",
            "pixels",
            "class_names",
            "num_rows",
            "files",
            "image_shape",
            "kind",
            "gradients",
            "membership",
            "sources",
            "versions",
            "provenance",
            "public_files",
            "seed",
        ]
    ),
    value=JSON_VALUES,
)
def test_any_field_value_in_the_metadata_is_a_challenge_or_one_error(
    challenge_dir: Path, tmp_path_factory: pytest.TempPathFactory, which: str, field: str, value: object
) -> None:
    copy = tmp_path_factory.mktemp("meta") / "c"
    shutil.copytree(challenge_dir, copy)
    document = json.loads((copy / which).read_text())
    document[field] = value
    (copy / which).write_text(json.dumps(document))
    try:
        challenge = load_challenge(copy)
        load_key(copy, challenge.num_rows)
    except InstaHideBenchError:
        pass


def test_the_fixture_itself_loads(challenge_dir: Path) -> None:
    """The properties above mean something only if the unmodified challenge loads."""
    challenge = load_challenge(challenge_dir)
    assert load_key(challenge_dir, challenge.num_rows).private.shape[0] == 12
    assert np.isfinite(challenge.encryption).all()
