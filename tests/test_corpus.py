import numpy as np
import pytest
import torch

from lstmtext.core.config import ModelConfig
from lstmtext.core.corpus import (
    SCORING_ROWS,
    batchify,
    bptt_windows,
    check_length,
    encode_corpus,
    held_out_count,
    hold_out_tail,
    scoring_streams,
    windows_per_epoch,
)
from lstmtext.core.model import RecurrentLM
from lstmtext.core.textfile import inspect_corpus, iter_lines, lines_before
from lstmtext.core.tokenizer_training import sample_sentences, train_tokenizer
from lstmtext.errors import CorpusError
from lstmtext.options import TokenizerConfig
from lstmtext.training.scoring import stream_nll


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "not found"),
    (lambda p: (p.mkdir(), p)[1], "is a directory"),
    (lambda p: (p.write_bytes(b""), p)[1], "is empty"),
    (lambda p: (p.write_bytes(b"\x7fELF\x02\x01\x00\x00binary"), p)[1], "binary"),
    (lambda p: (p.write_bytes("caf\u00e9 ok ".encode("latin-1")), p)[1], "not valid UTF-8"),
    (lambda p: (p.write_bytes("ends inside \u00e9".encode()[:-1]), p)[1], "not valid UTF-8"),
])
def test_bad_corpora_are_refused_with_a_clear_message(tmp_path, make, message):
    with pytest.raises(CorpusError, match=message):
        inspect_corpus(make(tmp_path / "corpus.txt"))


def test_inspect_counts_characters_not_bytes(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("héllo 🙂\n", encoding="utf-8")
    info = inspect_corpus(path)
    assert (info.chars, info.bytes) == (8, len("héllo 🙂\n".encode()))


def test_lines_keep_their_exact_endings(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"one\r\ntwo\n\nthree")
    assert list(iter_lines(path)) == ["one\r\n", "two\n", "\n", "three"]


@pytest.fixture()
def char_tokenizer(corpus_text):
    return train_tokenizer(corpus_text.splitlines(keepends=True), TokenizerConfig("char"))


def test_memmap_holds_the_whole_text_and_is_reused(tiny_corpus, char_tokenizer, tmp_path, monkeypatch):
    ids = encode_corpus(inspect_corpus(tiny_corpus), char_tokenizer, tmp_path)
    assert ids.dtype == np.uint16
    assert char_tokenizer.decode(ids) == tiny_corpus.read_text(encoding="utf-8")
    monkeypatch.setattr(char_tokenizer, "encode_batch", lambda texts: pytest.fail("encoded twice"))
    again = encode_corpus(inspect_corpus(tiny_corpus), char_tokenizer, tmp_path)
    assert np.array_equal(ids, again)


def test_validation_is_the_end_of_the_corpus_and_scored_as_eval_scores_a_file():
    ids = np.arange(1000)
    train, val = hold_out_tail(ids, held_out_count(1000, 0.1, most=10_000))
    assert list(val) == list(range(900, 1000)) and list(train) == list(range(900))
    assert np.shares_memory(train, ids) and np.shares_memory(val, ids)  # views: no copy of the corpus
    streams = scoring_streams(val, seq_len=8)
    assert streams.shape == (11, 9) and streams[1, 0] == 909  # as many rows as hold a window, in order
    assert scoring_streams(np.arange(10_000), seq_len=8).shape[0] == SCORING_ROWS


def test_the_text_before_the_held_out_end_is_read_line_by_line_and_cut_where_it_ends(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("ab\ncd\nef", encoding="utf-8")
    assert list(lines_before(path, 4)) == ["ab\n", "c"] and list(lines_before(path, 3)) == ["ab\n"]
    assert "".join(lines_before(path, 100)) == "ab\ncd\nef" and list(lines_before(path, 0)) == []


def test_a_big_corpus_holds_out_no_more_than_it_can_use():
    assert held_out_count(10_000_000, 0.1, most=32_768) == 32_768
    assert held_out_count(20_000, 0.1, most=32_768) == 2_000


def test_too_short_corpus_is_refused(tmp_path):
    with pytest.raises(CorpusError, match="too short"):
        check_length(10, 2, seq_len=32, path=tmp_path / "x.txt")


def test_windows_continue_each_stream_where_the_last_batch_ended():
    streams = batchify(np.arange(103), batch_size=4)  # rows of 25, the remainder dropped
    assert streams.shape == (4, 25) and list(streams[1, :3]) == [25, 26, 27]
    windows = list(bptt_windows(streams, seq_len=10))
    assert len(windows) == windows_per_epoch(streams, 10) == 3
    for (inputs, targets), (next_inputs, _) in zip(windows, windows[1:]):
        assert np.array_equal(targets, inputs + 1)
        assert np.array_equal(next_inputs[:, 0], inputs[:, -1] + 1)  # row b picks up where it stopped
    assert windows[-1][0].shape == (4, 4)  # 24 targets per row: 10 + 10 + 4


def test_hidden_state_carries_across_batches():
    torch.manual_seed(0)
    model = RecurrentLM(ModelConfig(vocab_size=50, hidden_size=16, embed_size=16, layers=2)).eval()
    streams = batchify(np.random.default_rng(0).integers(0, 50, 400), batch_size=2)
    device = torch.device("cpu")
    carried, count = stream_nll(model, bptt_windows(streams, seq_len=7), device, "fp32")
    whole, whole_count = stream_nll(model, bptt_windows(streams, seq_len=1000), device, "fp32")
    restarted = sum(stream_nll(model, [window], device, "fp32")[0] for window in bptt_windows(streams, 7))
    assert count == whole_count
    assert carried == pytest.approx(whole, rel=1e-5)  # chunks with the carried state == one long pass
    assert abs(restarted - whole) > 1e-3  # and resetting the state each window really differs


def test_encoding_in_small_chunks_gives_the_same_tokens_as_the_whole_text(tmp_path, corpus_text):
    path = tmp_path / "c.txt"
    path.write_text(corpus_text, encoding="utf-8")
    tokenizer = train_tokenizer(corpus_text.splitlines(keepends=True), TokenizerConfig("bpe", 500))
    streamed = encode_corpus(inspect_corpus(path), tokenizer, tmp_path / "cache-a", chunk_lines=3)
    assert streamed.tolist() == tokenizer.encode(corpus_text)


def test_a_big_text_is_sampled_for_the_tokenizer_within_the_budget(corpus_text):
    lines = corpus_text.splitlines(keepends=True)
    assert sample_sentences(lines, 10 ** 9) == lines  # small enough: everything, in order
    sample = sample_sentences(lines, 2000)
    assert sum(map(len, sample)) < 2000 + max(map(len, lines)) and len(sample) < len(lines) / 5
    assert set(sample) <= set(lines) and sample == sample_sentences(lines, 2000)  # seeded
    assert set(sample) & set(lines[len(lines) // 2:])  # drawn from the whole text, not just its start
    tokenizer = train_tokenizer(lines, TokenizerConfig("bpe", 400), sample_chars=2000)
    assert tokenizer.decode(tokenizer.encode(corpus_text)) == corpus_text  # unseen text falls back to bytes
