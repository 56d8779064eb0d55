"""toposcale.stats.roc_auc: the Mann-Whitney AUC (moved here from the grokking detection test)."""

import pytest

from toposcale.stats import roc_auc


def test_auc_by_hand_and_orientation():
    assert roc_auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
    assert roc_auc([4, 3, 2, 1], [0, 0, 1, 1]) == 0.0
    # pairs (pos, neg): (2,1) win, (2,3) loss, (4,1) win, (4,3) win -> 3/4; a tie counts 1/2
    assert roc_auc([1, 2, 3, 4], [0, 1, 0, 1]) == pytest.approx(0.75)
    assert roc_auc([1, 1], [0, 1]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([1, 2], [1, 1])
