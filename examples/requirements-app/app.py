"""A script-style app: no package, its dependencies pinned in requirements/main.txt."""

import sys

import idna
import six


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "bücher.example"
    encoded = idna.encode(name).decode("ascii")
    print(f"{name} -> {encoded} (idna {idna.__version__}, six {six.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
