"""The workspace's app: `api hello NAME`."""

import click
from greeting import greet


@click.group()
def main() -> None:
    """Greets people."""


@main.command()
@click.argument("name")
def hello(name: str) -> None:
    click.echo(greet(name))
