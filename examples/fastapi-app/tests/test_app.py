from fastapi.testclient import TestClient

from fastapi_app.main import app

client = TestClient(app)


def test_root_reports_native_libraries():
    response = client.get("/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["sqlalchemy"].startswith("2.")
    assert body["psycopg2"]


def test_db_without_database_url(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    response = client.get("/db")
    assert response.status_code == 200
    assert response.json() == {"configured": False}


def test_db_with_sqlite(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    response = client.get("/db")
    assert response.status_code == 200
    assert response.json() == {"configured": True, "result": 1}
