"""The log of a reader task: the secret values it printed, or why it cannot be read."""

from __future__ import annotations

import base64

import pytest

from lain_sdk.cluster.secret_reader import parse_reader_log


def test_reader_log_is_parsed_or_refused() -> None:
    one, two = b"\x00\xffbinary\n", b"x" * 100
    wrapped = base64.b64encode(two).decode()  # a long value, wrapped like base64(1) does
    log = "\n".join(
        [
            "--- /run/secrets/lain-secret-0",
            base64.b64encode(one).decode(),
            "--- /run/secrets/lain-secret-1",
            wrapped[:76],
            wrapped[76:],
            "--- lain-secret-end",
            "",
        ]
    )
    assert parse_reader_log(log, 2) == [one, two]
    cut = log.split("--- lain-secret-end")[0]
    with pytest.raises(ValueError, match="ended early"):
        parse_reader_log(cut, 2)
    with pytest.raises(ValueError, match="1 values instead of 2"):
        parse_reader_log("--- a\nAAAA\n--- lain-secret-end\n", 2)
    with pytest.raises(ValueError) as caught:
        parse_reader_log("--- a\nnot base64!\n--- lain-secret-end\n", 1)
    assert "not base64!" not in str(caught.value)
