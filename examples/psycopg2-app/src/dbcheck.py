"""Connects to PostgreSQL (libpq's PG* variables or DATABASE_URL) and runs SELECT 1."""

import os
import sys

import psycopg2


def main() -> int:
    dsn = os.environ.get("DATABASE_URL", "")
    with psycopg2.connect(dsn) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT 1, version()")
            one, version = cur.fetchone()
    print(f"SELECT 1 -> {one}")
    print(f"server: {version.split(',')[0]}")
    print(f"libpq: {psycopg2.extensions.libpq_version()}")
    return 0 if one == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
