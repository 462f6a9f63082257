"""The character vocabulary: ids, round trips, refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmclient.errors import SwarmError
from swarmclient.tasks import ANSWER_END, CHARSET, PAD_ID, VOCAB_SIZE, decode, encode, in_vocab

vocab_text = st.text(alphabet=CHARSET, max_size=200)


def test_table_shape():
    assert len(set(CHARSET)) == len(CHARSET), "duplicate character in CHARSET"
    assert VOCAB_SIZE == len(CHARSET) + 1
    assert ANSWER_END in CHARSET
    assert PAD_ID == 0


@given(vocab_text)
def test_round_trip(text):
    ids = encode(text)
    assert all(1 <= i < VOCAB_SIZE for i in ids)
    assert decode(ids) == text


@given(vocab_text, st.integers(0, 5))
def test_pad_is_skipped_or_refused(text, pads):
    ids = encode(text) + [PAD_ID] * pads
    assert decode(ids) == text
    if pads:
        with pytest.raises(SwarmError) as err:
            decode(ids, skip_pad=False)
        assert err.value.reason == "out-of-vocab"


@given(st.text(min_size=1).filter(lambda s: not in_vocab(s)))
def test_foreign_characters_refused(text):
    with pytest.raises(SwarmError) as err:
        encode(text)
    assert err.value.reason == "out-of-vocab"


@pytest.mark.parametrize("bad", [[VOCAB_SIZE], [-1], [1.0], [True], ["a"]])
def test_bad_ids_refused(bad):
    with pytest.raises(SwarmError) as err:
        decode(bad)
    assert err.value.reason == "out-of-vocab"


def test_numpy_ids_accepted():
    import numpy as np

    assert decode(np.asarray(encode("add 1+2=3\n"), dtype=np.int64)) == "add 1+2=3\n"
