import numpy as np
import pytest
import torch

from robustloss.components import losses, models
from robustloss.data import load
from robustloss.training.crossval import CrossValSettings, check_folds, cross_validate, fold_assignment
from robustloss.training.finished_folds import FinishedFolds
from robustloss.training.plan import TrainingPlan
from robustloss.training.train_settings import TrainSettings


def small_digits(n=400):
    data = load("digits").subset(n, seed=0)
    return data.images, data.labels


def run_cv(images, labels, seed=0, folds=3, make_model=None, settings=None, finished=None):
    make_model = make_model or (lambda: models.build("small_cnn", (1, 8, 8), 10))
    return cross_validate(images, labels, 10, make_model,
                          losses.LossSchedule(losses.build("ce", 10)),
                          TrainingPlan.resolve(settings or TrainSettings(epochs=2, lr=3e-3)),
                          folds=folds, seed=seed,
                          progress=False, finished=finished)


def test_each_sample_held_out_exactly_once():
    _, labels = small_digits()
    fold_of = fold_assignment(labels, 5, seed=0)
    assert set(fold_of) == set(range(5))
    counts = np.bincount(fold_of)
    assert counts.sum() == len(labels) and counts.max() - counts.min() <= 10


def test_out_of_fold_probabilities_fill_every_row():
    images, labels = small_digits()
    result = run_cv(images, labels)
    assert result.probabilities.shape == (len(labels), 10)
    assert np.isfinite(result.probabilities).all()
    np.testing.assert_allclose(result.probabilities.sum(1), 1, atol=1e-5)
    assert sum(f["n_held_out"] for f in result.folds) == len(labels)


class Spy(torch.nn.Module):
    """Wraps the model and records which images it was trained on (train mode)."""

    seen: list = []

    def __init__(self):
        super().__init__()
        self.net = models.build("small_cnn", (1, 8, 8), 10)
        self.trained_on: set = set()
        Spy.seen.append(self)

    def forward(self, x):
        if self.training:
            # each digits image is identified by its bytes (the subset has no duplicates);
            # inputs are raw 0-255 values by default
            self.trained_on.update(bytes(row) for row in x.round().to(torch.uint8).flatten(1))
        return self.net(x)


def test_fold_model_never_trains_on_its_held_out_samples():
    images, labels = small_digits(300)
    keys = [bytes(img.flatten()) for img in images]
    assert len(set(keys)) == len(keys)
    Spy.seen = []
    result = run_cv(images, labels, make_model=Spy)
    assert len(Spy.seen) == 3
    for k, spy in enumerate(Spy.seen):
        held = {keys[i] for i in np.flatnonzero(result.fold_of == k)}
        train = {keys[i] for i in np.flatnonzero(result.fold_of != k)}
        assert not (spy.trained_on & held)
        assert spy.trained_on == train  # and it saw all of its training samples


def test_same_seed_gives_identical_probabilities_on_cpu():
    images, labels = small_digits(300)
    a = run_cv(images, labels, seed=5)
    b = run_cv(images, labels, seed=5)
    c = run_cv(images, labels, seed=6)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    assert not np.array_equal(a.probabilities, c.probabilities)


def test_class_smaller_than_folds_rejected():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 10)
    with pytest.raises(ValueError, match=r"at least 5 samples per class.*\{1: 3\}"):
        check_folds(labels, 5)


def test_lr_milestones_scale_the_learning_rate():
    images, labels = small_digits(200)
    seen = []

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = models.build("small_cnn", (1, 8, 8), 10)

        def forward(self, x):
            return self.net(x)

    settings = TrainSettings(epochs=3, lr=1e-2, lr_milestones=(1,), lr_gamma=0.5)
    original = torch.optim.Adam.step

    def spy_step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = spy_step
    try:
        run_cv(images, labels, folds=2, make_model=Probe, settings=settings)
    finally:
        torch.optim.Adam.step = original
    assert sorted(set(seen)) == [5e-3, 1e-2]
    assert seen[0] == 1e-2 and seen[-1] == 5e-3


def test_carried_over_model_is_one_object_through_the_folds_and_fresh_models_are_not():
    images, labels = small_digits(300)
    for carry in (False, True):
        Spy.seen, trained = [], []
        result = cross_validate(
            images, labels, 10, Spy, losses.LossSchedule(losses.build("ce", 10)),
            TrainingPlan.resolve(TrainSettings(epochs=1, lr=3e-3)), folds=3, seed=0, progress=False,
            cv=CrossValSettings(carry_model=carry),
            on_fold_trained=lambda k, model, seen=trained: seen.append(model))
        assert len(trained) == 3
        if carry:  # one model, built once; from fold 2 on it has trained on what it predicts
            assert len(Spy.seen) == 1 and all(m is Spy.seen[0] for m in trained)
            keys = [bytes(img.flatten()) for img in images]
            held_last = {keys[i] for i in np.flatnonzero(result.fold_of == 2)}
            assert held_last <= Spy.seen[0].trained_on
        else:
            assert len(Spy.seen) == 3 and len({id(m) for m in trained}) == 3


def test_unstratified_split_with_seed_123_is_the_authors_kfold():
    from sklearn.model_selection import KFold
    _, labels = small_digits(300)
    fold_of = fold_assignment(labels, 5, seed=123, split="kfold")
    for k, (_, held) in enumerate(KFold(5, shuffle=True, random_state=123).split(labels)):
        np.testing.assert_array_equal(np.flatnonzero(fold_of == k), np.sort(held))
    # not stratified: class shares differ between folds more than stratification allows
    stratified = fold_assignment(labels, 5, seed=123)
    assert not np.array_equal(fold_of, stratified)


def test_split_seed_fixes_the_folds_across_trials():
    images, labels = small_digits(200)
    run = lambda seed: cross_validate(  # noqa: E731
        images, labels, 10, lambda: models.build("small_cnn", (1, 8, 8), 10),
        losses.LossSchedule(losses.build("ce", 10)), TrainingPlan.resolve(TrainSettings(epochs=1, lr=3e-3)),
        folds=3, seed=seed, progress=False, cv=CrossValSettings(split="kfold", split_seed=123))
    np.testing.assert_array_equal(run(0).fold_of, run(1).fold_of)


@pytest.mark.parametrize("bad", [{"split": "random"}, {"split_seed": -1}, {"carry_model": "yes"}])
def test_bad_cv_settings_name_the_setting(bad):
    with pytest.raises(ValueError, match=r"cv\." + next(iter(bad))):
        CrossValSettings(**bad)


def test_kept_folds_are_used_only_for_the_same_key_and_split_and_when_readable(tmp_path, caplog):
    images, labels = small_digits()
    key = {"experiment": "x", "precision": "fp32"}
    folds = tmp_path / "folds"
    first = run_cv(images, labels, finished=FinishedFolds(folds, key, {"started": "then"}))
    assert sorted(p.name for p in folds.iterdir()) == ["fold0.npz", "fold1.npz", "fold2.npz"]
    assert not any("earlier_run" in f for f in first.folds)

    again = run_cv(images, labels, finished=FinishedFolds(folds, key, {"started": "now"}))
    np.testing.assert_array_equal(again.probabilities, first.probabilities)
    assert [f["earlier_run"]["started"] for f in again.folds] == ["then"] * 3
    assert all(f["earlier_run"]["seconds"] > 0 for f in again.folds)

    (folds / "fold1.npz").write_bytes(b"cut short")
    with caplog.at_level("WARNING", logger="robustloss"):
        mended = run_cv(images, labels, finished=FinishedFolds(folds, key, {"started": "now"}))
    assert "fold 1 saved by an earlier run" in caplog.text and "cannot be read" in caplog.text
    assert ["earlier_run" in f for f in mended.folds] == [True, False, True]
    np.testing.assert_array_equal(mended.probabilities, first.probabilities)  # retrained, same seed

    caplog.clear()
    with caplog.at_level("WARNING", logger="robustloss"):
        other = run_cv(images, labels, finished=FinishedFolds(folds, {**key, "precision": "bf16"}, {}))
    assert caplog.text.count("differs in precision; training it again") == 3
    assert not any("earlier_run" in f for f in other.folds)

    caplog.clear()
    with caplog.at_level("WARNING", logger="robustloss"):
        run_cv(images, labels, seed=1, finished=FinishedFolds(folds, {**key, "precision": "bf16"}, {}))
    assert caplog.text.count("does not fit this split") == 3

    stacked = tmp_path / "stacked"  # the folds train as one step: nothing to keep between them
    run_cv(images, labels, settings=TrainSettings(epochs=2, lr=3e-3, stack="stacked"),
           finished=FinishedFolds(stacked, key, {}))
    assert not stacked.exists()
