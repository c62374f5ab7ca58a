"""The OpenAPI document: public, 3.1, generated from the body models, covering every route."""

from __future__ import annotations

from gateway.api import bodies
from gateway.api.openapi import OPS, UNDOCUMENTED
from tests.api.conftest import Api


async def test_the_document_is_public_and_describes_every_route(api: Api) -> None:
    r = await api.call("GET", "/api/v1/openapi.json", role=None)
    assert r.status == 200 and r.body["openapi"] == "3.1.0"
    names = {route.name for route in api.server._runner.app.router.routes() if route.name}  # type: ignore[union-attr]
    documented = {op.name for op in OPS}
    assert names - documented - set(UNDOCUMENTED) == set()
    assert documented <= names
    doc_ops = {o["operationId"] for p in r.body["paths"].values() for o in p.values()}
    assert doc_ops == documented


async def test_body_schemas_come_from_the_models_the_routes_validate_with(api: Api) -> None:
    doc = (await api.call("GET", "/api/v1/openapi.json", role=None)).body
    create = doc["components"]["schemas"]["IncidentCreate"]
    expected = bodies.IncidentCreate.model_json_schema(ref_template="#/components/schemas/{model}")
    expected.pop("$defs", None)
    assert create == expected
    assert create["additionalProperties"] is False and create["required"] == ["nature"]
    op = doc["paths"]["/api/v1/incidents"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IncidentCreate"
    }
    assert set(op["responses"]) >= {"201", "400", "401", "403", "422", "429"}
