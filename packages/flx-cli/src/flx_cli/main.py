"""Entry point of the flx command."""


def main() -> None:
    from flx_cli.app import cli

    cli()
