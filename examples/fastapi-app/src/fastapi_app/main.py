"""A small FastAPI app whose root endpoint proves the native wheels load."""

import os

import psycopg2
import sqlalchemy
from fastapi import FastAPI, HTTPException

app = FastAPI(title="fastapi-app")


@app.get("/")
def root() -> dict[str, str]:
    return {
        "status": "ok",
        "sqlalchemy": sqlalchemy.__version__,
        "psycopg2": psycopg2.__version__,
    }


@app.get("/db")
def db() -> dict[str, object]:
    """Run `SELECT 1` against `DATABASE_URL`; without it, touch nothing."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return {"configured": False}
    try:
        engine = sqlalchemy.create_engine(url, pool_pre_ping=True)
        try:
            with engine.connect() as conn:
                value = conn.execute(sqlalchemy.text("SELECT 1")).scalar_one()
        finally:
            engine.dispose()
    except sqlalchemy.exc.SQLAlchemyError as err:
        raise HTTPException(status_code=503, detail=f"database unavailable: {err.__class__.__name__}")
    return {"configured": True, "result": value}


def run() -> None:
    """Entry point of the `fastapi-app` script."""
    import uvicorn

    uvicorn.run(app, host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))


if __name__ == "__main__":
    run()
