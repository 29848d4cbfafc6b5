"""Greetings, shared by the workspace's apps."""


def greet(name: str) -> str:
    return f"hello, {name}"
