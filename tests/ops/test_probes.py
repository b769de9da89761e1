import pytest


@pytest.mark.django_db
def test_health_probes_answer_for_a_host_outside_allowed_hosts(client, settings):
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert client.get("/w/x/", HTTP_HOST="10.1.2.3:8000").status_code == 400
