"""The BM25 index: its background warm-up and its reader reloads."""

from sciseek import Engine


def test_a_large_index_is_read_once_in_the_background_and_still_answers(
    tmp_path, papers, monkeypatch
):
    import sciseek.index.lexical as lexical
    import sciseek.storage.files as files

    with Engine.open(tmp_path / "d") as e:
        e.add(papers, dense=False)
    read = []
    monkeypatch.setattr(lexical, "WARM_ABOVE", 0)
    monkeypatch.setattr(lexical, "read_once", lambda paths: read.append(files.read_once(paths)))
    with Engine.open(tmp_path / "d") as e:
        assert e.lexical.warmed(timeout=30)
        size = sum(f.stat().st_size for f in (tmp_path / "d" / "lexical").iterdir() if f.is_file())
        assert read == [size] and size > 0
        assert e.search("graph neural networks", mode="bm25")


def test_a_reload_that_meets_a_file_another_writer_deleted_reads_the_index_again(mixture_engine):
    lexical = mixture_engine.lexical
    real = lexical._index

    class Racing:
        calls = 0

        def reload(self):
            Racing.calls += 1
            if Racing.calls == 1:
                raise ValueError("Failed to open file for read: 'FileDoesNotExist(\"x.idx\")'")
            real.reload()

        def __getattr__(self, name):
            return getattr(real, name)

    lexical._index = Racing()
    try:
        lexical.refresh()
        assert Racing.calls == 2
        assert mixture_engine.search("mixture of experts", mode="bm25")[0].paper.id == "twice"
    finally:
        lexical._index = real
