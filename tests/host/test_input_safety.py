"""What a client of a ComfyUI server can make the pack read or write, and inputs ComfyUI lets through
unchecked for V3 nodes (issue 26):

- VideoCanvas Train LoRA reads only inside ComfyUI's input folder and the folders the server owner
  allows (VIDEOCANVAS_TRAIN_FOLDERS, extra_model_paths 'videocanvas_training'); anything else is
  refused by its name before it is read, the same way whether it exists or not, and no message shows
  a path outside those folders. Its walk is bounded.
- The copy of the example inputs at load never writes through a link and never replaces a file.
- Every float input of every pack node must be finite, every combo one of its options.

Inside ComfyUI's real executor (tiny checkpoints; nothing trains: every case is refused first, or
stops at a corrupt video whose message shows what was read and how it is named).
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from pathlib import Path

import pytest

from hostkit.inprocess import ExecutionFailed

PREFIX = "VideoCanvas Train LoRA: "
CORRUPT = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4


def corrupt_video(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(CORRUPT)
    return path


@pytest.fixture
def input_dir(pack):
    import folder_paths

    return Path(folder_paths.get_input_directory())


@pytest.fixture
def in_input(input_dir):
    """A fresh folder inside ComfyUI's input folder: (its path, its name relative to it)."""
    name = f"vc_safety_{uuid.uuid4().hex[:8]}"
    path = input_dir / name
    path.mkdir(parents=True)
    yield path, name
    shutil.rmtree(path, ignore_errors=True)


def train_prompt(checkpoints, folder: str, **inputs) -> dict:
    return {
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": checkpoints["wan21_t2v_tiny"],
                                                        "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": checkpoints["wan21_vae_tiny"]}},
        "text": {"class_type": "VideoCanvasNullPrompt", "inputs": {}},
        "train": {"class_type": "VideoCanvasTrainLoRA", "inputs": {
            "model": ["unet", 0], "vae": ["vae", 0], "positive": ["text", 0], "folder": folder,
            "width": 32, "height": 32, "length": 9, "clips_per_video": 1, "steps": 1,
            "batch_size": 1, "learning_rate": 0.001, "rank": 4, "alpha": 0.0, "max_anchors": 2,
            "seed": 0, "gradient_checkpointing": False, "targets": "self_attn.q", **inputs}},
        "save": {"class_type": "SaveLoRA", "inputs": {"lora": ["train", 1], "prefix": "loras/vc_safety"}},
    }


def refused(comfy, prompt) -> str:
    with pytest.raises(ExecutionFailed) as err:
        comfy.run(prompt)
    assert err.value.data["node_type"] == "VideoCanvasTrainLoRA", err.value.data
    message = err.value.data["exception_message"].rstrip("\n")  # ComfyUI ends it with a newline
    assert message.startswith(PREFIX) and PREFIX not in message[len(PREFIX):], message  # said once
    return message


# ------------------------------------------------------------------------------ Train LoRA's folder


def test_train_lora_refuses_every_folder_outside_the_allowed_ones_alike_before_reading(
        comfy, checkpoints, tmp_path):
    """An absolute path outside (a folder of videos, a missing one, a file, an empty folder): one and
    the same message, which shows none of them, so nothing is learnt about them; the videos there are
    never opened (a corrupt one would say 'cannot be read')."""
    videos = tmp_path / "outside"
    corrupt_video(videos / "clip.mp4")
    (tmp_path / "empty").mkdir()
    messages = {str(p): refused(comfy, train_prompt(checkpoints, str(p)))
                for p in (videos, tmp_path / "missing", videos / "clip.mp4", tmp_path / "empty")}
    assert len(set(messages.values())) == 1, messages
    message = next(iter(messages.values()))
    assert str(tmp_path) not in message and "cannot be read" not in message, message
    assert message == (PREFIX + "folder: only folders inside ComfyUI's input folder can be read (a name "
                       "relative to it, subfolders allowed); got an absolute path outside them")


@pytest.mark.parametrize("name,why", [
    ("~", "'~' (a home folder) is not expanded"),
    ("~/videos", "'~' (a home folder) is not expanded"),
    ("../../..", "'..' is not allowed in the name"),
    ("clips/../../../etc", "'..' is not allowed in the name"),
])
def test_train_lora_refuses_home_and_parent_folders_by_name(comfy, checkpoints, name, why):
    message = refused(comfy, train_prompt(checkpoints, name))
    assert message.startswith(PREFIX + "folder: only folders inside ComfyUI's input folder can be read")
    assert message.endswith(why), message


def test_train_lora_refuses_a_link_out_of_the_input_folder_whether_its_target_exists_or_not(
        comfy, checkpoints, tmp_path, in_input):
    """A link planted in the input folder to a folder outside (with a corrupt video) and one to a
    missing folder: refused alike, by the link's name, without reading or showing the target."""
    folder, name = in_input
    corrupt_video(tmp_path / "outside" / "clip.mp4")
    (folder / "out").symlink_to(tmp_path / "outside")
    (folder / "gone").symlink_to(tmp_path / "missing")
    out = refused(comfy, train_prompt(checkpoints, f"{name}/out"))
    gone = refused(comfy, train_prompt(checkpoints, f"{name}/gone"))
    assert out == (PREFIX + f"folder '{name}/out' in ComfyUI's input folder leads outside the folders "
                   "that can be read (a link); only folders inside ComfyUI's input folder can be read")
    assert gone == out.replace("/out'", "/gone'")
    assert str(tmp_path) not in out
    # a link to a file outside, inside an allowed folder: refused by the link's name, not read
    (folder / "data").mkdir()
    (folder / "data" / "clip.mp4").symlink_to(tmp_path / "outside" / "clip.mp4")
    message = refused(comfy, train_prompt(checkpoints, f"{name}/data"))
    assert message == PREFIX + f"{name}/data/clip.mp4: a link to outside the folders that can be read"


def test_train_lora_reads_subfolders_of_the_input_folder_and_names_files_relative_to_it(
        comfy, checkpoints, in_input, input_dir):
    folder, name = in_input
    corrupt_video(folder / "cats" / "deep" / "clip.mp4")
    for given in (f"{name}/cats", str(folder / "cats")):  # relative, or absolute inside the folder
        message = refused(comfy, train_prompt(checkpoints, given))
        assert message.startswith(PREFIX + f"{name}/cats/deep/clip.mp4: cannot be read as a video"), message
        assert str(input_dir) not in message, message
    # inside the allowed folder, what is wrong may be told
    (folder / "note.txt").write_text("not a folder")
    assert refused(comfy, train_prompt(checkpoints, f"{name}/missing")) == \
        PREFIX + f"folder '{name}/missing': no such folder in ComfyUI's input folder"
    assert refused(comfy, train_prompt(checkpoints, f"{name}/note.txt")) == \
        PREFIX + f"folder '{name}/note.txt' in ComfyUI's input folder is not a folder"


def test_train_lora_reads_the_folders_the_server_owner_allows(comfy, checkpoints, tmp_path, monkeypatch):
    """VIDEOCANVAS_TRAIN_FOLDERS: a relative name is looked for there after the input folder, an
    absolute path inside it is accepted; messages name the setting, not the folder's path."""
    allowed = tmp_path / "owner's data"
    corrupt_video(allowed / "set" / "clip.mp4")
    monkeypatch.setenv("VIDEOCANVAS_TRAIN_FOLDERS", os.pathsep.join(["relative/ignored", str(allowed)]))
    for given in ("set", str(allowed / "set")):
        message = refused(comfy, train_prompt(checkpoints, given))
        assert message.startswith(
            PREFIX + "<VIDEOCANVAS_TRAIN_FOLDERS entry 2>/set/clip.mp4: cannot be read as a video"), message
        assert str(tmp_path) not in message
    # the rule names every allowed folder; the outside stays refused
    message = refused(comfy, train_prompt(checkpoints, str(tmp_path)))
    assert message.startswith(PREFIX + "folder: only folders inside ComfyUI's input folder or "
                              "VIDEOCANVAS_TRAIN_FOLDERS entry 2 can be read"), message


def test_train_lora_reads_the_extra_model_paths_training_folders(comfy, checkpoints, tmp_path, monkeypatch):
    """A 'videocanvas_training:' key in extra_model_paths.yaml (ComfyUI registers any key as a folder
    name): its folders are allowed too."""
    import folder_paths

    corrupt_video(tmp_path / "yaml" / "set" / "clip.mp4")
    monkeypatch.setitem(folder_paths.folder_names_and_paths, "videocanvas_training",
                        ([str(tmp_path / "yaml")], set()))
    message = refused(comfy, train_prompt(checkpoints, "set"))
    assert message.startswith(PREFIX + "<extra_model_paths 'videocanvas_training' entry 1>/set/clip.mp4: "
                              "cannot be read as a video"), message
    assert str(tmp_path) not in message


def test_train_lora_bounds_its_walk_by_name(comfy, checkpoints, pack, in_input, monkeypatch):
    folder, name = in_input
    deep = folder / "deep"
    for level in range(pack.trainer.data.MAX_FOLDER_DEPTH + 1):
        deep = deep / f"d{level}"
    deep.mkdir(parents=True)
    message = refused(comfy, train_prompt(checkpoints, f"{name}/deep"))
    assert "subfolders nested more than 8 deep; at most 8 levels are looked at" in message, message
    wide = folder / "wide"
    wide.mkdir()
    for i in range(30):
        (wide / f"f{i}.txt").touch()
    monkeypatch.setattr(pack.trainer.data, "MAX_FOLDER_ENTRIES", 25)
    message = refused(comfy, train_prompt(checkpoints, f"{name}/wide"))
    assert message == PREFIX + (f"{name}/wide: more than 25 files and folders (subfolders included); at "
                                "most 25 are looked at: give a smaller folder")


def test_the_command_line_trainer_keeps_absolute_paths(tmp_path):
    """python -m trainer is run by a local user: find_videos without bounds reads any folder."""
    from trainer.data import find_videos

    video = corrupt_video(tmp_path / "anywhere" / "clip.mp4")
    assert find_videos(tmp_path / "anywhere") == [video]


def test_train_lora_bad_targets_regex_and_alpha_are_refused_by_name_once(comfy, checkpoints, in_input):
    folder, name = in_input
    corrupt_video(folder / "clip.mp4")
    message = refused(comfy, train_prompt(checkpoints, name, targets="self_attn.q, re:("))
    assert message.startswith(PREFIX + "targets: 're:(' is not a valid regular expression ("), message
    message = refused(comfy, train_prompt(checkpoints, name, alpha=math.nan))
    assert message == PREFIX + "alpha must be a finite number in [0, 1024]; got nan"


def test_train_lora_refuses_a_length_that_is_not_4k_plus_1_by_name(comfy, checkpoints, in_input):
    """The API sends any integer (ComfyUI does not enforce the widget's step): vc_core's length rule."""
    folder, name = in_input
    corrupt_video(folder / "clip.mp4")
    message = refused(comfy, train_prompt(checkpoints, name, length=10))
    assert message == PREFIX + "length must be 4k+1 (…, 9, 13, …); got 10"


# -------------------------------------------------------------------------------- example inputs


def test_the_example_input_copy_never_writes_through_a_link_nor_replaces_a_file(pack, tmp_path):
    """Planted in the input folder: a dangling link and a link to an existing file (both outside),
    under shipped names. The copy leaves them as they are, writes nothing outside, and leaves no
    temporary file behind; the other shipped files are copied."""
    import folder_paths

    copy = pack.vc_nodes.example_inputs.copy_example_inputs
    shipped = sorted(p.name for p in pack.vc_nodes.example_inputs.SHIPPED.iterdir() if p.is_file())
    target, outside = tmp_path / "input", tmp_path / "elsewhere"
    target.mkdir()
    outside.mkdir()
    (outside / "kept.png").write_bytes(b"someone else's file")
    (target / "videocanvas_mask.png").symlink_to(outside / "x.png")  # dangling
    (target / "videocanvas_keyframe.png").symlink_to(outside / "kept.png")
    before = folder_paths.get_input_directory()
    folder_paths.set_input_directory(str(target))
    try:
        copied = copy()
    finally:
        folder_paths.set_input_directory(before)
    assert copied == [n for n in shipped if n not in ("videocanvas_mask.png", "videocanvas_keyframe.png")]
    assert sorted(os.listdir(outside)) == ["kept.png"]  # nothing created through the dangling link
    assert (outside / "kept.png").read_bytes() == b"someone else's file"
    assert os.readlink(target / "videocanvas_mask.png") == str(outside / "x.png")
    assert os.readlink(target / "videocanvas_keyframe.png") == str(outside / "kept.png")
    assert sorted(os.listdir(target)) == shipped  # no temporary file left


def test_writing_a_new_file_refuses_every_existing_name(pack, tmp_path):
    write = pack.vc_nodes.example_inputs.write_new_file
    (tmp_path / "file").write_bytes(b"mine")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "folder").mkdir()
    for name in ("file", "dangling", "folder"):
        assert write(tmp_path / name, b"new") is False, name
    assert (tmp_path / "file").read_bytes() == b"mine" and not (tmp_path / "nowhere").exists()
    assert write(tmp_path / "fresh", b"new") is True and (tmp_path / "fresh").read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["dangling", "file", "folder", "fresh"]


# ------------------------------------------------------------------- every float and combo input


def every_widget(pack):
    import comfy_api.latest as api

    for node in pack.vc_nodes.NODES:
        for spec in node.define_schema().inputs:
            if isinstance(spec, (api.io.Float.Input, api.io.Combo.Input)):
                yield node, spec


def test_every_float_input_of_every_node_must_be_finite(pack):
    """ComfyUI lets NaN through its min/max checks (and checks no linked value): every pack node
    refuses a NaN or infinite float before it does anything, naming itself and the input."""
    import comfy_api.latest as api

    checked = 0
    for node, spec in every_widget(pack):
        if not isinstance(spec, api.io.Float.Input):
            continue
        for bad in (math.nan, math.inf):
            with pytest.raises(ValueError) as err:
                node.execute(**{spec.id: bad})
            message = str(err.value)
            assert message.startswith(f"{node.define_schema().display_name}: {spec.id} must be a finite "
                                      f"number in [{spec.min:g}, {spec.max:g}]"), message
            assert message.endswith(f"; got {bad!r}"), message
            checked += 1
    assert checked >= 2 * 25  # cfg, denoise, strengths, feathers, boxes, zooms, fps, alpha, ...


def test_every_combo_input_of_every_node_must_be_one_of_its_options(pack):
    """ComfyUI 0.3.75 does not check a V3 combo's value: a misspelled sampler_name ran with a
    fallback. Every pack node refuses a value outside the options, listing them."""
    import comfy_api.latest as api

    checked = set()
    for node, spec in every_widget(pack):
        if not isinstance(spec, api.io.Combo.Input):
            continue
        with pytest.raises(ValueError) as err:
            node.execute(**{spec.id: "eulr"})
        name = node.define_schema().display_name
        assert str(err.value) == (f"{name}: {spec.id}: 'eulr' is not one of the allowed values: "
                                  + ", ".join(repr(o) for o in spec.options)), str(err.value)
        checked.add((node.__name__, spec.id))
    assert {("VideoCanvasSampler", "sampler_name"), ("VideoCanvasSampler", "scheduler"),
            ("VideoCanvasLongVideo", "output"), ("VideoCanvasPatchPlacer", "fit")} <= checked
