import itertools

import numpy as np
import pytest

from hyperphysics_strategy.ensemble import DEFAULT_CLASSES, LabelCodec
from hyperphysics_strategy.ensemble.weights import balanced_sample_weights


def test_default_mapping_is_sell_neutral_buy():
    codec = LabelCodec()
    assert codec.classes == ("sell", "neutral", "buy")
    assert codec.encode(["sell", "neutral", "buy"]).tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "present",
    [c for r in range(1, 4) for c in itertools.combinations(DEFAULT_CLASSES, r)],
)
def test_codes_do_not_depend_on_which_classes_are_present(present):
    codec = LabelCodec()
    labels = list(present) * 3
    codes = codec.encode(labels)
    expected = [DEFAULT_CLASSES.index(label) for label in labels]
    assert codes.tolist() == expected
    assert codec.decode(codes).tolist() == labels


def test_unknown_label_is_named_in_the_error():
    with pytest.raises(ValueError, match="'up'"):
        LabelCodec().encode(["buy", "up"])


def test_bad_class_lists_rejected():
    with pytest.raises(ValueError, match="unique"):
        LabelCodec(["a", "a"])
    with pytest.raises(ValueError, match="two classes"):
        LabelCodec(["a"])


def test_balanced_weights_equalise_class_mass():
    codes = np.array([0] * 10 + [1] * 80 + [2] * 10)
    w = balanced_sample_weights(codes, 3)
    mass = [w[codes == c].sum() for c in range(3)]
    assert np.allclose(mass, mass[0])
    assert np.isclose(w.mean(), 1.0)
