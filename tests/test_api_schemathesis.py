"""Schemathesis generates requests from the OpenAPI description: no server error, no response that
violates the documented schema (status code, content type, body).

One check is left out: "schema-valid request rejected". Some rules tie parameters together and
OpenAPI cannot say so (lat needs lon, tri=distance needs a centre, autour excludes lat/lon, autour
must name a known place); such requests get a documented 422 naming the parameter."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance


@pytest.fixture(scope="module")
def api_schema(sample_api):
    return schemathesis.openapi.from_asgi("/api/openapi.json", sample_api)


def operations(schema):
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_every_operation_conforms_to_the_schema(api_schema, mode):
    # Driven from a plain test: schemathesis' pytest fixture integration does not run under pytest 9.
    checked = []
    for operation in operations(api_schema):
        if mode == schemathesis.GenerationMode.NEGATIVE and not operation.definition.raw.get("parameters"):
            continue  # nothing to get wrong

        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy(generation_mode=mode))
        def conforms(case):
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        conforms()
        checked.append(operation.label)
    assert len(checked) == (17 if mode == schemathesis.GenerationMode.POSITIVE else 7), checked
