# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Finding label errors with Blurry Loss
#
# A short walkthrough on scikit-learn's bundled handwritten digits (1,797 images of 8x8
# pixels, offline): plant some label errors, let `robustloss.find_label_issues` find them,
# and look at what it found. The same call takes an image folder
# (`root/<class>/<image>`), an `.npz`, or a table of feature vectors; the command line
# equivalent is `robustloss find-issues PATH`.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import robustloss

# cleanlab imports tqdm.auto, which asks for ipywidgets inside Jupyter; no bar is shown here
warnings.filterwarnings("ignore", message="IProgress not found")
digits = load_digits()
images = (digits.images * 255 / 16).astype(np.uint8)   # 0..16 -> 0..255
labels = digits.target.copy()

# %% [markdown]
# ## 1. Plant 40 errors
# Move 40 labels to another class, chosen at random. In your own data you would not know
# which labels are wrong; here we do, so we can check the result.

# %%
rng = np.random.default_rng(0)
planted = rng.choice(len(labels), 40, replace=False)
labels[planted] = (labels[planted] + rng.integers(1, 10, 40)) % 10
names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
np.savez("my_digits.npz", images=images, labels=labels, class_names=names)

# %% [markdown]
# ## 2. Find them
# Five-fold cross-validation of a small CNN. A first pass with cross-entropy estimates the
# noise rate and how concentrated the wrong labels are (cleanlab); Blurry Loss's gamma is
# then read off the paper's best values at that rate, raised where a class's errors pile
# into one other class; a second pass with Blurry Loss gives the out-of-fold probabilities
# that Confident Learning judges. The table also says what plain cross-entropy flags on the
# same folds (`flagged_ce`). `loss="blurry"` asks for Blurry Loss: at the 2 % of wrong labels
# planted here find-issues' default would stop after the cross-entropy pass and give its
# flags (see the manual's find-issues page for why).

# %%
issues = robustloss.find_label_issues("my_digits.npz", loss="blurry", progress=False)
print(f"estimated noise rate: {issues.attrs['estimated_noise_rate']:.1%} (planted: {40 / len(labels):.1%})")
print(f"gamma chosen: {issues.attrs['loss_params']['gamma']}: {issues.attrs['choice']['reason']}")
print(f"{issues.attrs['num_flagged']} of {len(issues)} flagged; cross-entropy alone flags "
      f"{issues.flagged_ce.sum()}, {(issues.flagged & issues.flagged_ce).sum()} of them the same")
issues.head(10)

# %% [markdown]
# ## 3. Check against what we planted

# %%
flagged = set(issues.loc[issues.flagged, "index"])
caught = flagged & set(planted.tolist())
print(f"caught {len(caught)} of 40 planted errors; precision {len(caught) / len(flagged):.2f}")
top = set(issues.head(40)["index"])
print(f"among the 40 most suspicious: {len(top & set(planted.tolist()))} planted")

# %% [markdown]
# ## 4. Look at the most suspicious samples
# Given label (red) and the label the models suggest (green). Some of the most suspicious
# may be genuinely ambiguous digits rather than wrong labels: deciding is a person's job.

# %%
fig, axes = plt.subplots(2, 8, figsize=(12, 4.2), layout="constrained")
for ax, row in zip(axes.flat, issues.head(16).itertuples(), strict=True):
    ax.imshow(images[row.index], cmap="gray")
    ax.set_title(f"{row.given_label}\n→ {row.suggested_label}", fontsize=9,
                 color="darkred" if row.index in set(planted.tolist()) else "black")
    ax.axis("off")
fig.suptitle("16 most suspicious: given → suggested (dark red: planted by us)")

# %% [markdown]
# ## 5. A report to share
# A self-contained HTML page: noise estimate, flagged per class, given-vs-suggested table
# and the grid of suspicious images.

# %%
from robustloss.find.inputs import load_user_data  # noqa: E402
from robustloss.find.report import write_report  # noqa: E402

path = write_report(issues, "my_digits_report.html", inputs=load_user_data("my_digits.npz").inputs)
print(path, path.stat().st_size // 1024, "KiB")
