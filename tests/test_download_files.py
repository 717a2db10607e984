"""The `.part` file beside the target: created exclusively, never through a
symlink, never over an existing file; resumed only when it is a regular file;
finished by a rename that replaces nothing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tui.download.failures import NoRoom, UnsafePart
from tui.download.files import check_room, finish, open_part, reopen_part


def test_a_fresh_part_beside_the_target(tmp_path: Path) -> None:
    part = open_part(tmp_path, "movie.mkv")
    os.write(part.fd, b"abc")
    assert part.path == tmp_path / "movie.mkv.part" and part.offset == 0
    assert stat.S_IMODE(os.stat(part.path).st_mode) & 0o777 == 0o644 & ~current_umask()
    final = finish(part)
    assert final == tmp_path / "movie.mkv" and final.read_bytes() == b"abc"
    assert not part.path.exists()


def test_an_existing_file_or_part_gets_a_numbered_name(tmp_path: Path) -> None:
    (tmp_path / "movie.mkv").write_bytes(b"theirs")
    (tmp_path / "movie (1).mkv.part").write_bytes(b"someone else's")
    part = open_part(tmp_path, "movie.mkv")
    assert part.path.name == "movie (2).mkv.part"
    assert finish(part).name == "movie (2).mkv"
    assert (tmp_path / "movie.mkv").read_bytes() == b"theirs"


def test_a_symlink_named_like_the_part_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "a.bin.part").symlink_to(victim)
    (tmp_path / "dl" / "b.bin.part").symlink_to(tmp_path / "nowhere")  # dangling
    for name in ("a.bin", "b.bin"):
        part = open_part(tmp_path / "dl", name)
        os.write(part.fd, b"x")
        finish(part)
    assert victim.read_bytes() == b"precious"
    assert not (tmp_path / "nowhere").exists()
    assert (tmp_path / "dl" / "a (1).bin").read_bytes() == b"x"


def test_a_resume_reopens_our_part_at_its_end(tmp_path: Path) -> None:
    part = open_part(tmp_path, "f.zip")
    os.write(part.fd, b"12345")
    os.close(part.fd)
    again = reopen_part(part.path)
    assert again.offset == 5
    os.write(again.fd, b"678")
    assert finish(again).read_bytes() == b"12345678"


def test_a_resume_refuses_a_symlink_or_a_directory(tmp_path: Path) -> None:
    (tmp_path / "victim").write_bytes(b"precious")
    (tmp_path / "s.part").symlink_to(tmp_path / "victim")
    (tmp_path / "d.part").mkdir()
    for name in ("s.part", "d.part"):
        with pytest.raises(UnsafePart):
            reopen_part(tmp_path / name)
    assert (tmp_path / "victim").read_bytes() == b"precious"


def test_finishing_never_replaces_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    part = open_part(tmp_path, "race.txt")
    os.write(part.fd, b"ours")
    (tmp_path / "race.txt").write_bytes(b"theirs")
    final = finish(part)
    assert final.name == "race (1).txt" and final.read_bytes() == b"ours"
    assert (tmp_path / "race.txt").read_bytes() == b"theirs"


def test_a_long_name_leaves_room_for_the_suffixes(tmp_path: Path) -> None:
    name = "é" * 127 + ".x"  # 256 bytes with the extension: over the limit already
    (tmp_path / "a").mkdir()
    part = open_part(tmp_path / "a", name[:-2])
    assert len(part.path.name.encode()) <= 255
    final = finish(part)
    assert len(final.name.encode()) <= 255
    second = finish(open_part(tmp_path / "a", name[:-2]))
    assert second != final and second.name.endswith(" (1)")
    assert len(second.name.encode()) <= 255


def test_free_space_is_checked(tmp_path: Path) -> None:
    check_room(tmp_path, needed=1, minimum=0)
    with pytest.raises(NoRoom, match="bytes free"):
        check_room(tmp_path, needed=2**60, minimum=0)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
