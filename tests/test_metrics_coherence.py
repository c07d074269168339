import numpy as np
import pytest

from vibook.metrics import npmi_coherence

# Four short documents (each shorter than gensim's 10-token window, so one window each):
# "a" and "b" always appear together, "a" and "c" never, "a" and "d" independently
# (p(a) = p(d) = 1/2, p(a, d) = 1/4).
TEXTS = [["a", "b", "d"], ["a", "b", "x"], ["c", "d", "y"], ["c", "z", "y"]]


def test_npmi_matches_hand_computed_values():
    scores = npmi_coherence([["a", "b"], ["a", "c"], ["a", "d"]], TEXTS, topn=2, per_topic=True)
    # Always together: log(p / p^2) / -log(p) = 1.
    assert scores[0] == pytest.approx(1.0, abs=1e-6)
    # Never together: gensim adds eps = 1e-12 to p(a, c), so the score is
    # log(eps / (1/2 * 1/2)) / -log(eps) = -0.9498..., close to the limit -1.
    expected = np.log(1e-12 / 0.25) / -np.log(1e-12)
    assert scores[1] == pytest.approx(expected, abs=1e-3)
    # Independent: PMI = log(1/4 / (1/2 * 1/2)) = 0.
    assert scores[2] == pytest.approx(0.0, abs=1e-6)
    mean = npmi_coherence([["a", "b"], ["a", "c"], ["a", "d"]], TEXTS, topn=2)
    assert mean == pytest.approx(scores.mean())


def test_bad_topics_raise():
    with pytest.raises(ValueError, match="missing from texts"):
        npmi_coherence([["a", "nope"]], TEXTS, topn=2)
    with pytest.raises(ValueError, match="lists of >= 3 words"):
        npmi_coherence([["a", "b"]], TEXTS, topn=3)
    with pytest.raises(TypeError):
        npmi_coherence([["a", "b"]], TEXTS, topn=2.5)
