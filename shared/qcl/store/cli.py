"""`qcl store copy`: one store's whole namespace into another (registered on `qcl` by cli.py).

    qcl store copy --from-url redis://old:6379/0 --to-url rediss://:TOKEN@new:6379/0 [--from-prefix qcl:]
                   [--to-prefix qcl:] [--replace] [--json]

A refusal (a target that holds keys, a server that does not answer) prints what is wrong and exits 1 with nothing
written.
"""

from __future__ import annotations

from typing import Annotated

import redis
import typer

from qcl.clitools import fail, print_json

store_app = typer.Typer(no_args_is_help=True, help="The store's state: copy it to another server or prefix.")

UrlOpt = Annotated[str, typer.Option(help="redis:// or rediss:// URL")]
PrefixOpt = Annotated[str, typer.Option(help="key prefix (QCL_REDIS_PREFIX of the stack)")]


@store_app.command("copy")
def copy(
    from_url: UrlOpt,
    to_url: UrlOpt,
    from_prefix: PrefixOpt = "qcl:",
    to_prefix: PrefixOpt = "qcl:",
    replace: Annotated[bool, typer.Option("--replace", help="delete the target's keys in the same step")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Copy every key (content and time left to live) from one Redis store into another, in one step."""
    from qcl.store.copy import StoreCopyError, copy_store
    from qcl.store.redis import RedisStore

    if (from_url, from_prefix) == (to_url, to_prefix):
        raise fail("the source and the target are the same store; nothing was copied", code=2)
    try:
        source, target = RedisStore(from_url, prefix=from_prefix), RedisStore(to_url, prefix=to_prefix)
    except ValueError as exc:  # a URL redis-py cannot parse, an empty prefix
        raise fail(f"{exc}; nothing was copied", code=2) from None
    try:
        copied = copy_store(source, target, replace=replace)
    except StoreCopyError as exc:
        raise fail(str(exc)) from None
    except redis.RedisError as exc:
        raise fail(f"a store did not answer: {type(exc).__name__}: {exc}; nothing was copied") from None
    finally:
        source.close()
        target.close()
    if as_json:
        print_json({"keys": copied.keys, "seconds": round(copied.seconds, 3), "to_prefix": to_prefix})
        return
    typer.echo(f"copied {copied.keys} keys into {to_prefix}* in {copied.seconds:.2f} s")


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
