"""Data files that are not what they claim (README "When things go wrong"): each read ends
in a :class:`DataFileError` naming the file (and the line when there is one) and what to
do — not a bare EOFError/BadGzipFile, dropped rows, or mojibake."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from xmr.datasets._io import DataFileError, iter_lines
from xmr.datasets.aol import AOLConfig, load_aol
from xmr.datasets.homedepot import HomeDepotConfig, load_homedepot
from xmr.datasets.xmc import XMCConfig, load_xmc

LOADERS = Path(__file__).resolve().parent.parent / "data" / "loaders"
XMC = XMCConfig(name="toy", train_file="xmc/train.txt.gz", test_file="xmc/test.txt")
HEADER = b'"id","product_uid","product_title","search_term","relevance"\n'


def _xmc_folder(tmp_path: Path) -> Path:
    (tmp_path / "xmc").mkdir()
    shutil.copy(LOADERS / "xmc" / "test.txt", tmp_path / "xmc" / "test.txt")
    return tmp_path / "xmc" / "train.txt.gz"


def test_truncated_gz_names_the_file_and_the_last_line(tmp_path):
    gz = _xmc_folder(tmp_path)
    lines = b"3 5 4\n" + b"".join(b"0,1 0:1 2:1\n" for _ in range(3))
    # big enough that the cut lands after some complete lines
    blob = gzip.compress(lines * 1 + b"".join(f"{i % 4} {i % 5}:1\n".encode()
                                              for i in range(20_000)))
    gz.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataFileError, match=rf"{gz}: the compressed file is truncated or "
                                            rf"corrupt after line \d+ .*gzip -t"):
        load_xmc(tmp_path, XMC)
    with pytest.raises(DataFileError, match="truncated"):
        list(iter_lines(gz))


def test_plain_file_named_gz(tmp_path):
    gz = _xmc_folder(tmp_path)
    shutil.copy(LOADERS / "xmc" / "train.txt", gz)
    with pytest.raises(DataFileError, match=rf"{gz} is named \.gz but is not gzip-compressed "
                                            rf"\(it starts with b'15'\); rename it"):
        load_xmc(tmp_path, XMC)
    folder = tmp_path / "homedepot"
    folder.mkdir()
    (folder / "homedepot_train.csv.gz").write_bytes(HEADER + b'1,1,"Lamp","lamp",3\n')
    with pytest.raises(DataFileError, match="is named .gz but is not gzip-compressed"):
        load_homedepot(tmp_path, HomeDepotConfig())


def test_plain_aol_file_named_gz(tmp_path):
    (tmp_path / "aol").mkdir()
    (tmp_path / "aol" / "user-ct-test-collection-01.txt.gz").write_text(
        "AnonID\tQuery\tQueryTime\tItemRank\tClickURL\n")
    with pytest.raises(DataFileError, match="is named .gz but is not gzip-compressed"):
        load_aol(tmp_path, AOLConfig())


def test_utf8_home_depot_read_as_latin1_is_refused(tmp_path):
    folder = tmp_path / "homedepot"
    folder.mkdir()
    rows = HEADER + "".join(f'{i},{i},"Café table {i}","café table",3\n'
                            for i in range(1, 9)).encode("utf-8")
    (folder / "train.csv").write_bytes(rows)
    with pytest.raises(DataFileError, match=r"train\.csv is UTF-8 \(all 8 lines with non-ASCII "
                                            r"bytes are valid UTF-8, e\.g\. line 2: .*Café.*\) "
                                            r"but is read as latin-1.*encoding=utf-8"):
        load_homedepot(tmp_path, HomeDepotConfig(test_fraction=0.0))
    d = load_homedepot(tmp_path, HomeDepotConfig(encoding="utf-8", test_fraction=0.0))
    assert d.label_texts[0].startswith("Café table")  # no "CafÃ©"
    # a real latin-1 file (é = one byte 0xE9) is read as before
    (folder / "train.csv").write_bytes(rows.decode("utf-8").encode("latin-1"))
    d = load_homedepot(tmp_path, HomeDepotConfig(test_fraction=0.0))
    assert d.label_texts[0].startswith("Café table")


def test_unknown_encoding(tmp_path):
    with pytest.raises(ValueError, match="encoding 'latin-9000' is not a codec Python knows"):
        load_homedepot(tmp_path, HomeDepotConfig(encoding="latin-9000"))
