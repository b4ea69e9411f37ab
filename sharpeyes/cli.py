"""The ``sharpeyes`` command line. Each command group lives in its own module and is added here."""

from __future__ import annotations

import logging
import sys

import click

from sharpeyes import __version__
from sharpeyes.errors import InputError, UserError
from sharpeyes.logsafe import install as install_log_redaction
from sharpeyes.logsafe import scrub


class SharpeyesGroup(click.Group):
    """A user error prints one clear line and exits 2; ``--verbose`` shows the traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            if ctx.obj and ctx.obj.get("verbose"):
                raise
            problems = exc.problems if isinstance(exc, InputError) else [str(exc)]
            for problem in problems:
                click.echo(f"error: {scrub(problem)}", err=True)
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
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)
    install_log_redaction()


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"sharpeyes {__version__}")


# Command modules register at the bottom, so each lives in its own file.
from sharpeyes.cli_audit import audit  # noqa: E402
from sharpeyes.cli_baseline import baseline  # noqa: E402
from sharpeyes.cli_config import config  # noqa: E402
from sharpeyes.cli_demo import demo  # noqa: E402
from sharpeyes.cli_probe import probe  # noqa: E402
from sharpeyes.cli_registry import registry  # noqa: E402
from sharpeyes.cli_run import run  # noqa: E402
from sharpeyes.cli_sim import sim as _sim  # noqa: E402

for _command in (config, registry, probe, run, _sim, audit, demo, baseline):
    main.add_command(_command)
