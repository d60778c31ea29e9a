"""``hashlab.files``: atomic writes with the umask's mode, hashlab-only temporaries, the folder lock, path checks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hashlab import files
from hashlab.config import atomic_write as config_atomic_write


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # reaped: no process has this id until the kernel reuses it


def test_config_reexports_atomic_write():
    assert config_atomic_write is files.atomic_write


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_write_gives_the_umask_mode(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        with files.atomic_write(tmp_path / "a.json") as tmp:
            tmp.write_text("{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == mode
    assert (tmp_path / "a.json").read_text() == "{}"


def test_atomic_write_temporary_has_a_hashlab_only_name(tmp_path):
    with files.atomic_write(tmp_path / "x.codes.npz") as tmp:
        assert tmp.name.startswith(f".hashlab-tmp-{os.getpid()}-") and tmp.name.endswith(".codes.npz")
        assert tmp.parent == tmp_path


def test_failed_write_leaves_neither_target_nor_temporary(tmp_path):
    (tmp_path / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError), files.atomic_write(tmp_path / "keep.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk fails")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    assert (tmp_path / "keep.txt").read_text() == "old"


def test_atomic_write_onto_a_folder_or_under_a_file_names_the_target(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError, match="it is a folder") as err:
        with files.atomic_write(tmp_path / "dir"):
            pass
    assert err.value.filename == str(tmp_path / "dir")
    (tmp_path / "plain").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder") as err:
        with files.atomic_write(tmp_path / "plain" / "sub" / "model.pt"):
            pass
    assert err.value.filename == str(tmp_path / "plain" / "sub" / "model.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "plain"]


def test_only_dead_processes_hashlab_temporaries_are_removed(tmp_path):
    dead = tmp_path / f".hashlab-tmp-{_dead_pid()}-abc.json"
    live = tmp_path / f".hashlab-tmp-{os.getpid()}-def.json"
    users = [tmp_path / ".notes.tmp.txt", tmp_path / ".a.json.xyz.tmp.json", tmp_path / "hashlab-tmp-1-x"]
    for p in [dead, live, *users]:
        p.write_text("x")
    removed = files.remove_own_temporaries(tmp_path)
    assert removed == [dead]
    assert not dead.exists() and live.exists() and all(p.exists() for p in users)


def test_lock_refuses_a_second_holder_and_is_released(tmp_path):
    with files.lock_folder(tmp_path) as lock:
        assert lock.read_text().strip() == str(os.getpid())
        with pytest.raises(
            files.FolderLockedError, match=rf"in use by another hashlab run \(pid {os.getpid()}\)"
        ):
            with files.lock_folder(tmp_path):
                pass
    assert not (tmp_path / files.LOCK_NAME).exists()
    with files.lock_folder(tmp_path):  # free again
        pass


def test_lock_held_by_another_process_is_refused(tmp_path):
    code = (
        "import sys, time; from hashlab.files import lock_folder\n"
        "with lock_folder(sys.argv[1]):\n    print('locked', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(files.FolderLockedError, match=rf"pid {proc.pid}\)"):
            with files.lock_folder(tmp_path):
                pass
    finally:
        proc.kill()
        proc.wait()
    with files.lock_folder(
        tmp_path
    ):  # the kernel released the killed process's lock: the stale file is taken over
        pass


def test_stale_lock_file_of_a_dead_pid_is_taken_over(tmp_path):
    (tmp_path / files.LOCK_NAME).write_text(f"{_dead_pid()}\n")
    with files.lock_folder(tmp_path) as lock:
        assert lock.read_text().strip() == str(os.getpid())


@pytest.mark.parametrize("kind", ["file", "under_file"])
def test_check_output_dir_names_the_option(tmp_path, kind):
    (tmp_path / "f").write_text("x")
    path = tmp_path / "f" if kind == "file" else tmp_path / "f" / "deeper"
    with pytest.raises(NotADirectoryError, match=r"^--out .*: .*is a file, not a folder$"):
        files.check_output_dir(path, "--out")
    assert files.check_output_dir(tmp_path / "new" / "out", "--out") == tmp_path / "new" / "out"
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_check_output_file_names_the_option(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"^--save .*: is a folder; give a file name$"):
        files.check_output_file(tmp_path, "--save")
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"^--save "):
        files.check_output_file(tmp_path / "f" / "model.pt", "--save")
    assert files.check_output_file(tmp_path / "a" / "model.pt", "--save") == tmp_path / "a" / "model.pt"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_check_output_dir_unwritable(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    with pytest.raises(PermissionError, match="not writable"):
        files.check_output_dir(ro / "out", "--out")
