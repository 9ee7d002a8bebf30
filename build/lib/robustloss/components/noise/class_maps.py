"""Class-dependent label noise: a fixed map source class -> target class, applied to a
fraction eta of each source class. Two maps of the literature:

- ``asymmetric``: the class-dependent maps of Zhang & Sabuncu 2018 (GCE), Ma et al. 2020 and
  Ye et al. 2023 (Active Negative Loss, ``dataset.py`` get_asym_T_*), per dataset;
- ``pairflip``: class i -> class (i + 1) mod K for every class (Han et al. 2018, Co-teaching).

Only the mapped classes flip, so the overall rate is eta times their share of the data.
"""

from __future__ import annotations

import numpy as np

# MNIST (GCE / ANL papers): 7 -> 1, 2 -> 7, 5 <-> 6, 3 -> 8.
MNIST_MAP = {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}
# CIFAR-10 (same papers): truck -> automobile, bird -> airplane, cat <-> dog, deer -> horse.
CIFAR10_MAP = {9: 1, 2: 0, 3: 5, 5: 3, 4: 7}
# Fashion-MNIST has no map in those papers. Ours, in MNIST's shape (5 of 10 classes, one
# swapped pair), on the pairs a classifier confuses most: T-shirt/top <-> Shirt (0 <-> 6),
# Pullover -> Coat (2 -> 4), Sandal -> Sneaker (5 -> 7), Ankle boot -> Sneaker (9 -> 7).
FASHION_MNIST_MAP = {0: 6, 6: 0, 2: 4, 5: 7, 9: 7}

# CIFAR-100's 20 superclasses (coarse labels of the dataset's meta), each as its 5 fine
# labels (fine label indices in the dataset's alphabetical order). Checked against the
# coarse labels shipped with CIFAR-100N in tests/test_noise_kinds.py when the file is present.
CIFAR100_SUPERCLASSES = (
    (4, 30, 55, 72, 95),     # aquatic mammals
    (1, 32, 67, 73, 91),     # fish
    (54, 62, 70, 82, 92),    # flowers
    (9, 10, 16, 28, 61),     # food containers
    (0, 51, 53, 57, 83),     # fruit and vegetables
    (22, 39, 40, 86, 87),    # household electrical devices
    (5, 20, 25, 84, 94),     # household furniture
    (6, 7, 14, 18, 24),      # insects
    (3, 42, 43, 88, 97),     # large carnivores
    (12, 17, 37, 68, 76),    # large man-made outdoor things
    (23, 33, 49, 60, 71),    # large natural outdoor scenes
    (15, 19, 21, 31, 38),    # large omnivores and herbivores
    (34, 63, 64, 66, 75),    # medium-sized mammals
    (26, 45, 77, 79, 99),    # non-insect invertebrates
    (2, 11, 35, 46, 98),     # people
    (27, 29, 44, 78, 93),    # reptiles
    (36, 50, 65, 74, 80),    # small mammals
    (47, 52, 56, 59, 96),    # trees
    (8, 13, 48, 58, 90),     # vehicles 1
    (41, 69, 81, 85, 89),    # vehicles 2
)


def superclass_map(superclasses=CIFAR100_SUPERCLASSES) -> dict[int, int]:
    """Each class -> the next class of its superclass, circularly (Ye et al. 2023 with the
    real superclasses; their code takes 5i..5i+4, which is not CIFAR-100's label order)."""
    return {members[i]: members[(i + 1) % len(members)]
            for members in superclasses for i in range(len(members))}


# dataset name -> its asymmetric map. digits are handwritten digits like MNIST, so they
# take MNIST's map; the cleaned CIFAR-100 test set has CIFAR-100's classes.
ASYMMETRIC_MAPS = {
    "digits": MNIST_MAP,
    "mnist": MNIST_MAP,
    "fashion_mnist": FASHION_MNIST_MAP,
    "cifar10": CIFAR10_MAP,
    "cifar100": superclass_map(),
    "cifar100_cleaned_test": superclass_map(),
}


def pairflip_map(num_classes: int) -> dict[int, int]:
    return {i: (i + 1) % num_classes for i in range(num_classes)}


def asymmetric_map(dataset: str, num_classes: int, flips=None) -> dict[int, int]:
    """The dataset's map, or ``flips`` ([[source, target], ...]) when given. ValueError
    naming the setting when there is none or it does not fit the classes."""
    if flips:
        try:
            mapping = {int(a): int(b) for a, b in flips}
        except (TypeError, ValueError):
            raise ValueError(f"noise.flips must be a list of [source, target] class pairs, "
                             f"got {flips!r}") from None
    elif dataset in ASYMMETRIC_MAPS:
        mapping = ASYMMETRIC_MAPS[dataset]
    else:
        raise ValueError(f"noise.kind=asymmetric has no class map for dataset {dataset!r} "
                         f"(maps: {', '.join(sorted(ASYMMETRIC_MAPS))}); give one as "
                         f"noise.flips=[[source,target],...]")
    bad = sorted({c for pair in mapping.items() for c in pair if not 0 <= c < num_classes})
    if bad or any(a == b for a, b in mapping.items()):
        raise ValueError(f"noise.flips: classes must differ and lie in [0, {num_classes}), "
                         f"got {mapping}")
    return mapping


def flip_by_map(labels: np.ndarray, mapping: dict[int, int], rate: float, seed: int,
                mode: str = "exact") -> tuple[np.ndarray, np.ndarray]:
    """Move a fraction ``rate`` of every source class of ``mapping`` to its target.

    labels: int (N,). mode ``exact``: exactly round(rate * n_c) samples of each source class
    c, chosen without replacement; ``bernoulli``: each sample of a source class with
    probability ``rate``. Returns (noisy (N,) int64, corrupted (N,) bool).
    """
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    for source in sorted(mapping):
        members = np.flatnonzero(labels == source)
        if mode == "exact":
            chosen = rng.choice(members, size=int(round(rate * len(members))), replace=False)
        else:
            chosen = members[rng.random(len(members)) < rate]
        noisy[chosen] = mapping[source]
    return noisy, noisy != labels
