"""The documentation site builds strict (no broken link, no page left out of the navigation, in both languages), its
generated references cover every route and command, every alert's runbook is a page of it, and every document the
code cites exists in the repository."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from qcl.events import registry_table

pytestmark = pytest.mark.xdist_group("docs")  # one worker builds the site once for the module

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RULES = ROOT / "ops/prometheus/alerts.yml"
OPENAPI = ROOT / "web/src/api/openapi.json"
_generator = importlib.util.spec_from_file_location("docs_gen", ROOT / "scripts/docs_gen.py")
assert _generator is not None and _generator.loader is not None
docs_gen = importlib.util.module_from_spec(_generator)
_generator.loader.exec_module(docs_gen)
GENERATED: tuple[str, ...] = docs_gen.GENERATED  # pages the build writes: cited before a build, they still count

# A cited document: a path or file name ending in .md, or a path under docs/, not part of a URL or a longer path.
CITED_MD = re.compile(r"(?<![\w/.:@-])((?:[\w.-]+/)*[\w.-]+\.md)\b")
CITED_DOCS_PATH = re.compile(r"(?<![\w/.:@-])(docs/[\w./-]*[\w/])")
# Research notes quote other projects' files (qubic/core's doc/*.md, ...): they are cited, not citing. The site's own
# tooling handles page paths as data (mkdocs.yml's navigation, the pages the generator writes, this file's examples);
# the strict build checks those.
NOT_SCANNED = ("docs/reference/", "web/src/api/", "mkdocs.yml", "scripts/docs_gen.py", "tests/infra/test_docs.py")
BINARY_OR_DATA = {".json", ".jsonl", ".png", ".svg", ".ico", ".gguf"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1", "HOME": str(out)},
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


def page(site: Path, uri: str) -> str:
    """The built HTML of a page given by its Markdown path (docs/guide/quickstart.md -> guide/quickstart/)."""
    built = site / uri.removesuffix(".md").removesuffix("index") / "index.html"
    assert built.is_file(), f"{uri} is not a page of the site ({built} missing)"
    return built.read_text()


def test_every_page_for_users_has_its_zh_tw_twin(site: Path) -> None:
    guide = [f"guide/{p.name}" for p in (DOCS / "guide").glob("*.md") if ".zh-TW" not in p.name]
    assert len(guide) >= 5
    for twin in ["index.md", "faq.md", "troubleshooting.md", *guide]:
        assert (DOCS / twin.replace(".md", ".zh-TW.md")).is_file(), f"{twin} has no zh-TW twin"
        html = page(site / "zh-TW", twin)
        assert 'lang="zh-TW"' in html and re.search(r"[\u4e00-\u9fff]", html), f"zh-TW/{twin} is not in Chinese"


def test_no_page_loads_a_script_a_stylesheet_or_a_font_from_another_host(site: Path) -> None:
    """The site reads offline: the theme's fonts are off and diagrams are text, so nothing comes from a CDN."""
    pages = list(site.rglob("*.html"))
    assert len(pages) > 40
    for built in pages:
        remote = re.findall(r"<(?:script|link)\b[^>]*(?:src|href)=\"(?:https?:)?//[^\"]+\"", built.read_text())
        assert not remote, f"{built.relative_to(site)} loads {remote}"


def test_the_api_reference_has_every_operation_of_the_openapi_document(site: Path) -> None:
    html = page(site, "reference/api.md")
    for path, methods in json.loads(OPENAPI.read_text())["paths"].items():
        for method in methods:
            assert f"{method.upper()} {path}" in html.replace("&amp;", "&"), f"{method.upper()} {path} not documented"


def test_the_cli_reference_has_every_command_with_its_help(site: Path) -> None:
    html = page(site, "reference/cli.md")
    for words in ("qcl up", "qcl oracle verify", "qcl ops silence", "qcl bench compare", "qcl workflows run"):
        assert f"<code>{words}</code>" in html, f"{words} missing from the CLI reference"
    assert "Check an attestation from the committee file alone" in html  # qcl oracle verify's own docstring


def test_every_alert_s_runbook_url_is_a_page_of_the_site(site: Path) -> None:
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    for rule in rules:
        url = str(rule["annotations"]["runbook_url"])
        assert url.startswith("docs/"), f"{rule['alert']}: runbook_url {url} is not under docs/"
        assert f'<h1 id="{rule["alert"].lower()}">{rule["alert"]}' in page(site, url.removeprefix("docs/"))
        assert f'href="{rule["alert"]}/"' in page(site, "runbooks/index.md"), f"runbooks/index.md misses {url}"


def test_the_architecture_page_s_topic_table_is_the_registry() -> None:
    row = re.compile(r"^\| `([\w-]+)` \| `([\w.]+)` \| ([^|]+) \| ([^|]+) \|$", re.M)
    rows = row.findall((DOCS / "architecture.md").read_text())
    documented = {topic: (kind, producers.strip(), consumers.strip()) for topic, kind, producers, consumers in rows}
    registered = {
        row["topic"]: (row["event_type"], ", ".join(row["producers"]), ", ".join(row["consumers"]))
        for row in registry_table()
    }
    assert documented == registered


def cited_documents() -> list[tuple[str, str]]:
    """(citing file, cited path) for every tracked text file outside the research notes."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    found = []
    for name in tracked.split():
        path = ROOT / name
        if name.startswith(NOT_SCANNED) or path.suffix in BINARY_OR_DATA or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        found += [(name, cited) for cited in CITED_MD.findall(text) + CITED_DOCS_PATH.findall(text)]
    return found


def exists(citing: str, cited: str) -> bool:
    """A cited document exists relative to the citing file, to the repository's root, or by name under docs/."""
    here = (ROOT / citing).parent
    by_name = "/" not in cited and any(DOCS.rglob(cited))
    candidates = [(here / cited).resolve(), (ROOT / cited).resolve()]
    generated = any(path.is_relative_to(DOCS) and str(path.relative_to(DOCS)) in GENERATED for path in candidates)
    return any(path.exists() for path in candidates) or by_name or generated


def test_every_document_the_code_cites_exists_in_the_repository() -> None:
    cited = cited_documents()
    assert ("shared/qcl/qubic/rpc.py", "docs/reference/qubic-rpc.md") in cited  # the scan sees citations
    missing = sorted(f"{citing} cites {doc}" for citing, doc in cited if not exists(citing, doc))
    assert not missing, "cited documents missing from the repository:\n" + "\n".join(missing)


def test_a_citation_of_a_missing_document_is_found() -> None:
    assert not exists("shared/qcl/qubic/rpc.py", "shared/reference/qubic-rpc.md")
    assert not exists("README.md", "docs/design/ARCHITECTURE.md")
    assert exists("README.md", "model-facts.md") and exists("infra/main.tf", "README.md")


# A command line: qcl at the start of a line or after && ; $( , after optional VAR=value words and a folder.
COMMAND_LINE = re.compile(r"(?:^|&&|;|\$\()\s*(?:[A-Z][A-Z0-9_]*=\S*\s+)*(?:[\w./-]*/)?qcl((?: [a-z][\w-]*)+)", re.M)


def named_commands(text: str) -> set[tuple[str, ...]]:
    """The `qcl …` command lines inside a text's code (spans and fenced blocks): each as its words."""
    blocks = re.findall(r"```.*?```", text, re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return {tuple(words.split()) for code in blocks + spans for words in COMMAND_LINE.findall(code.strip("`"))}


@cache
def _cli() -> Any:
    """qcl's click command tree, built once (building it takes about half a second)."""
    import typer.main

    from qcl.cli import app

    return typer.main.get_command(app)


def unknown_command(words: tuple[str, ...]) -> str | None:
    """None when the words name a command of the CLI (arguments may follow a command), else what is unknown."""
    command = _cli()
    for depth, word in enumerate(words):
        subcommands = getattr(command, "commands", None)
        if subcommands is None:  # a command: the rest are its arguments
            return None
        if word not in subcommands:
            return " ".join(["qcl", *words[: depth + 1]])
        command = subcommands[word]
    return None


def test_every_qcl_command_the_docs_name_exists() -> None:
    pages = [ROOT / "README.md", ROOT / "infra/README.md", ROOT / "ops/README.md"]
    pages += [p for p in DOCS.rglob("*.md") if not p.relative_to(DOCS).as_posix().startswith("reference/")]
    unknown = sorted(
        f"{page.relative_to(ROOT)}: {missing}"
        for page in pages
        for words in named_commands(page.read_text())
        if (missing := unknown_command(words))
    )
    assert not unknown, "commands named in the docs that qcl does not have:\n" + "\n".join(unknown)


def test_an_unknown_command_is_found() -> None:
    text = "run `qcl capture --out x`, not `kubectl -n qcl create`:\n```sh\nX=1 .venv/bin/qcl oracle verify a.json\n```"
    assert named_commands(text) == {("capture",), ("oracle", "verify", "a")}  # words end at the first non-word
    assert unknown_command(("capture",)) == "qcl capture"
    assert unknown_command(("oracle", "verify", "a.json")) is None
    assert unknown_command(("oracle", "veriffy")) == "qcl oracle veriffy"
