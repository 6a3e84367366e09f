"""The command line over many files: what ``train`` learns from, and ``predict`` on a batch.

``unetgui train`` learns from one image and its labels, from a project folder (the
planes annotated in the window, read from each image's sidecar), or from a folder of
images and a folder of labels matched by name. ``unetgui predict MODEL INPUT... -o
OUTDIR`` segments files, folders and globs: one progress bar over the files, outputs
that exist are skipped unless ``--overwrite``, and a file that cannot be read is
reported and skipped; the exit code says whether any failed.
"""

from __future__ import annotations

import argparse
import glob
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from unetgui.core.errors import InvalidInputError, UnetguiError

EXIT_SOME_FAILED = 1


# ------------------------------------------------------------------ what train learns from


@dataclass
class TrainingSource:
    """The labelled planes of a training command, read once the model exists."""

    inputs: list[Path]  # files read (an output must not be one of them)
    n_channels: int  # channels of the images (a new network reads them all)
    planes: Callable  # model -> (training planes, validation planes)
    note: dict = field(default_factory=dict)  # for the model's history


def training_source(args: argparse.Namespace) -> TrainingSource:
    """What ``unetgui train`` learns from, by the form of its arguments (raises
    InvalidInputError with the forms when they fit none)."""
    sources, images, labels = args.sources, args.images, args.labels_folder
    if images is not None or labels is not None:
        if sources or images is None or labels is None:
            raise InvalidInputError("Give both --images DIR and --labels DIR, and no other files.")
        return _from_folders(images, labels, args)
    if len(sources) == 1 and sources[0].is_dir():
        return _from_project(sources[0], args)
    if len(sources) == 2:
        return _from_pair(sources[0], sources[1], args)
    raise InvalidInputError("Give an image and its labels (train IMAGE LABELS), a project folder annotated in "
                            "the window (train FOLDER), or two folders (train --images DIR --labels DIR).")


def _no_plane_choice(args: argparse.Namespace, form: str) -> None:
    if args.planes is not None or args.validation_planes:
        raise InvalidInputError(f"--planes and --validation-planes choose planes of one image; {form}.")


def _from_pair(image: Path, labels: Path, args: argparse.Namespace) -> TrainingSource:
    from unetgui.core.io import open_image, read_labels
    from unetgui.core.predict import model_input
    from unetgui.core.train import TrainingPlane

    with open_image(image) as stack:
        n_planes, n_channels = stack.n_planes, stack.n_channels
        label_stack = read_labels(labels, expected_shape=(stack.n_planes, stack.height, stack.width),
                                  cells_needed_for="train on")
    with_cells = [i for i in range(n_planes) if label_stack[i].any()]
    chosen = args.planes if args.planes is not None else [i for i in with_cells if i not in args.validation_planes]
    for i in [*chosen, *args.validation_planes]:
        if i >= n_planes:
            raise InvalidInputError(f"Plane {i} does not exist: the image has {n_planes} planes (0-{n_planes - 1}).")
    if not chosen:
        raise InvalidInputError(f"The labels in '{labels.name}' contain no cells; there is nothing to train on.")

    def planes(model):
        with open_image(image) as stack:
            def plane(i: int) -> TrainingPlane:
                return TrainingPlane(model_input(stack.read_plane(i), model, args.channel), label_stack[i], None,
                                     f"plane {i}")

            return [plane(i) for i in chosen], [plane(i) for i in args.validation_planes]

    return TrainingSource([image, labels], n_channels, planes, {"image": image.name, "labels": labels.name})


def _from_project(folder: Path, args: argparse.Namespace) -> TrainingSource:
    from unetgui.core.project import open_project
    from unetgui.core.project_jobs import training_set

    _no_plane_choice(args, "a project uses the planes marked in the window")
    opened = open_project(folder)
    for note in opened.notes:
        print(note, file=sys.stderr)
    project = opened.project

    def planes(model):
        found = training_set(project, model, args.channel)
        for note in found.notes:
            print(note, file=sys.stderr)
        if not found.training:
            raise InvalidInputError(f"No plane of the images in '{folder}' is marked for training: annotate some "
                                    "in the window first (painting on a plane marks it).")
        print(f"Training planes from {len(found.sources)} image(s): "
              f"{', '.join(f'{n} ({k})' for n, k in found.sources.items())}.", file=sys.stderr)
        return found.training, found.validation

    return TrainingSource([project.path_of(n) for n in project.images], _first_channels(project.path_of, project.images),
                          planes, {"project": folder.name})


def _from_folders(images: Path, labels: Path, args: argparse.Namespace) -> TrainingSource:
    from unetgui.core.io import open_image, read_labels
    from unetgui.core.predict import model_input
    from unetgui.core.project import label_pairs
    from unetgui.core.train import TrainingPlane

    _no_plane_choice(args, "with --images and --labels every plane with cells is used")
    for folder in (images, labels):
        if not folder.is_dir():
            raise InvalidInputError(f"'{folder}' is not a folder.")
    pairs, unmatched = label_pairs(images, labels)
    if not pairs:
        raise InvalidInputError(f"No image in '{images}' has a label file of the same name in '{labels}' "
                                "(NAME.tif with NAME.tif, NAME_labels.tif or NAME_masks.tif).")
    if unmatched:
        print(f"{len(unmatched)} image(s) without labels are left out: {', '.join(unmatched[:5])}"
              f"{' ...' if len(unmatched) > 5 else ''}", file=sys.stderr)

    def planes(model):
        training = []
        for image, label_file in pairs:
            with open_image(image) as stack:
                label_stack = read_labels(label_file, expected_shape=(stack.n_planes, stack.height, stack.width))
                training += [TrainingPlane(model_input(stack.read_plane(i), model, args.channel), label_stack[i],
                                           None, f"{image.name} plane {i}")
                             for i in range(stack.n_planes) if label_stack[i].any()]
        if not training:
            raise InvalidInputError(f"The label files in '{labels}' contain no cells; there is nothing to train on.")
        print(f"Training on {len(pairs)} image(s) with labels.", file=sys.stderr)
        return training, []

    files = [path for pair in pairs for path in pair]
    return TrainingSource(files, _first_channels(lambda p: p, [p for p, _ in pairs]), planes,
                          {"images": images.name, "labels": labels.name})


def _first_channels(path_of, names) -> int:
    """Channels of the first image that opens (a new network is built for them)."""
    from unetgui.core.io import open_image

    for name in names:
        try:
            with open_image(path_of(name)) as stack:
                return stack.n_channels
        except UnetguiError:
            continue
    raise InvalidInputError("None of the images can be opened.")


# ------------------------------------------------------------------ predict on many files


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files, folders (their images) and globs, in the order given, each file once."""
    from unetgui.core.project import IMAGE_SUFFIXES, find_images, natural_key

    found: list[Path] = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            found += [path / name for name in find_images(path)]
        elif path.exists():
            found.append(path)
        elif glob.has_magic(text):
            matches = [Path(m) for m in glob.glob(text) if m.lower().endswith(IMAGE_SUFFIXES)]
            if not matches:
                raise InvalidInputError(f"No image matches '{text}'.")
            found += sorted(matches, key=lambda p: natural_key(str(p)))
        else:
            raise InvalidInputError(f"Cannot open '{text}': there is no such file or folder.")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise InvalidInputError("There are no images in the inputs given (TIFF, PNG or JPEG).")
    return unique


def is_batch(args: argparse.Namespace) -> bool:
    """Predict writes a folder for several inputs, a folder or a glob, or when -o has no
    suffix ('-o results'); one file with '-o out.tif' writes that file."""
    return len(args.inputs) != 1 or not Path(args.inputs[0]).is_file() or not args.output.suffix


def predict_many(args: argparse.Namespace, predict_one: Callable, *, executor=None, model_file: bytes = b"") -> int:
    """``unetgui predict MODEL INPUT... -o OUTDIR``: ``predict_one(image, labels_path,
    probabilities_path, say)`` for each file; a summary at the end.

    With an ``executor`` (a Dask cluster's), each file is a task on a worker, which loads
    the model from ``model_file`` once; a file whose worker dies is predicted again
    elsewhere (outputs are written atomically, never half).
    """
    from unetgui.core.io import describe_os_error
    from unetgui.core.outputs import output_name

    if isinstance(args.probabilities, Path):
        raise InvalidInputError("With several images or an output folder, give --probabilities without a file "
                                "name: each image's goes beside its labels as NAME_probabilities.tif.")
    files = expand_inputs(args.inputs)
    folder = args.output
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInputError(f"Cannot create the output folder '{folder}': {describe_os_error(error, folder)}.") \
            from error
    names = [output_name(path.name, "labels") for path in files]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInputError(f"Several inputs would write the same output ({', '.join(twice[:3])}); give "
                                "them separate output folders.")
    todo, skipped = [], 0
    for path in files:
        labels_path = folder / output_name(path.name, "labels")
        probabilities_path = folder / output_name(path.name, "probabilities") if args.probabilities else None
        if not args.overwrite and labels_path.exists() and (probabilities_path is None or probabilities_path.exists()):
            skipped += 1
        else:
            todo.append((path, labels_path, probabilities_path))
    from tqdm import tqdm

    written, failed = 0, []
    with tqdm(total=len(todo), desc="predicting", unit="image", file=sys.stderr, dynamic_ncols=True,
              disable=None) as bar:
        if executor is None:
            results = (_predict_or_report(predict_one, path, labels_path, probabilities_path,
                                          lambda text, name=path.name: bar.write(f"{name}: {text}"))
                       for path, labels_path, probabilities_path in todo)
        else:  # one file per task; the workers say nothing, the summary says what failed
            import hashlib

            blob, key = executor.share(model_file), hashlib.sha256(model_file).hexdigest()
            results = executor.map(predict_file_task, [(args, blob, key, executor.torch_threads, *item)
                                                        for item in todo])
        for name, problem in results:
            bar.update(1)
            bar.set_postfix_str(name, refresh=False)
            if problem is None:
                written += 1
            else:
                failed.append((name, problem))
                bar.write(f"unetgui predict: {name} skipped: {problem}")
    parts = [f"Wrote labels of {written} image(s) to {folder}"]
    if skipped:
        parts.append(f"skipped {skipped} whose output exists (--overwrite replaces it)")
    if failed:
        parts.append(f"{len(failed)} failed: " + "; ".join(f"{name} ({why})" for name, why in failed))
    print("; ".join(parts) + ".", file=sys.stderr)
    return EXIT_SOME_FAILED if failed else 0


def _predict_or_report(predict_one: Callable, path: Path, labels_path: Path, probabilities_path: Path | None,
                       say) -> tuple[str, str | None]:
    """(file name, None) when predicted; (file name, why) for a file that cannot be."""
    from unetgui.core import memory

    try:
        predict_one(path, labels_path, probabilities_path, say)
    except (UnetguiError, MemoryError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and not memory.is_out_of_memory(error):
            raise  # a programming error, not a bad file
        return path.name, " ".join(str(error).split()) if isinstance(error, UnetguiError) else "not enough memory"
    return path.name, None


def predict_file_task(args: argparse.Namespace, blob: bytes, key: str, threads: int, path: Path,
                      labels_path: Path, probabilities_path: Path | None) -> tuple[str, str | None]:
    """One file of a many-file job, on a cluster's worker (module-level: Dask sends it by name)."""
    from unetgui.cli import _predict_file
    from unetgui.core.blockwise_job import worker_model

    model = worker_model(blob, key, args.device if args.device in ("cpu", "cuda") else "auto", threads)
    return _predict_or_report(lambda *paths: _predict_file(args, model, *paths, progress=False), path,
                              labels_path, probabilities_path, lambda text: None)
