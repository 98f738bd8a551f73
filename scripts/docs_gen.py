"""Pages of the documentation site written at every build, so they cannot drift from what they describe:

    mkdocs build --strict            # mkdocs.yml loads this file as a hook
    python scripts/docs_gen.py api   # print a page: api (from web/src/api/openapi.json) or cli (from `qcl --help`)

- reference/api.md: the API reference, rendered from web/src/api/openapi.json (the snapshot of /api/openapi.json
  that `npm run gen:api` writes and the dashboard's types come from). Rendered to Markdown here rather than shown
  by Swagger UI: the site then builds and reads offline, with no script fetched from a CDN.
- reference/cli.md: the CLI reference, every command's `--help` as `qcl` prints it.

It also lists every runbook in the navigation (on_config).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[1]
OPENAPI = ROOT / "web/src/api/openapi.json"
# After the title: mkdocs takes a page's title from its first heading only when nothing comes before it.
HEADER = "<!-- Generated at build time by scripts/docs_gen.py from {source}; edit that, not this page. -->\n"


def api_markdown(spec: dict[str, Any]) -> str:
    """Operations grouped by tag in the document's order, then every schema they refer to."""
    info = spec["info"]
    lines = ["# API reference\n", HEADER.format(source="web/src/api/openapi.json"), f"{info['description']}\n"]
    lines.append(
        "The running API serves this document at `/api/openapi.json` and an interactive page at `/api/docs`. "
        "Every error has one shape, [`ErrorBody`](#errorbody).\n"
    )
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((method.upper(), path, op))
    for tag, ops in by_tag.items():
        lines.append(f"## {tag}\n")
        for method, path, op in ops:
            lines.extend(_operation(method, path, op))
    lines.append("## Schemas\n")
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        lines.extend(_schema(name, schema))
    return "\n".join(lines)


def _operation(method: str, path: str, op: dict[str, Any]) -> Iterator[str]:
    yield f"### `{method} {path}`\n"
    yield f"{op.get('summary', '')}. " + ("No key needed." if op.get("security") == [] else "Needs a key.") + "\n"
    if op.get("description"):
        yield op["description"] + "\n"
    params = op.get("parameters", [])
    if params:
        yield "| parameter | in | required | type | description |\n|---|---|---|---|---|"
        for p in params:
            row = (p["name"], p["in"], "yes" if p.get("required") else "no", _type(p.get("schema", {})))
            yield "| `{}` | {} | {} | {} | {} |".format(*row, _cell(p.get("description", "")))
        yield ""
    body = op.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        yield f"Request body ({media}): {_type(content.get('schema', {}))}\n"
    yield "| status | meaning | body |\n|---|---|---|"
    for status, response in op.get("responses", {}).items():
        content = response.get("content", {})
        shapes = ", ".join(f"{_type(c.get('schema', {}))} ({media})" for media, c in content.items()) or "—"
        yield f"| {status} | {_cell(response.get('description', ''))} | {shapes} |"
    yield ""


def _schema(name: str, schema: dict[str, Any]) -> Iterator[str]:
    yield f"### {name}\n"
    if schema.get("description"):
        yield _cell(schema["description"]) + "\n"
    properties = schema.get("properties", {})
    if not properties:
        yield f"Type: {_type(schema)}\n"
        return
    required = set(schema.get("required", []))
    yield "| field | type | required | description |\n|---|---|---|---|"
    for field, prop in properties.items():
        row = (field, _type(prop), "yes" if field in required else "no", _cell(prop.get("description", "")))
        yield "| `{}` | {} | {} | {} |".format(*row)
    yield ""


def _type(schema: dict[str, Any]) -> str:
    """A schema in a few words: a link to a named schema, `array of X`, one of an enum's values, a union."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            return " or ".join(_type(s) for s in schema[union])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if isinstance(kind, list):
        return " or ".join(kind)
    return str(kind)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


@cache  # the i18n plugin builds the site once per language in one process; the CLI cannot change in between
def cli_markdown() -> str:
    """Every command's `--help`, walking the typer app's groups, as `qcl` prints it at 80 columns (the page's width)."""
    import typer.main
    from click.testing import CliRunner

    sys.path.insert(0, str(ROOT / "shared"))  # this checkout's qcl, whichever one the environment installed
    from qcl.cli import app

    runner = CliRunner()
    cli = typer.main.get_command(app)  # built once: typer's runner builds the whole tree again for every command
    lines = ["# CLI reference\n", HEADER.format(source="the commands' docstrings and options (`qcl --help`)")]
    lines.append(
        "Every `qcl` command's `--help`. An option with a `[QCL_*]` variable reads that variable when the option "
        "is not given; the option wins (see the README's configuration table).\n"
    )

    def walk(command: Any, words: list[str]) -> Iterator[list[str]]:
        yield words
        for name in sorted(getattr(command, "commands", {})):
            yield from walk(command.commands[name], [*words, name])

    for words in walk(cli, []):
        env = {"COLUMNS": "80", "NO_COLOR": "1", "TERM": "dumb"}
        result = runner.invoke(cli, [*words, "--help"], env=env, prog_name="qcl")
        if result.exit_code != 0:
            raise RuntimeError(f"qcl {' '.join(words)} --help exited {result.exit_code}: {result.output}")
        help_text = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
        lines.append(f"{'#' * min(len(words) + 2, 4)} `{' '.join(['qcl', *words])}`\n")
        lines.append(f"```text\n{help_text.strip()}\n```\n")
    return "\n".join(lines)


GENERATED = ("reference/api.md", "reference/cli.md")  # under docs/, written at every build, not tracked


def pages() -> dict[str, str]:
    return dict(zip(GENERATED, (api_markdown(json.loads(OPENAPI.read_text())), cli_markdown()), strict=True))


@event_priority(100)  # before the i18n plugin reads the navigation
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """The mkdocs hook: every page of docs/runbooks/ goes into the navigation's Runbooks section after its index, so
    a runbook added with a new alert (or an operations procedure beside them) needs no line in mkdocs.yml."""
    section = _nav_section(config.nav or [], "Runbooks")
    for page in sorted((Path(config.docs_dir) / "runbooks").glob("*.md")):
        uri = f"runbooks/{page.name}"
        if uri not in section and ".zh-TW." not in page.name:
            section.append(uri)
    return config


def _nav_section(nav: list[Any], title: str) -> list[Any]:
    found = _find_section(nav, title)
    if found is None:
        raise KeyError(f"mkdocs.yml's nav has no section {title!r}")
    return found


def _find_section(nav: list[Any], title: str) -> list[Any] | None:
    for item in nav:
        for name, children in item.items() if isinstance(item, dict) else ():
            if not isinstance(children, list):
                continue
            if name == title:
                return children
            if (found := _find_section(children, title)) is not None:
                return found
    return None


def on_pre_build(config: MkDocsConfig) -> None:
    """The mkdocs hook: write the generated pages into docs/ before mkdocs reads it (they are git-ignored). A page is
    written only when it changed, so `mkdocs serve`, which rebuilds when docs/ changes, does not loop."""
    for uri, content in pages().items():
        target = Path(config.docs_dir) / uri
        if not target.is_file() or target.read_text() != content:
            target.write_text(content)


if __name__ == "__main__":
    page = {"api": "reference/api.md", "cli": "reference/cli.md"}[sys.argv[1]]
    sys.stdout.write(pages()[page])
