"""EpochShardSampler: pure per-epoch order, exact resume, disjoint shards of the promised lengths."""

import mindspore.dataset as ds
import numpy as np
import pytest

from mindcv import MindCVError
from mindcv.data import EpochShardSampler


class _Ids:
    """A source whose sample i is just i."""

    def __len__(self):
        return 23

    def __getitem__(self, i):
        return np.int32(i)


def _dataset(sampler):
    return ds.GeneratorDataset(
        _Ids(), ["id"], sampler=sampler, num_parallel_workers=2, python_multiprocessing=False
    )


def _epoch(dataset, sampler, epoch, start=0):
    sampler.set_epoch(epoch, start)
    return [int(row[0]) for row in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True)]


def test_order_depends_only_on_seed_and_epoch():
    a, b = EpochShardSampler(23, seed=7), EpochShardSampler(23, seed=7)
    assert np.array_equal(a.indices(3), b.indices(3))
    assert not np.array_equal(a.indices(3), a.indices(4))
    assert not np.array_equal(a.indices(3), EpochShardSampler(23, seed=8).indices(3))
    assert sorted(a.indices(0)) == list(range(23))
    assert list(EpochShardSampler(23, shuffle=False).indices(5)) == list(range(23))


def test_epoch_order_is_the_same_with_or_without_earlier_epochs():
    first = EpochShardSampler(23, seed=1)
    run = _dataset(first)
    orders = [_epoch(run, first, e) for e in range(3)]
    fresh = EpochShardSampler(23, seed=1)
    assert _epoch(_dataset(fresh), fresh, 2) == orders[2] == first.indices(2).tolist()
    assert orders[0] != orders[1]


def test_start_index_yields_exactly_the_tail_of_the_epoch():
    sampler = EpochShardSampler(23, seed=1, num_shards=2, shard_id=1)
    dataset = _dataset(sampler)
    full = _epoch(dataset, sampler, 4)
    assert _epoch(dataset, sampler, 4, start=6) == full[6:]
    assert len(dataset) == len(full) == 11  # the cached size stays a full epoch
    assert _epoch(dataset, sampler, 4) == full  # and the next full epoch is whole again


def test_multi_epoch_iterator_advances_like_fresh_iterators():
    sampler = EpochShardSampler(23, seed=3)
    dataset = _dataset(sampler)
    sampler.set_epoch(5)
    iterator = dataset.create_tuple_iterator(num_epochs=2, output_numpy=True)
    got = [[int(r[0]) for r in iterator] for _ in range(2)]
    assert got == [sampler.indices(5).tolist(), sampler.indices(6).tolist()]


@pytest.mark.parametrize("num_items", [12, 13, 23])
@pytest.mark.parametrize("num_shards", [1, 2, 3, 5])
def test_training_shards_are_disjoint_and_equal(num_items, num_shards):
    for epoch in (0, 1):
        shards = [
            EpochShardSampler(num_items, True, 0, num_shards, k).indices(epoch) for k in range(num_shards)
        ]
        everything = np.concatenate(shards)
        assert {len(s) for s in shards} == {num_items // num_shards}
        assert len(set(everything.tolist())) == len(everything) == num_items - num_items % num_shards


def test_training_leftover_changes_between_epochs():
    left_out = [
        set(range(13))
        - set(np.concatenate([EpochShardSampler(13, True, 0, 5, k).indices(e) for k in range(5)]))
        for e in range(4)
    ]
    assert all(len(s) == 3 for s in left_out) and len(set(map(frozenset, left_out))) > 1


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("num_shards", [2, 3, 5])
def test_eval_shards_cover_every_sample_once(shuffle, num_shards):
    shards = [
        EpochShardSampler(13, shuffle, 0, num_shards, k, even_shards=False).indices(0)
        for k in range(num_shards)
    ]
    assert sorted(np.concatenate(shards).tolist()) == list(range(13))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_num_samples_and_repeats():
    assert len(EpochShardSampler(23, num_samples=5).indices(0)) == 5
    repeated = EpochShardSampler(12, num_aug_repeats=3).indices(0)
    assert len(repeated) == 12 and all(np.sum(repeated == i) in (0, 3) for i in range(12))
    ranks = [EpochShardSampler(12, True, 0, 3, k, num_aug_repeats=3).indices(0) for k in range(3)]
    assert all(len(r) == 4 for r in ranks)
    assert np.array_equal(ranks[0], ranks[1])  # each rank sees its own augmented copy of a sample


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_shards": 2}, "both num_shards and shard_id"),
        ({"num_shards": 2, "shard_id": 2}, "outside"),
        ({"num_shards": 30, "shard_id": 0}, "no samples"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_settings_are_clear_errors(kwargs, message):
    with pytest.raises(MindCVError, match=message):
        EpochShardSampler(23, **kwargs)


def test_start_past_the_epoch_is_refused():
    with pytest.raises(MindCVError, match="next epoch"):
        EpochShardSampler(23).set_epoch(0, 23)
