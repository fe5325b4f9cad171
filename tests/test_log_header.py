"""Tests of LogHeaderParser and of load_loghub on any Loghub-2k folder."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from skanomaly.datasets import LOGHUB_FORMATS, LOGHUB_SYSTEMS, load_loghub
from skanomaly.preprocessing import DrainTemplates, LogHeaderParser
from skanomaly.preprocessing.log_header import log_format_regex

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LOGHUB = DATA / "loghub"
needs_loghub = pytest.mark.skipif(not LOGHUB.is_dir(),
                                  reason=f"Loghub-2k samples not found at {LOGHUB}")

FMT = "<Date> <Time> <Pid> <Level> <Component>: <Content>"
LINES = [
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
    "081109 203807 222 WARN dfs.FSNamesystem: BLOCK* ask 10.0.0.1:50010 to delete blk_1",
]


def test_fields_and_line_ids():
    parser = LogHeaderParser(FMT)
    table = parser.fit_transform(LINES)
    assert list(table.columns) == ["LineId", "Date", "Time", "Pid", "Level", "Component",
                                   "Content"]
    assert table["LineId"].tolist() == [1, 2]
    assert table["Level"].tolist() == ["INFO", "WARN"]
    assert table["Content"].tolist()[1] == "BLOCK* ask 10.0.0.1:50010 to delete blk_1"
    assert list(parser.get_feature_names_out()) == list(table.columns)
    assert parser.n_skipped_ == 0
    assert clone(parser).get_params() == parser.get_params()
    # the Content column feeds DrainTemplates
    assert DrainTemplates().fit(table["Content"]).n_templates_ == 2


def test_mismatch_error_names_line_number_and_text():
    with pytest.raises(ValueError, match=r"line 3 does not match .*'a stray line'"):
        LogHeaderParser(FMT).fit([*LINES, "a stray line"])


def test_skip_counts_and_warns():
    parser = LogHeaderParser(FMT, on_mismatch="skip")
    with pytest.warns(UserWarning, match="2 of 4 lines do not match"):
        table = parser.fit_transform(["", LINES[0], "not a log line", LINES[1]])
    assert parser.n_skipped_ == 2
    assert table["LineId"].tolist() == [2, 4]
    with pytest.warns(UserWarning, match="1 of 1 lines"):
        assert len(parser.transform(["junk"])) == 0


def test_optional_part_and_escaped_brackets():
    parser = LogHeaderParser(r"<Month> <Day> <Time> <Component>(\[<PID>\])?: <Content>")
    table = parser.fit_transform(["Jun 14 15:16:01 sshd[19939]: session opened",
                                  "Jun 14 15:16:02 kernel: link up"])
    assert table["PID"].tolist() == ["19939", ""]
    assert table["Component"].tolist() == ["sshd", "kernel"]


@pytest.mark.parametrize("fmt, message", [
    ("no fields here", "names no field"),
    ("<A> <A>", "more than once"),
    ("[<Time>] <Content>", "not a valid Loghub-style format"),
    ("<LineId> <Content>", "LineId"),
])
def test_bad_format(fmt, message):
    with pytest.raises(ValueError, match=message):
        LogHeaderParser(fmt).fit(LINES)


def test_bytes_and_none():
    raw = [b"INFO app: ok", b"INFO app: caf\xe9"]
    with pytest.raises(ValueError, match="row 1 is not valid utf-8"):
        LogHeaderParser("<Level> <Component>: <Content>").fit(raw)
    table = LogHeaderParser("<Level> <Component>: <Content>",
                            decode_errors="replace").fit_transform(raw)
    assert table["Content"].tolist() == ["ok", "caf\ufffd"]
    with pytest.raises(ValueError, match="row 0 is missing"):
        LogHeaderParser(FMT).fit([None])


def test_one_megabyte_lines():
    long = "x " * 500_000
    table = LogHeaderParser(FMT).fit_transform([LINES[0][:-11] + long])
    assert len(table["Content"][0]) > 999_000
    # a long line that does not match fails (atomic fields: no catastrophic backtracking)
    with pytest.raises(ValueError, match=r"line 1 does not match .*\(1000000 chars\)"):
        LogHeaderParser(FMT).fit([long])


def test_format_regex():
    rx, fields = log_format_regex(r"\[<Time>\] \[<Level>\] <Content>")
    m = rx.match("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok")
    assert fields == ["Time", "Level", "Content"]
    assert m.group("Time") == "Sun Dec 04 04:47:44 2005" and m.group("Level") == "notice"


def test_sixteen_systems_known():
    assert len(LOGHUB_SYSTEMS) == 16 and set(LOGHUB_SYSTEMS) == set(LOGHUB_FORMATS)
    for fmt in LOGHUB_FORMATS.values():
        assert log_format_regex(fmt)[1][-1] == "Content"


@needs_loghub
@pytest.mark.parametrize("system", ["Apache", "BGL", "HDFS", "HPC", "Hadoop", "OpenStack",
                                    "Spark", "Zookeeper"])
def test_raw_lines_give_loghub_content(system):
    raw = (LOGHUB / system / f"{system}_2k.log").read_bytes().splitlines()
    table = LogHeaderParser(LOGHUB_FORMATS[system]).fit_transform(raw)
    ref = load_loghub(system, data_home=DATA)
    np.testing.assert_array_equal(table["Content"].to_numpy(), ref["Content"].to_numpy())


@needs_loghub
def test_load_loghub_any_folder(tmp_path):
    # a folder given by path, in the standard layout, with the raw log only
    folder = tmp_path / "Linux"
    folder.mkdir()
    (folder / "Linux_2k.log").write_text(
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; uid=0\n"
        "Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown\n"
    )
    df = load_loghub(folder)
    assert df["Content"].tolist() == ["authentication failure; uid=0", "check pass; user unknown"]
    assert load_loghub("Linux", data_home=tmp_path)["Component"].tolist() == ["sshd(pam_unix)"] * 2
    # a name that is not a Loghub system, under a data root
    with pytest.raises(ValueError, match="Unknown Loghub system 'Nope'"):
        load_loghub("Nope", data_home=tmp_path)
    # a copy of a shipped folder under another name needs a format unless structured
    other = tmp_path / "MyApp"
    shutil.copytree(LOGHUB / "HDFS", other)
    for f in other.iterdir():
        f.rename(other / f.name.replace("HDFS", "MyApp"))
    assert len(load_loghub(other)) == 2000
    for f in other.glob("*.csv"):
        f.unlink()
    with pytest.raises(ValueError, match="pass log_format"):
        load_loghub(other)
    assert len(load_loghub(other, log_format=LOGHUB_FORMATS["HDFS"])) == 2000
    with pytest.raises(FileNotFoundError, match="structured file"):
        load_loghub(other, corrected=True)
