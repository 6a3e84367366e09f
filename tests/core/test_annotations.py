"""Annotations beside the image: exact round trips, crashes that lose nothing, damaged or
foreign files refused with a message, the read-only fallback, and the crash marker."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from unetgui.core import annotations
from unetgui.core.annotations import (
    AnnotationState,
    load_annotations,
    mark_session_closed,
    mark_session_open,
    save_annotations,
    sidecar_path,
    unclean_session,
)
from unetgui.core.errors import ImageFileError, InvalidInputError

SHAPE = (10, 2, 24, 32)  # (P, C, Y, X)


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """Every test gets its own data folder (never the real one) and no own session."""
    folder = tmp_path / "data"
    monkeypatch.setenv("UNETGUI_DATA_DIR", str(folder))
    monkeypatch.setattr(annotations, "_own_session", None)
    return folder


@pytest.fixture
def image(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    path = folder / "cells.tif"
    path.write_bytes(b"not read by these functions")
    return path


def make_state(seed=0):
    rng = np.random.default_rng(seed)
    _, _, rows, cols = SHAPE
    labels = {0: rng.integers(0, 5, (rows, cols)).astype(np.uint32),
              7: np.full((rows, cols), 4_000_000_000, dtype=np.uint32)}
    ignore = {3: rng.random((rows, cols)) > 0.7}
    roles = {0: "train", 7: "validation"}
    settings = {"weightmap": {"w0": 10.0, "sigma": 5.0, "class_balance": True},
                "display": {"channel": 1, "levels": [[0, 255], None]}}
    return AnnotationState(SHAPE, labels, ignore, roles, settings)


def assert_same(a: AnnotationState, b: AnnotationState):
    assert a.image_shape == b.image_shape and a.roles == b.roles and a.settings == b.settings
    for kind in ("labels", "ignore"):
        x, y = getattr(a, kind), getattr(b, kind)
        assert x.keys() == y.keys()
        for plane in x:
            assert x[plane].dtype == y[plane].dtype and np.array_equal(x[plane], y[plane])


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


def test_round_trip_is_exact(image):
    state = make_state()
    folder = save_annotations(image, state)
    assert folder == image.parent / "cells.tif.unetgui"
    loaded = load_annotations(image, SHAPE)
    assert_same(loaded, state)
    assert loaded.labels[7].dtype == np.uint32 and loaded.ignore[3].dtype == bool
    names = files_in(folder)
    assert len(names) == 2 and "annotations.json" in names
    document = json.loads((folder / "annotations.json").read_text())
    assert document["format"] == "unetgui-annotations" and document["image_shape"] == list(SHAPE)
    assert document["planes"] == {"labels": [0, 7], "ignore": [3]}
    assert document["arrays"] in names


def test_nothing_saved_gives_none(image):
    assert load_annotations(image, SHAPE) is None


def test_a_second_save_replaces_the_first(image):
    save_annotations(image, make_state(0))
    newer = make_state(1)
    newer.roles = {2: "train", 5: "none"}  # 'none' is not stored
    folder = save_annotations(image, newer)
    newer.roles = {2: "train"}
    assert_same(load_annotations(image, SHAPE), newer)
    assert len(files_in(folder)) == 2  # the superseded npz is gone


def test_empty_state_round_trips(image):
    state = AnnotationState(SHAPE, {}, {}, {}, {})
    save_annotations(str(image), state)
    assert_same(load_annotations(str(image), SHAPE), state)


def test_crash_while_writing_the_arrays_keeps_the_previous_save(image, monkeypatch):
    state = make_state(0)
    folder = save_annotations(image, state)
    before = files_in(folder)

    def crash(file, **arrays):
        file.write(b"PK\x03\x04 half a zip file")
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(RuntimeError, match="simulated"):
        save_annotations(image, make_state(1))
    assert files_in(folder) == before  # no temporary files left
    monkeypatch.undo()
    assert_same(load_annotations(image, SHAPE), state)


def test_disk_full_while_writing_tries_the_data_folder_then_reports(image, monkeypatch, data_dir):
    state = make_state(0)
    folder = save_annotations(image, state)
    before = files_in(folder)

    def full(file, **arrays):
        file.write(b"PK\x03\x04")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full)
    with pytest.raises(ImageFileError, match="the disk is full"):
        save_annotations(image, make_state(1))
    assert files_in(folder) == before
    fallbacks = list((data_dir / "sidecars").iterdir())
    assert len(fallbacks) == 1 and files_in(fallbacks[0]) == []  # tried, nothing left
    monkeypatch.undo()
    assert_same(load_annotations(image, SHAPE), state)


def test_crash_between_arrays_and_json_keeps_the_previous_save(image, monkeypatch):
    state = make_state(0)
    folder = save_annotations(image, state)
    real_atomic_write = annotations.atomic_write

    def crash_on_json(path):
        if path.name == "annotations.json":
            raise RuntimeError("simulated crash")
        return real_atomic_write(path)

    monkeypatch.setattr(annotations, "atomic_write", crash_on_json)
    with pytest.raises(RuntimeError, match="simulated"):
        save_annotations(image, make_state(1))
    monkeypatch.undo()
    assert_same(load_annotations(image, SHAPE), state)
    assert len(files_in(folder)) == 2  # the new, unreferenced npz was removed
    # A process killed at that moment leaves an unreferenced npz and a temporary file:
    # loading ignores them and the next save removes them.
    (folder / "arrays-20000101T000000000000-deadbeef.npz").write_bytes(b"orphan")
    (folder / ".annotations.json.tmp-0badc0de.json").write_bytes(b"{")
    assert_same(load_annotations(image, SHAPE), state)
    save_annotations(image, state)
    assert len(files_in(folder)) == 2


def test_annotations_of_an_image_of_another_shape_are_refused(image):
    save_annotations(image, make_state())
    with pytest.raises(ImageFileError, match=r"for an image of 10 planes of 32 x 24 pixels, "
                                             r"but this image has 3 planes of 32 x 24 pixels"):
        load_annotations(image, (3, 2, 24, 32))
    with pytest.raises(ImageFileError, match="with 2 channels, but this image has .* 1 channel"):
        load_annotations(image, (10, 1, 24, 32))


@pytest.mark.parametrize("content", [b"{not json", b"", b"[1, 2]", b'{"format": "other"}',
                                     b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000,
                                     b'{"format": "unetgui-annotations", "version": 1, "roles": 3}'])
def test_damaged_json_is_reported(image, content):
    folder = save_annotations(image, make_state())
    (folder / "annotations.json").write_bytes(content)
    with pytest.raises(ImageFileError, match="damaged"):
        load_annotations(image, SHAPE)


@pytest.mark.parametrize("change", [
    lambda d: d.pop("planes"),
    lambda d: d.update(arrays="../../elsewhere.npz"),
    lambda d: d.update(roles={"1": "test"}),
    lambda d: d.update(roles={"99": "train"}),
    lambda d: d.update(planes={"labels": [8], "ignore": []}),  # not in the npz
    lambda d: d.update(saved_at="yesterday"),
])
def test_wrong_json_content_is_reported(image, change):
    folder = save_annotations(image, make_state())
    document = json.loads((folder / "annotations.json").read_text())
    change(document)
    (folder / "annotations.json").write_text(json.dumps(document))
    with pytest.raises(ImageFileError, match="damaged"):
        load_annotations(image, SHAPE)


def test_a_newer_format_version_is_reported(image):
    folder = save_annotations(image, make_state())
    document = json.loads((folder / "annotations.json").read_text())
    document["version"] = 99
    (folder / "annotations.json").write_text(json.dumps(document))
    with pytest.raises(ImageFileError, match="newer version of unetgui"):
        load_annotations(image, SHAPE)


@pytest.mark.parametrize("cut", [0, 10, 0.5])
def test_damaged_npz_is_reported(image, cut):
    folder = save_annotations(image, make_state())
    npz = folder / json.loads((folder / "annotations.json").read_text())["arrays"]
    data = npz.read_bytes()
    npz.write_bytes(data[: int(cut * len(data)) if isinstance(cut, float) else cut])
    with pytest.raises(ImageFileError, match="damaged"):
        load_annotations(image, SHAPE)


def test_missing_npz_is_reported(image):
    folder = save_annotations(image, make_state())
    (folder / json.loads((folder / "annotations.json").read_text())["arrays"]).unlink()
    with pytest.raises(ImageFileError, match="damaged"):
        load_annotations(image, SHAPE)


class Trap:
    """Unpickling this creates the file ``flag``: proof that pickled code ran."""

    def __init__(self, flag):
        self.flag = str(flag)

    def __reduce__(self):
        return (open, (self.flag, "w"))


def test_a_pickle_bearing_npz_is_refused_without_running_it(image, tmp_path):
    folder = save_annotations(image, make_state())
    npz = folder / json.loads((folder / "annotations.json").read_text())["arrays"]
    flag = tmp_path / "pickle-ran"
    with open(npz, "wb") as handle:
        np.savez(handle, labels_0000=np.array([Trap(flag)], dtype=object),
                 labels_0007=np.zeros((24, 32), np.uint32), ignore_0003=np.zeros((24, 32), bool))
    with pytest.raises(ImageFileError, match="damaged"):
        load_annotations(image, SHAPE)
    assert not flag.exists()


def test_wrong_array_types_are_reported(image):
    folder = save_annotations(image, make_state())
    npz = folder / json.loads((folder / "annotations.json").read_text())["arrays"]
    with open(npz, "wb") as handle:
        np.savez_compressed(handle, labels_0000=np.zeros((24, 32), np.float32),
                            labels_0007=np.zeros((24, 32), np.uint32),
                            ignore_0003=np.zeros((24, 32), bool))
    with pytest.raises(ImageFileError, match="damaged"):
        load_annotations(image, SHAPE)


@pytest.mark.parametrize("change", [
    lambda s: s.labels.update({10: np.zeros((24, 32), np.uint32)}),  # no plane 10
    lambda s: s.labels.update({1: np.zeros((24, 31), np.uint32)}),
    lambda s: s.labels.update({1: np.full((24, 32), -1, np.int64)}),
    lambda s: s.labels.update({1: np.zeros((24, 32), np.float32)}),
    lambda s: s.ignore.update({1: np.zeros((24, 32), np.uint8)}),
    lambda s: s.roles.update({1: "test"}),
    lambda s: s.roles.update({-1: "train"}),
    lambda s: s.settings.update(bad=object()),
    lambda s: setattr(s, "image_shape", (10, 24, 32)),
])
def test_a_state_that_cannot_be_saved_is_refused_before_writing(image, change):
    state = make_state()
    change(state)
    with pytest.raises(InvalidInputError):
        save_annotations(image, state)
    assert not sidecar_path(image).exists()


def test_labels_of_other_integer_types_are_stored_as_uint32(image):
    state = AnnotationState(SHAPE, {2: np.arange(24 * 32, dtype=np.int64).reshape(24, 32)})
    save_annotations(image, state)
    loaded = load_annotations(image, SHAPE)
    assert loaded.labels[2].dtype == np.uint32
    assert np.array_equal(loaded.labels[2], state.labels[2])


def test_read_only_image_folder_falls_back_to_the_data_folder(image, data_dir, monkeypatch):
    monkeypatch.setattr(annotations, "_can_write_in", lambda folder: folder != image.parent)
    expected = sidecar_path(image)
    assert expected.parent == data_dir / "sidecars" and len(expected.name) == 40
    state = make_state()
    assert save_annotations(image, state) == expected
    assert not (image.parent / "cells.tif.unetgui").exists()
    assert_same(load_annotations(image, SHAPE), state)
    assert json.loads((expected / "annotations.json").read_text())["image"] == str(image.resolve())


def test_read_only_folder_for_real(image, data_dir):
    image.parent.chmod(0o555)
    try:
        if os.access(image.parent, os.W_OK):
            pytest.skip("running as root (or on a file system where chmod does not stop writes)")
        state = make_state()
        assert save_annotations(image, state).parent == data_dir / "sidecars"
        assert_same(load_annotations(image, SHAPE), state)
    finally:
        image.parent.chmod(0o755)


def test_the_newer_of_two_saves_is_loaded(image, monkeypatch):
    old, new = make_state(0), make_state(1)
    save_annotations(image, old)  # beside the image
    monkeypatch.setattr(annotations, "_can_write_in", lambda folder: folder != image.parent
                        and folder.name != "cells.tif.unetgui")
    save_annotations(image, new)  # the folder became read-only: data folder
    assert_same(load_annotations(image, SHAPE), new)


def test_a_file_where_the_sidecar_folder_belongs_means_the_data_folder(image, data_dir):
    (image.parent / "cells.tif.unetgui").write_text("someone else's file")
    state = make_state()
    assert save_annotations(image, state).parent == data_dir / "sidecars"
    assert_same(load_annotations(image, SHAPE), state)


def test_data_folder_follows_the_platform_conventions(monkeypatch, tmp_path):
    monkeypatch.delenv("UNETGUI_DATA_DIR")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert annotations.data_dir() == tmp_path / "xdg" / "unetgui"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")
    assert annotations.data_dir().parts[-3:] == (".local", "share", "unetgui")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert annotations.data_dir().parts[-3:] == ("Library", "Application Support", "unetgui")
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert annotations.data_dir() == tmp_path / "local" / "unetgui"


# ------------------------------------------------------------------ session marker


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_session_marker_lifecycle(image, data_dir, monkeypatch):
    assert unclean_session() is None
    mark_session_open(image)
    marker = json.loads((data_dir / "session.json").read_text())
    assert marker["image"] == str(image.resolve()) and marker["pid"] == os.getpid()
    assert unclean_session() is None  # our own session, still running
    mark_session_closed()
    assert not (data_dir / "session.json").exists()
    assert unclean_session() is None


def test_a_session_that_did_not_close_is_reported(image, data_dir, monkeypatch):
    mark_session_open(image)
    marker = json.loads((data_dir / "session.json").read_text())
    # The next start: another process, and the one that wrote the marker is gone.
    monkeypatch.setattr(annotations, "_own_session", None)
    (data_dir / "session.json").write_text(json.dumps({**marker, "pid": dead_pid()}))
    assert unclean_session() == image.resolve()
    # Our pid reused from a crashed run (its token is not ours): still unclean.
    (data_dir / "session.json").write_text(json.dumps(marker))
    assert unclean_session() == image.resolve()
    mark_session_closed()  # the user declined recovery
    assert unclean_session() is None and not (data_dir / "session.json").exists()


def test_another_running_session_is_neither_reported_nor_removed(image, data_dir):
    marker = {"image": str(image), "pid": os.getppid(), "token": "theirs", "started": "now"}
    (data_dir).mkdir()
    (data_dir / "session.json").write_text(json.dumps(marker))
    assert unclean_session() is None
    mark_session_closed()
    assert (data_dir / "session.json").exists()


NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("content", ["{broken", "[]", '{"image": 3, "pid": 1}', NESTED,
                                     '{"image": "/x.tif", "pid": 1099511627776}',
                                     '{"image": "/x.tif", "pid": true}', b"\xff\xfe"])
def test_a_damaged_marker_is_moved_aside_with_a_message_never_fatal(data_dir, content):
    data_dir.mkdir()
    raw = content if isinstance(content, bytes) else content.encode()
    (data_dir / "session.json").write_bytes(raw)
    with pytest.raises(ImageFileError, match="damaged; it was moved to"):
        unclean_session()
    assert not (data_dir / "session.json").exists()
    (kept,) = data_dir.glob("session-damaged-*.json")
    assert kept.read_bytes() == raw
    assert unclean_session() is None  # the next start is clean
    mark_session_closed()


def test_a_pid_beyond_any_process_is_not_alive():
    assert not annotations._pid_alive(2**40)


def test_an_unwritable_data_folder_does_not_stop_work(image, tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("UNETGUI_DATA_DIR", str(blocker / "data"))
    mark_session_open(image)  # no crash recovery, but no error either
    assert unclean_session() is None
    mark_session_closed()


# ------------------------------------------------------------------ refused saves are kept


def refused_folders(folder):
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("refused-"))


def test_a_refused_save_is_never_deleted_by_the_next_save(image):
    """Item 2 of the hostile test: autosave after a refused load used to delete the npz."""
    folder = save_annotations(image, make_state(0))
    original = {name: (folder / name).read_bytes() for name in files_in(folder)}
    annotations._trusted.clear()  # a new process: it never loaded this save
    with pytest.raises(annotations.RefusedAnnotationsError) as refused:
        load_annotations(image, (3, 2, 24, 32))  # the image was re-saved at another size
    assert refused.value.folder == folder
    new_state = AnnotationState((3, 2, 24, 32), {0: np.ones((24, 32), np.uint32)})
    save_annotations(image, new_state)
    (kept,) = refused_folders(folder)
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == original
    assert load_annotations(image, (3, 2, 24, 32)).labels[0].all()


def test_set_aside_moves_the_save_into_a_refused_folder(image):
    folder = save_annotations(image, make_state(0))
    (folder / "annotations.json").write_text("{damaged")
    with pytest.raises(annotations.RefusedAnnotationsError, match="damaged"):
        load_annotations(image, SHAPE)
    kept = annotations.set_aside(folder)
    assert kept.parent == folder and kept.name.startswith("refused-")
    assert (kept / "annotations.json").read_text() == "{damaged"
    assert len(list(kept.glob("arrays-*.npz"))) == 1
    assert load_annotations(image, SHAPE) is None  # nothing left in the way
    again = annotations.set_aside(folder)  # same second: a new folder, never a merge
    assert again != kept


def test_a_save_this_process_loaded_is_superseded_normally(image):
    folder = save_annotations(image, make_state(0))
    annotations._trusted.clear()
    load_annotations(image, SHAPE)
    save_annotations(image, make_state(1))
    assert refused_folders(folder) == [] and len(files_in(folder)) == 2
