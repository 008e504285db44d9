"""Rules that live in the library, once, so that the Python API keeps them as the CLI and the server do."""

import pytest

import lstmtext
from lstmtext.errors import OptionError
from lstmtext.options import ContinuationOptions, TokenizerConfig, completion_options


def test_train_refuses_a_name_and_an_out_file_together_before_any_work(tiny_corpus, tmp_path, user_store):
    with pytest.raises(OptionError, match="name and out both given"):
        lstmtext.train(tiny_corpus, name="x", out=tmp_path / "y.lstm", store=user_store)
    assert not (tmp_path / "y.lstm").exists()
    assert user_store.default_name() != "x"


def test_train_checks_the_name_before_any_work(tiny_corpus, user_store):
    with pytest.raises(lstmtext.errors.BadInput, match="not a usable model name"):
        lstmtext.train(tiny_corpus, name="no/slashes", store=user_store)
    assert user_store.default_name() is None


def test_export_refuses_an_unknown_format_instead_of_writing_torchscript(tiny_model, tmp_path):
    with pytest.raises(OptionError, match="unknown format 'onxx'"):
        tiny_model.export(tmp_path / "m.onnx", "onxx")
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("field, value", [("temperature", 0.7), ("top_k", 5), ("top_p", 0.9), ("seed", 1)])
def test_sampling_fields_without_sampling_are_refused_by_name(field, value):
    with pytest.raises(OptionError, match=f"{field} applies only to sampled completions") as refused:
        completion_options(**{field: value})
    assert refused.value.field == field
    assert completion_options(sample=True, **{field: value}).sampling is not None


def test_complete_refuses_a_sampling_field_without_sampling(tiny_model):
    with pytest.raises(OptionError, match="temperature applies only"):
        tiny_model.complete("When", temperature=0.5)


def test_save_tokenizer_writes_every_part_and_loads_back(tiny_corpus, tmp_path):
    from lstmtext.core.tokenizer import tokenizer_from_blobs

    tokenizer, _ = lstmtext.train_tokenizer(tiny_corpus, TokenizerConfig("word", vocab_size=120))
    written = lstmtext.save_tokenizer(tokenizer, tmp_path / "t.model")
    assert written[0] == tmp_path / "t.model" and len(written) == len(tokenizer.blobs())
    assert all(path.stat().st_size > 0 for path in written)
    parts = {"main": written[0].read_bytes(), **{path.suffixes[-2][1:]: path.read_bytes() for path in written[1:]}}
    again = tokenizer_from_blobs("word", parts)
    assert again.encode("the cat") == tokenizer.encode("the cat")


def test_the_servers_default_length_is_the_librarys(tiny_model):
    from lstmtext.options import CONTINUATION_CHARS, ServeOptions
    from lstmtext.server.openai_requests import CompletionsBody, completions_request

    default = tiny_model.tokens_for_chars(CONTINUATION_CHARS)
    request = completions_request(CompletionsBody(prompt="When"), ServeOptions(), default)
    assert request.options[0].max_tokens == default
    written = len(tiny_model.continuation("When", ContinuationOptions()).tokens)
    assert default <= written <= default + 3  # and the byte pieces that finish a character begun in bytes
