"""The ``sharpeyes`` command line. Each command group lives in its own module and is added here."""

from __future__ import annotations

import logging
import sys

import click

from sharpeyes import __version__
from sharpeyes.errors import UserError


class SharpeyesGroup(click.Group):
    """A user error prints one clear line and exits 2; ``--verbose`` shows the traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            if ctx.obj and ctx.obj.get("verbose"):
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=SharpeyesGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", "-v", is_flag=True, help="Show debug logs and full tracebacks.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """sharpeyes: liveness, frame health and coverage of a city's video network."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"sharpeyes {__version__}")


from sharpeyes.cli_probe import probe  # noqa: E402  (commands live in their own modules)

main.add_command(probe)
