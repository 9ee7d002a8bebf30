"""A practitioner's data, read into one shape: inputs, integer labels, class names, names of
the samples. Three kinds of input:

- an image folder in torchvision's ``ImageFolder`` layout (``root/<class>/<image>``), any
  image sizes, resized to one size;
- an ``.npz`` with ``images`` (uint8) and ``labels`` (as ``dataset=arrays``), optionally
  ``class_names``;
- a table of feature vectors (``.csv``, ``.parquet``, or ``.npy`` with a separate labels
  file), e.g. embeddings from a pretrained network, with a label column.

Every check runs here, before any training: each failure is one line naming the file or
value (a ValueError / FileNotFoundError that the command line reports as such).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".npy")
log = logging.getLogger("robustloss.find")


@dataclass
class UserData:
    """inputs: uint8 images (N, C, H, W) or float32 features (N, D); labels: int64 (N,) in
    [0, K); class_names: K names; sample_names: N names (file paths relative to the folder,
    "image i" in an .npz, "row i" in a table); source: what was read; kind: "images" or "features"."""

    inputs: torch.Tensor
    labels: np.ndarray
    class_names: list[str]
    sample_names: list[str]
    source: str
    kind: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.labels)


def encode_labels(values, source: str) -> tuple[np.ndarray, list[str]]:
    """Any label values (strings or integers) -> int64 codes 0..K-1 and the K class names,
    sorted (numerically where all labels are integers, also when read as text: "2" before
    "10"). Text labels stay as written ("NA" is a class, "007" and "7" are two); a missing
    or empty label is an error."""
    values = pd.Series(np.asarray(values))
    numbers = values.dtype.kind in "iubf"
    if not numbers:  # text, as written
        values = values.where(values.isna(), values.astype(str).str.strip())
        values = values.mask(values == "")
    if values.isna().any():
        rows = values.index[values.isna()][:5].tolist()
        raise ValueError(f"{source}: missing labels in rows {rows}")
    if numbers:
        codes, classes = pd.factorize(values, sort=True)
        return codes.astype(np.int64), [str(c) for c in classes]
    names = values.unique().tolist()
    whole = all(re.fullmatch(r"-?\d+", name) for name in names)
    classes = sorted(names, key=lambda name: (int(name), name) if whole else (0, name))
    index = {name: k for k, name in enumerate(classes)}
    return np.array(values.map(index), dtype=np.int64), classes  # a writable copy


def row_numbers(table: pd.DataFrame) -> list[str]:
    """Columns that number the rows (0..N-1 or 1..N in order, e.g. the index ``to_csv``
    writes as "Unnamed: 0"): not features. A model would learn the class from them wherever
    the rows are sorted by class, and stop seeing the errors."""
    n = len(table)
    return [column for column in table.columns if table[column].dtype.kind in "iu" and n > 1
            and (np.array_equal(table[column], np.arange(n))
                 or np.array_equal(table[column], np.arange(1, n + 1)))]


def check_classes(data: UserData, folds: int) -> UserData:
    """At least two classes, and every class with at least ``folds`` samples."""
    if data.num_classes < 2:
        raise ValueError(f"{data.source}: only one class ({data.class_names[0]!r}); finding "
                         "label errors needs at least two")
    counts = np.bincount(data.labels, minlength=data.num_classes)
    small = {data.class_names[k]: int(n) for k, n in enumerate(counts) if n < folds}
    if small:
        raise ValueError(f"{data.source}: {folds}-fold cross-validation needs at least {folds} "
                         f"samples per class; too few in (class: count) {small}")
    return data


def load_user_data(path: str | Path, label_column: str = "label", labels_path: str | Path | None = None,
                   image_size: int | None = None) -> UserData:
    """Read ``path`` (an image folder, an .npz, or a feature table; see the module doc)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.is_dir():
        return read_image_folder(path, image_size)
    if path.suffix == ".npz":
        return read_npz(path)
    if path.suffix in TABLE_SUFFIXES:
        return read_feature_table(path, label_column, labels_path)
    raise ValueError(f"{path}: expected an image folder, an .npz, or a feature table "
                     f"({', '.join(TABLE_SUFFIXES)})")


def read_image_folder(root: Path, image_size: int | None = None) -> UserData:
    """``root/<class name>/<image>`` (torchvision ImageFolder). Images become grey when all
    are grey, RGB otherwise; all are resized to ``image_size`` square, or, when None, kept at
    their size if they share one and resized to 32 x 32 if not."""
    from PIL import Image, UnidentifiedImageError
    from torchvision.datasets import ImageFolder

    try:
        folder = ImageFolder(str(root), loader=lambda p: p)  # paths only; opened below
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{root}: not an image folder (root/<class>/<image>): {error}") from None
    pictures = []
    for file, _ in folder.samples:
        try:
            with Image.open(file) as image:
                image.load()
                pictures.append(image.copy())
        except (UnidentifiedImageError, OSError) as error:
            raise ValueError(f"{file}: unreadable image ({error})") from None
    grey = all(p.mode in ("L", "1", "I", "I;16", "LA") for p in pictures)
    sizes = {p.size for p in pictures}
    side = image_size or (None if len(sizes) == 1 else 32)
    mode = "L" if grey else "RGB"
    arrays = []
    for picture in pictures:
        picture = eight_bit(picture).convert(mode)
        if side is not None and picture.size != (side, side):
            picture = picture.resize((side, side), Image.Resampling.BILINEAR)
        array = np.asarray(picture, dtype=np.uint8)
        arrays.append(array[None] if grey else array.transpose(2, 0, 1))
    images = torch.from_numpy(np.stack(arrays))
    labels = np.array(folder.targets, dtype=np.int64)
    names = [str(Path(file).relative_to(root)) for file, _ in folder.samples]
    return UserData(images, labels, list(folder.classes), names, str(root), "images")


def eight_bit(picture):
    """A 16-bit grey image (mode "I;16", or "I" holding values above 255, as Pillow opens
    16-bit PNGs) scaled to 8 bits (value // 256); ``convert("L")`` would clip it at 255,
    turning it white. Other images as they are."""
    from PIL import Image

    if not picture.mode.startswith("I"):
        return picture
    values = np.asarray(picture, dtype=np.int64)
    if picture.mode.startswith("I;16") or values.max() > 255:
        values = values // 256
    return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), mode="L")


def read_npz(path: Path) -> UserData:
    """images + labels as ``dataset=arrays`` reads them; ``class_names`` (K strings) if
    present."""
    from robustloss.data.arrays import arrays

    data = arrays(path=str(path))
    with np.load(path, allow_pickle=False) as handle:
        names = [str(n) for n in handle["class_names"]] if "class_names" in handle.files else None
    if names is not None and len(names) != data.num_classes:
        raise ValueError(f"{path}: 'class_names' has {len(names)} names for {data.num_classes} classes")
    names = names or [str(k) for k in range(data.num_classes)]
    return UserData(data.images, data.labels, names, [f"image {i}" for i in range(len(data))],
                    str(path), "images")


def read_feature_table(path: Path, label_column: str = "label",
                       labels_path: str | Path | None = None) -> UserData:
    """A CSV / Parquet table: ``label_column`` holds the labels, every other numeric column is
    a feature. An .npy: a (N, D) float array; labels from ``labels_path`` (.npy, or a text /
    CSV file with one label per line)."""
    if path.suffix == ".npy":
        features = np.load(path, allow_pickle=False)
        if features.ndim != 2:
            raise ValueError(f"{path}: features must be a 2-D array (N, D), got shape {features.shape}")
        if labels_path is None:
            raise ValueError(f"{path}: an .npy holds no labels; give them with --labels FILE")
        raw_labels = read_label_file(Path(labels_path))
        if len(raw_labels) != len(features):
            raise ValueError(f"{labels_path}: {len(raw_labels)} labels for {len(features)} rows of {path}")
        names = [f"row {i}" for i in range(len(features))]
    else:
        try:
            table = (pd.read_parquet(path) if path.suffix in (".parquet", ".pq")
                     else pd.read_csv(path, dtype={label_column: str}))  # labels as written
        except Exception as error:  # noqa: BLE001  (pandas raises many kinds)
            raise ValueError(f"{path}: unreadable table ({type(error).__name__}: {error})") from None
        if label_column not in table.columns:
            raise ValueError(f"{path}: no label column {label_column!r}; columns are "
                             f"{list(table.columns)[:12]} (choose one with --label-column)")
        raw_labels = table.pop(label_column)
        if path.suffix == ".csv" and raw_labels.isna().any():  # "NA", "None": text or empty?
            raw_labels = pd.read_csv(path, usecols=[label_column], dtype=str,
                                     keep_default_na=False)[label_column]
        numeric = table.select_dtypes("number")
        numbering = row_numbers(numeric)
        if numbering:
            log.info("%s: column(s) %s number the rows; not used as features", path, numbering)
            numeric = numeric.drop(columns=numbering)
        if numeric.shape[1] == 0:
            raise ValueError(f"{path}: no numeric feature columns besides {label_column!r}"
                             + (f" and the row numbers {numbering}" if numbering else ""))
        names = [f"row {i}" for i in table.index]
        features = numeric.to_numpy()
    features = np.array(features, dtype=np.float32)  # a writable copy
    if not np.isfinite(features).all():
        bad = np.flatnonzero(~np.isfinite(features).all(1))[:5].tolist()
        raise ValueError(f"{path}: features are missing or infinite in rows {bad}")
    labels, classes = encode_labels(raw_labels, str(labels_path or path))
    return UserData(torch.from_numpy(features), labels, classes, names, str(path), "features")


def read_label_file(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"no labels file {path}")
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    return pd.read_csv(path, header=None, dtype=str, keep_default_na=False).iloc[:, 0].to_numpy()
