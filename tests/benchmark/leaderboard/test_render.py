"""Rendering: deterministic bytes, one table per preset ranked by Max_SSIM, working links."""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from jinja2 import UndefinedError

from instahide_bench.benchmark.cli import main
from instahide_bench.benchmark.leaderboard import GridSource, record_entry, render_leaderboard
from instahide_bench.benchmark.leaderboard.render import format_duration
from instahide_bench.benchmark.views import environment, render
from tests.benchmark.leaderboard.entries_support import make_entry
from tests.conftest import REPO_ROOT
from tests.core.scoring_support import photo_challenge


@pytest.fixture
def board(tmp_path: Path) -> Path:
    root = tmp_path / "board"
    encoded = photo_challenge()
    grid = GridSource(encoded.public_view(), encoded.key, encoded.key.private[encoded.key.private_index[:, 0]])
    record_entry(make_entry("middle", 0.5), root, grid=grid)
    record_entry(make_entry("best", 0.9), root)
    record_entry(make_entry("worst", 0.1, runtime=None), root)
    record_entry(make_entry("published", 0.7, status="reported", challenge_id="original-2020"), root)
    record_entry(make_entry("other preset", 0.3, preset="mixup", challenge_id="mixup-abc"), root)
    return root


RENDERED = ("README.md", "leaderboard.csv", "index.html")


def _outputs(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in RENDERED}


def test_rendering_twice_gives_identical_bytes(board: Path, tmp_path: Path) -> None:
    render_leaderboard(board)
    first = _outputs(board)
    render_leaderboard(board)
    assert _outputs(board) == first
    copy = tmp_path / "copy"  # same entries elsewhere, files created in another order: same output
    shutil.copytree(board / "entries", copy / "entries")
    render_leaderboard(copy)
    assert _outputs(copy) == first


def test_tables_per_preset_ranked_by_max_ssim(board: Path) -> None:
    render_leaderboard(board)
    readme = (board / "README.md").read_text()
    assert readme.index("## challenge-2020") < readme.index("## mixup")
    section = readme[readme.index("## challenge-2020") : readme.index("## mixup")]
    names = re.findall(r"^\| \d+ \| ([^|]+) \|", section, flags=re.M)
    assert [n.strip() for n in names] == ["best", "published", "middle", "worst"]
    assert "Max_SSIM | Mean_SSIM | Min_L2 | Mean_L2 | Runtime | Cost | Status | Challenge | Hardware" in readme
    assert "Test CPU \\| 9000, 8 cores" in readme  # pipes escaped
    assert "| 0.70 |" in readme and "| 0.9000 |" in readme  # reported numbers keep their published precision


def test_csv_holds_every_entry_with_numbers(board: Path) -> None:
    render_leaderboard(board)
    table = pd.read_csv(io.StringIO((board / "leaderboard.csv").read_text()))
    assert len(table) == 5
    assert table["max_ssim"].dtype.kind == "f"
    assert table.loc[table["name"] == "best", "rank"].item() == 1


def test_html_is_sortable_and_links_the_grid_relatively(board: Path) -> None:
    render_leaderboard(board)
    page = (board / "index.html").read_text()
    assert "<script>" in page and 'addEventListener("click"' in page and 'class="sortable"' in page
    sources = re.findall(r'<img class="grid" src="([^"]+)"', page)
    assert len(sources) == 1 and not sources[0].startswith("/") and (board / sources[0]).is_file()
    assert "&lt;html&gt; &amp; | pipes" in page and "<html> &" not in page
    assert "http" not in page.replace('lang="en"', ""), "self-contained: no external resources"


def test_empty_leaderboard_renders(tmp_path: Path) -> None:
    tmp_path.joinpath("entries").mkdir()
    render_leaderboard(tmp_path)
    assert "No entries yet." in (tmp_path / "README.md").read_text()


def test_cli_render(board: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "leaderboard", "render", "--root", str(board)]) == 0
    assert "index.html" in capsys.readouterr().out
    assert main(["-q", "leaderboard", "render", "--root", str(board / "missing")]) == 2


def test_durations_are_readable() -> None:
    assert [format_duration(s) for s in (None, 1.234, 600, 432000)] == ["—", "1.23 s", "10 min", "120 h"]


def test_committed_views_are_the_rendering_of_the_committed_entries(tmp_path: Path) -> None:
    """The repository's README.md, leaderboard.csv, index.html and membership.csv, byte for byte: never edited by hand,
    and unchanged by moving the layout into templates."""
    committed = REPO_ROOT / "leaderboard"
    if not (committed / "entries").is_dir():
        pytest.skip("no leaderboard/ beside this checkout")
    for source in ("entries", "utility", "membership"):  # attack, utility and membership entries
        if (committed / source).is_dir():
            shutil.copytree(committed / source, tmp_path / source)
    render_leaderboard(tmp_path)
    for name in (*RENDERED, "membership.csv"):
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), f"leaderboard/{name} is stale"


HOSTILE = "<script>alert(\"x\")</script> & 'y'"


def test_entry_text_is_escaped_in_html_and_kept_in_markdown(tmp_path: Path) -> None:
    entry = replace(make_entry(HOSTILE, 0.5, preset="<b>preset</b>"), notes='say "hi" <img src=x onerror=alert(1)>')
    record_entry(entry, tmp_path)
    render_leaderboard(tmp_path)
    page = (tmp_path / "index.html").read_text()
    assert "<script>alert" not in page and "<b>preset" not in page and "<img src=x" not in page
    # html.escape's spelling of the entities (the committed pages were written with it)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;y&#x27;" in page
    assert "<h2>&lt;b&gt;preset&lt;/b&gt;</h2>" in page
    assert 'title="say &quot;hi&quot; &lt;img src=x onerror=alert(1)&gt;"' in page
    readme = (tmp_path / "README.md").read_text()
    # Markdown renderers pass raw HTML through: entry text is shown as text there too.
    shown = "&lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; 'y'"
    assert f"| {shown} |" in readme and "## &lt;b&gt;preset&lt;/b&gt;" in readme and "<script>" not in readme
    assert f'- **{shown}**: say "hi" &lt;img src=x onerror=alert(1)&gt;' in readme


def test_view_environment_escapes_html_only_and_rejects_undefined_names() -> None:
    env = environment()
    assert env.autoescape("leaderboard.html.j2") and env.autoescape("matrix-report.html.j2")
    assert not env.autoescape("leaderboard.md.j2")
    assert env.from_string("{{ x }}").render(x="<a href='q'>") == "&lt;a href=&#x27;q&#x27;&gt;"
    with pytest.raises(UndefinedError):
        render("leaderboard.md.j2", title="t")  # every name the template uses must be passed


def test_corrupt_and_hand_edited_entries_are_named_and_skipped(
    board: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    import json

    directory = next((board / "entries").iterdir())
    good = json.loads(next(p for p in sorted(directory.glob("*.json"))).read_text())
    (directory / "truncated.json").write_text(json.dumps(good)[:100])
    (directory / "words.json").write_text(json.dumps({**good, "metrics": {**good["metrics"], "max_ssim": "high"}}))
    (directory / "nan.json").write_text(json.dumps(good).replace('"max_ssim": ', '"max_ssim": NaN, "x": '))
    (directory / "escape.json").write_text(json.dumps({**good, "grid": "/etc/passwd"}))
    (directory / "array.json").write_text("[1, 2]")
    with caplog.at_level("ERROR", logger="instahide_bench.benchmark.leaderboard.store"):
        assert main(["leaderboard", "render", "--root", str(board)]) == 0
    skipped = {
        Path(r.getMessage().split(": ")[0].removeprefix("skipping leaderboard entry ")).name for r in caplog.records
    }
    assert skipped == {"truncated.json", "words.json", "nan.json", "escape.json", "array.json"}
    assert any("not valid JSON" in r.getMessage() for r in caplog.records)
    table = pd.read_csv(io.StringIO((board / "leaderboard.csv").read_text()))
    assert len(table) == 5  # the good entries, all of them
    assert "wrote" in capsys.readouterr().out
