"""The FAQ's start-up cache (``<data_dir>/cache``): the same answers as building everything afresh,
a new index when content changes, a rebuild (never a crash, never old content) when a file is
damaged or tampered with, and files only the bot's user can read."""

from __future__ import annotations

import json
import pickle
import shutil
import stat
from pathlib import Path

import jieba
import numpy as np
import pytest

from faq import CONTENT_DIR
from handlers.faq import diskcache, indexcache, stringtable
from handlers.faq.analyzer import normalize
from handlers.faq.embedding import StaticWordVectors
from handlers.faq.library import FaqLibrary, build_snapshot, initialise_segmenter
from handlers.faq.segmenter import Segmenter, jieba_dictionary, shared_segmenter

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = ["主管摸我怎么办", "my boss fired me after I reported", "宿舍里有人偷拍", "harrasment at the dorm"]


def sample_texts() -> list[str]:
    """Every line of the shipped content and every evaluation question, as workers and admins write."""
    texts = [line for path in sorted(CONTENT_DIR.rglob("*.yaml")) for line in path.read_text("utf-8").splitlines()]
    for path in sorted((REPO / "tests" / "data").glob("faq_*.jsonl")):
        texts += [json.loads(line)["q"] for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [*texts, "", " ", "x-y_z %# 123abc", "\r\n tab\tend", "ＡＢＣ１２３ 🆘救命"]


def test_the_segmenter_cuts_exactly_as_jieba_does(tmp_path: Path) -> None:
    """Same words, token for token, over jieba's dict and over the cached table, so the search
    ranks as it did with jieba itself."""
    initialise_segmenter()
    reference = jieba.Tokenizer()
    reference.initialize()
    table = stringtable.load_or_build(tmp_path / "jieba.table", jieba_dictionary)
    segmenters = [shared_segmenter(), Segmenter(table, reference.total)]
    texts = sample_texts()
    assert len(texts) > 1000
    for text in texts:
        for form in (text, normalize(text)):
            expected = list(reference.cut_for_search(form, HMM=False))
            assert [list(segmenter.cut_for_search(form)) for segmenter in segmenters] == [expected, expected], form


def test_cached_word_vectors_equal_the_wheels(tmp_path: Path) -> None:
    texts = sample_texts()[:400] + QUESTIONS
    built = StaticWordVectors(cache_dir=tmp_path)  # builds the cache files
    mapped = StaticWordVectors(cache_dir=tmp_path)  # reads them back
    fresh = StaticWordVectors()
    expected = fresh.encode(texts)
    assert np.array_equal(built.encode(texts), expected)
    assert np.array_equal(mapped.encode(texts), expected)
    assert {path.name.split("-")[1] for path in tmp_path.iterdir()} == {"table", "pieces", "model"}


def test_a_string_table_gives_what_the_dict_gave_and_rebuilds_when_damaged(tmp_path: Path) -> None:
    items = {"主管": 5, "主": 0, "boss": 7, "": 3, "\x00total": 12}
    path = tmp_path / "words.table"
    table = stringtable.load_or_build(path, lambda: items.items())
    assert {key: table.get(key) for key in items} == items
    assert table.get("nothing") is None and "主管们" not in table and len(table) == len(items)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x01  # one flipped bit in the key text
    path.write_bytes(bytes(raw))
    rebuilt: list[int] = []

    def build() -> object:
        rebuilt.append(1)
        return items.items()

    again = stringtable.load_or_build(path, build)  # type: ignore[arg-type]
    assert rebuilt == [1] and {key: again.get(key) for key in items} == items
    assert diskcache.open_mapped(path, stringtable.MAGIC) is not None, "written again, intact"


def copy_content(tmp_path: Path) -> Path:
    content = tmp_path / "faq"
    shutil.copytree(CONTENT_DIR, content, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return content


def hits(library: FaqLibrary, question: str) -> list[str]:
    return [hit.entry_id for hit in library.snapshot.search(question)]


def index_files(cache: Path) -> list[Path]:
    return sorted(cache.glob(f"{indexcache.PREFIX}*"))


def test_an_edited_faq_file_gets_a_new_index_and_the_new_answer(tmp_path: Path) -> None:
    content, cache = copy_content(tmp_path), tmp_path / "data" / "cache"
    snapshot, problems = build_snapshot(content, encoder=None, cache_dir=cache)
    assert snapshot is not None and not problems
    question = "zebra umbrella trampoline"
    assert snapshot.search(question) == []
    (first,) = index_files(cache)
    entry = content / "entries" / "retaliation-protection.yaml"
    text = entry.read_text("utf-8")
    anchor = "    - afraid to report\n"
    entry.write_text(text.replace(anchor, f"{anchor}    - {question}\n", 1), "utf-8")
    assert entry.read_text("utf-8") != text, "the edit took"
    edited, problems = build_snapshot(content, encoder=None, cache_dir=cache)
    assert edited is not None and not problems
    assert [hit.entry_id for hit in edited.search(question)][:1] == ["retaliation-protection"]
    (second,) = index_files(cache)
    assert second != first, "a new file for the new content; the old one is gone"


def test_the_cached_index_answers_as_a_fresh_build_with_word_vectors(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fresh = FaqLibrary(CONTENT_DIR)
    FaqLibrary(CONTENT_DIR, cache_dir=cache)
    assert len(index_files(cache)) == 1
    cached = FaqLibrary(CONTENT_DIR, cache_dir=cache)
    for question in QUESTIONS:
        assert cached.snapshot.search(question) == fresh.snapshot.search(question)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "other format"])
def test_a_damaged_index_file_is_ignored_and_rebuilt(tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    good, _ = build_snapshot(CONTENT_DIR, encoder=None, cache_dir=cache)
    assert good is not None
    (path,) = index_files(cache)
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0xFF
    elif damage == "truncate":
        del raw[len(raw) // 3 :]
    elif damage == "empty":
        raw.clear()
    else:
        raw[:8] = b"HAPOTHER"
    path.write_bytes(bytes(raw))
    again, problems = build_snapshot(CONTENT_DIR, encoder=None, cache_dir=cache)
    assert again is not None and not problems
    for question in QUESTIONS:
        assert again.search(question) == good.search(question)
    assert diskcache.read(path, indexcache.MAGIC) is not None, "rebuilt and written again"


class Tampered:
    """Unpickles to a call of ``os.system``: what a file planted in the cache could try."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("touch tampered-marker",)


def test_a_planted_index_with_a_valid_digest_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "cache"
    good, _ = build_snapshot(CONTENT_DIR, encoder=None, cache_dir=cache)
    assert good is not None
    (path,) = index_files(cache)
    diskcache.write(path, indexcache.MAGIC, [pickle.dumps(Tampered())])
    assert diskcache.read(path, indexcache.MAGIC) is not None, "its digest checks out"
    again, _ = build_snapshot(CONTENT_DIR, encoder=None, cache_dir=cache)
    assert again is not None and again.search(QUESTIONS[0]) == good.search(QUESTIONS[0])
    assert not (tmp_path / "tampered-marker").exists()


def test_cache_files_are_private_in_a_private_folder(tmp_path: Path) -> None:
    cache = tmp_path / "data" / "cache"
    build_snapshot(CONTENT_DIR, encoder=None, cache_dir=cache)
    StaticWordVectors(cache_dir=cache)
    for folder in (tmp_path / "data", cache):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = list(cache.iterdir())
    assert len(files) >= 4
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        assert not path.name.startswith(".tmp-"), "no temporary file left behind"


@pytest.mark.parametrize(
    "text",
    ["", "a: 1\n", "a: &x 1\nb: *x\n", "- [" * 30 + "]" * 30, "a: |\n  x\n  y\nb: >\n  z\n",
     "a:\n  - ~\n  - null\n  - ''\n", "a: b: c\n", "---\na: 1\n---\nb: 2\n", "k: 'q\n"],
)
def test_libyaml_and_the_pure_loader_agree_on_edge_cases(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from handlers.faq import yamlsource

    fast = yamlsource.parse_yaml(Path("x.yaml"), text)
    monkeypatch.setattr(yamlsource, "_compose_with_libyaml", lambda text: (False, None))
    assert fast == yamlsource.parse_yaml(Path("x.yaml"), text)


def test_libyaml_gives_the_pure_loaders_nodes_and_lines_for_the_shipped_files(monkeypatch: pytest.MonkeyPatch) -> None:
    from handlers.faq import yamlsource

    files = sorted(CONTENT_DIR.rglob("*.yaml"))
    assert len(files) > 20
    texts = {path: yamlsource.read_text(path)[0] for path in files}
    fast = {path: yamlsource.parse_yaml(path, text) for path, text in texts.items() if text is not None}
    assert yamlsource._compose_with_libyaml(texts[files[0]] or "")[0], "libyaml composed it"
    monkeypatch.setattr(yamlsource, "_compose_with_libyaml", lambda text: (False, None))
    assert fast == {path: yamlsource.parse_yaml(path, text) for path, text in texts.items() if text is not None}


def test_a_cache_folder_that_cannot_be_made_means_building_in_memory(tmp_path: Path) -> None:
    """A data directory on a read-only disk (here: a file where the folder should be) slows the
    start down, and changes nothing else."""
    (tmp_path / "data").write_text("not a folder", encoding="utf-8")
    cache = tmp_path / "data" / "cache"
    snapshot, problems = build_snapshot(CONTENT_DIR, encoder=None, cache_dir=cache)
    fresh, _ = build_snapshot(CONTENT_DIR, encoder=None)
    assert snapshot is not None and fresh is not None and not problems
    assert [snapshot.search(q) for q in QUESTIONS] == [fresh.search(q) for q in QUESTIONS]
    table = stringtable.load_or_build(cache / "words.table", lambda: [("主管", 5)])
    assert table.get("主管") == 5
    assert StaticWordVectors(cache_dir=cache).encode(QUESTIONS).shape == (len(QUESTIONS), 512)


def test_a_second_start_reads_the_index_instead_of_building_it(tmp_path: Path) -> None:
    """The allow-list admits everything an index is made of: the file is used, not rebuilt each time."""
    from handlers.faq.analyzer import Analyzer
    from handlers.faq.embedding import shared_word_vectors
    from handlers.faq.loader import load_content
    from handlers.faq.search import SearchIndex

    content = load_content(CONTENT_DIR)
    vectors = shared_word_vectors()
    builds: list[SearchIndex] = []

    def build() -> SearchIndex:
        builds.append(SearchIndex(content.entries, Analyzer(content.synonyms), vectors))
        return builds[-1]

    first = indexcache.cached_index(tmp_path, content.entries, content.synonyms, vectors, build)
    second = indexcache.cached_index(tmp_path, content.entries, content.synonyms, vectors, build)
    assert len(builds) == 1 and second is not first
    assert [second.search(q) for q in QUESTIONS] == [first.search(q) for q in QUESTIONS]
