"""Each noise kind's realised transitions are its definition; seeded, vectorised, in the id."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import truncnorm

from robustloss.components.noise import ASYMMETRIC_MAPS, corrupt, transition_counts
from robustloss.components.noise.class_maps import CIFAR100_SUPERCLASSES, superclass_map
from robustloss.components.noise.instance import class_scores, flip_rates, instance_noise
from robustloss.data import LabelledData, load
from robustloss.experiments.experiment import ExperimentSettings, check_noise_fits

from .conftest import SHARED_DATA

K = 10


def labels_of(n=12000, k=K, seed=1):
    return np.random.default_rng(seed).integers(0, k, n)


def off_diagonal(counts):
    return {(int(g), int(t)) for g, t in zip(*np.nonzero(counts), strict=True) if g != t}


@pytest.mark.parametrize("dataset", sorted(ASYMMETRIC_MAPS))
@pytest.mark.parametrize("mode", ["exact", "bernoulli"])
def test_asymmetric_flips_only_the_listed_pairs_at_rate_eta(dataset, mode):
    k = 100 if "cifar100" in dataset else K
    labels = labels_of(k=k, n=60000 if k == 100 else 12000)
    noisy, corrupted = corrupt("asymmetric", labels, k, 0.3, seed=0, mode=mode, dataset=dataset)
    mapping = ASYMMETRIC_MAPS[dataset]
    counts = transition_counts(noisy, labels, k)
    assert off_diagonal(counts) == {(target, source) for source, target in mapping.items()}
    assert np.array_equal(corrupted, noisy != labels)
    for source in mapping:  # the rate within every listed class
        members = labels == source
        if mode == "exact":
            assert corrupted[members].sum() == round(0.3 * members.sum())
        else:
            assert abs(corrupted[members].mean() - 0.3) < 0.06
    unlisted = ~np.isin(labels, list(mapping))
    assert not corrupted[unlisted].any()


def test_cifar100_map_stays_inside_the_superclass_and_is_a_cycle():
    mapping = superclass_map()
    coarse = {fine: i for i, members in enumerate(CIFAR100_SUPERCLASSES) for fine in members}
    assert sorted(mapping) == list(range(100)) and sorted(mapping.values()) == list(range(100))
    assert all(coarse[a] == coarse[b] and a != b for a, b in mapping.items())
    start, seen = 0, set()
    for _ in range(5):  # following the map from a class visits its 5 siblings, then returns
        seen.add(start)
        start = mapping[start]
    assert start == 0 and len(seen) == 5


def test_cifar100_superclasses_agree_with_the_datasets_coarse_labels():
    path = SHARED_DATA / "CIFAR-N" / "CIFAR-100_human.pt"
    if not path.is_file():
        pytest.skip(f"{path} absent (the CIFAR-100N file with fine and coarse clean labels)")
    from robustloss.data.cifar_n import read_human_labels
    data = read_human_labels(path)
    fine, coarse = np.asarray(data["clean_label"]), np.asarray(data["clean_coarse_label"])
    for index, members in enumerate(CIFAR100_SUPERCLASSES):
        assert set(np.unique(coarse[np.isin(fine, members)])) == {index}
        assert set(np.unique(fine[coarse == index])) == set(members)


@pytest.mark.parametrize("mode", ["exact", "bernoulli"])
def test_pairflip_moves_class_i_to_i_plus_one_only(mode):
    labels = labels_of()
    noisy, corrupted = corrupt("pairflip", labels, K, 0.4, seed=3, mode=mode)
    assert off_diagonal(transition_counts(noisy, labels, K)) == {((i + 1) % K, i) for i in range(K)}
    assert abs(corrupted.mean() - 0.4) < (0.001 if mode == "exact" else 0.015)


def some_images(n=12000, seed=0):
    """Images with structure (class templates + noise), as uint8 (n, 1, 8, 8), and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, K, n)
    templates = rng.integers(0, 256, (K, 1, 8, 8))
    pixels = np.clip(templates[labels] + rng.normal(0, 40, (n, 1, 8, 8)), 0, 255)
    return torch.from_numpy(pixels.astype(np.uint8)), labels


@pytest.mark.parametrize("eta", [0.1, 0.2, 0.4])
def test_instance_exact_mode_realises_eta(eta):
    images, labels = some_images()
    noisy, corrupted = corrupt("instance", labels, K, eta, seed=0, images=images)
    assert abs(corrupted.mean() - eta) <= 0.01
    assert np.array_equal(corrupted, noisy != labels)


@pytest.mark.parametrize("eta", [0.1, 0.4])
def test_instance_bernoulli_mode_is_xia_et_al_with_the_truncated_normal_mean(eta):
    images, labels = some_images()
    _, corrupted = corrupt("instance", labels, K, eta, seed=1, mode="bernoulli", images=images)
    expected = truncnorm.mean(-eta / 0.1, (1 - eta) / 0.1, loc=eta, scale=0.1)
    assert abs(corrupted.mean() - expected) <= 0.01
    if eta == 0.1:  # truncation at 0 lifts the mean well above eta
        assert expected > 0.12


def test_instance_rates_vary_per_sample_and_targets_follow_the_image():
    rng = np.random.default_rng(0)
    q = flip_rates(20000, 0.3, 0.1, rng)
    assert 0 <= q.min() and q.max() <= 1 and 0.08 < q.std() < 0.11
    images, labels = some_images(n=400)
    weights = rng.standard_normal((K, images[0].numel(), K))
    scores = class_scores(images, labels, weights)
    # the same image with the same label scores the same, wherever it sits in the data
    twice = torch.cat([images[:5], images[:5]])
    again = class_scores(twice, np.concatenate([labels[:5], labels[:5]]), weights)
    assert np.allclose(again[:5], again[5:]) and np.allclose(again[:5], scores[:5])
    # targets depend on the image: classes' wrong labels concentrate (unlike symmetric noise)
    images, labels = some_images()
    noisy, corrupted = corrupt("instance", labels, K, 0.4, seed=2, images=images)
    counts = transition_counts(noisy, labels, K)
    np.fill_diagonal(counts, 0)
    top_share = counts.max(0) / counts.sum(0)
    assert top_share.mean() > 0.3  # symmetric: ~1/9 per wrong class


def xia_target_distribution(image: np.ndarray, label: int, weights: np.ndarray) -> np.ndarray:
    """Xia et al.'s P(new label | x, y) for a flipped sample, written out: softmax over the
    other classes of x . W[y], x the image flattened and standardised."""
    x = image.astype(np.float64).ravel()
    scores = (x - x.mean()) / x.std(ddof=1) @ weights[label]
    scores[label] = -np.inf
    p = np.exp(scores - scores[np.isfinite(scores)].max())
    return p / p.sum()


@pytest.mark.parametrize("mode", ["bernoulli", "exact"])
def test_instance_noise_flips_each_image_to_the_softmax_of_its_own_scores(mode):
    """instance_noise as the generator runs it, on two images copied 20,000 times each (label
    0, spread 0 so every copy's flip rate is eta): each image loses eta of its copies, never
    to label 0, and its flipped copies' new labels follow Xia et al.'s softmax of that
    image's own scores (W: the seeded projection, the generator's first draw)."""
    rng = np.random.default_rng(7)
    pair = rng.integers(0, 256, (2, 1, 8, 8)).astype(np.uint8)
    n = 20000
    images = torch.from_numpy(np.repeat(pair, n, axis=0))
    labels = np.zeros(2 * n, dtype=np.int64)
    noisy, corrupted = instance_noise(images, labels, K, 0.4, seed=3, mode=mode, spread=0.0)
    assert np.array_equal(corrupted, noisy != labels)
    if mode == "exact":
        assert corrupted.sum() == round(0.4 * 2 * n)
    weights = np.random.default_rng(3).standard_normal((K, 64, K))
    expected = [xia_target_distribution(image, 0, weights) for image in pair]
    assert np.abs(expected[0] - expected[1]).max() > 0.1       # the image decides, not the label
    for copies, p in zip((slice(0, n), slice(n, 2 * n)), expected, strict=True):
        assert abs(corrupted[copies].mean() - 0.4) < 0.015
        moved = noisy[copies][corrupted[copies]]
        seen = np.bincount(moved, minlength=K) / len(moved)
        assert seen[0] == 0 and np.abs(seen - p).max() < 0.02, (seen.round(3), p.round(3))


@pytest.mark.parametrize("kind", ["symmetric", "asymmetric", "pairflip", "instance"])
def test_every_kind_is_seeded(kind):
    images, labels = some_images(n=3000)
    run = [corrupt(kind, labels, K, 0.3, seed=s, dataset="mnist", images=images)[0]
           for s in (5, 5, 6)]
    assert np.array_equal(run[0], run[1]) and not np.array_equal(run[0], run[2])


def test_instance_noise_on_real_digits_realises_eta_and_depends_on_the_image():
    data = load("digits")
    noisy, corrupted = corrupt("instance", data.labels, K, 0.2, seed=0, images=data.images)
    assert abs(corrupted.mean() - 0.2) <= 0.01


def settings(**noise):
    return ExperimentSettings.from_dict({
        "dataset": {"name": "digits"}, "loss": {"name": "ce"}, "model": {"name": "small_cnn"},
        "detector": {"name": "confident_learning"}, "noise": {"rate": 0.2, **noise}})


def test_ids_differ_by_kind_and_symmetric_ids_are_unchanged():
    ids = {kind: settings(kind=kind).id for kind in ("symmetric", "asymmetric", "pairflip", "instance")}
    assert len(set(ids.values())) == 4
    assert settings().id == ids["symmetric"]
    assert "kind" not in settings().identity()["noise"]
    # the id `python -m robustloss.run dataset=digits` gives, the same as before noise kinds
    # existed and before the API composed the configs (2091591a5346e25a at commit 0c268bf,
    # pipeline version 4; the fast small-CNN step made it version 5)
    assert ids["symmetric"] == "5709fbe7dad64528"


def test_the_default_width_keeps_earlier_ids_and_a_wider_model_gets_its_own():
    """small_cnn's widen (find-issues' --width) came after records existed: at 1, the network
    built before, it stays out of the identity; at 2 it names another experiment."""
    wide = ExperimentSettings.from_dict({
        "dataset": {"name": "digits"}, "loss": {"name": "ce"},
        "model": {"name": "small_cnn", "widen": 2}, "detector": {"name": "confident_learning"},
        "noise": {"rate": 0.2}})
    assert settings().model.params["widen"] == 1                 # completed from the factory
    assert "widen" not in settings().identity()["model"]["params"]
    assert settings().id == "5709fbe7dad64528"
    assert wide.identity()["model"]["params"]["widen"] == 2 and wide.id != settings().id


def test_parameters_a_kind_does_not_read_leave_its_id_alone():
    assert settings(kind="pairflip", spread=0.3).id == settings(kind="pairflip").id
    assert settings(kind="instance", spread=0.3).id != settings(kind="instance").id
    assert settings(kind="asymmetric", flips=[[1, 2]]).id != settings(kind="asymmetric").id


def test_human_labels_refuse_another_kind_before_training():
    data = load("digits")
    human = LabelledData("human", data.images, data.labels, 10, given_labels=data.labels)
    check_noise_fits(settings().noise, "cifar10n_aggregate", human)
    with pytest.raises(ValueError, match="ships human labels"):
        check_noise_fits(settings(kind="pairflip").noise, "cifar10n_aggregate", human)
