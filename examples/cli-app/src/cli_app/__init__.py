"""A small click CLI, installed as the `cli-app` console script."""

import click


@click.group()
@click.version_option(package_name="cli-app")
def main() -> None:
    """Example command-line tool for lockship."""


@main.command()
@click.argument("name", default="world")
def hello(name: str) -> None:
    """Print a greeting: `cli-app hello NAME` prints `hello, NAME`."""
    click.echo(f"hello, {name}")
