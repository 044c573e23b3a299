"""The API's OpenAPI 3.1 description, served at /api/openapi.json. The
request body's schema comes from the pydantic models the service validates
with (WeeklyUpdateIn, ReadingIn), so the description and the checks agree."""

from __future__ import annotations

from functools import lru_cache

from portfolio.domain.models import ReadingIn, WeeklyUpdateIn


def _update_body() -> dict:
    schema = WeeklyUpdateIn.model_json_schema(ref_template="#/components/schemas/{model}")
    schema["properties"].pop("pilot_id", None)  # named by the address
    schema["required"] = [r for r in schema.get("required", []) if r != "pilot_id"]
    reading = ReadingIn.model_json_schema(ref_template="#/components/schemas/{model}")
    reading["properties"].pop("reading_on", None)  # taken today, the day of the update
    reading["required"] = [r for r in reading.get("required", []) if r != "reading_on"]
    reading["title"] = "Reading"
    schema["properties"]["readings"] = {"type": "array", "items": {"$ref": "#/components/schemas/Reading"},
                                        "description": "Today's reading of some of the pilot's KPIs"}
    schema["title"] = "WeeklyUpdate"
    defs = schema.pop("$defs", {}) | reading.pop("$defs", {})  # Health, as the models define it
    return {**defs, "WeeklyUpdate": schema, "Reading": reading}


_ERROR = {"description": "Refused: why, and the field at fault",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_NO_TOKEN = {"description": "No live API token of an active person",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_AS_OF = {"name": "as_of", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
          "description": "The day to compute the clock and flags for (default: today)"}
_PILOT_ID = {"name": "pilot_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _json(description: str, schema: dict | None = None) -> dict:
    body = {"description": description}
    body["content"] = {"application/json": {"schema": schema or {"type": "object"}}}
    return body


@lru_cache(maxsize=1)
def spec() -> dict:
    pilot = {"$ref": "#/components/schemas/Pilot"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pilot portfolio tracker API",
            "version": "1",
            "description": "Read the pilots with their 90-day clock and flags, and post weekly updates, with the "
                           "rights of the person whose API token is sent (made on the People page). Errors are "
                           "{\"error\": {\"status\", \"message\", \"field\"}}.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/me": {"get": {"summary": "Who the token acts as", "responses": {
                "200": _json("The token's holder: name, email, role"), "401": _NO_TOKEN}}},
            "/api/pilots": {"get": {"summary": "Every pilot (not archived) with its clock and flags",
                                    "parameters": [_AS_OF], "responses": {
                "200": _json("as_of and pilots", {"type": "object", "properties": {
                    "as_of": {"type": "string", "format": "date"}, "pilots": {"type": "array", "items": pilot}}}),
                "401": _NO_TOKEN, "422": _ERROR}}},
            "/api/pilots/{pilot_id}": {"get": {"summary": "One pilot whole: fields, seats, clock, flags, criteria, "
                                                          "KPIs, privileges, decisions, latest updates",
                                               "parameters": [_PILOT_ID, _AS_OF], "responses": {
                "200": _json("as_of and pilot"), "401": _NO_TOKEN, "404": _ERROR}}},
            "/api/pilots/{pilot_id}/updates": {
                "get": {"summary": "The pilot's weekly updates, newest first", "parameters": [_PILOT_ID],
                        "responses": {"200": _json("pilot_id and updates"), "401": _NO_TOKEN, "404": _ERROR}},
                "post": {"summary": "Post this week's update with today's KPI readings (a second post in the same "
                                    "week revises it); the product owner or technical lead of the pilot, leadership "
                                    "or an admin",
                         "parameters": [_PILOT_ID],
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/WeeklyUpdate"}}}},
                         "responses": {"201": _json("The update as saved, with its revision"), "401": _NO_TOKEN,
                                       "403": _ERROR, "404": _ERROR, "413": _ERROR, "422": _ERROR,
                                       "503": _ERROR}},
            },
            "/api/flags": {"get": {"summary": "Every flag of the portfolio, worst first", "parameters": [_AS_OF],
                                   "responses": {"200": _json("as_of and flags"), "401": _NO_TOKEN,
                                                 "422": _ERROR}}},
            "/api/openapi.json": {"get": {"summary": "This description", "security": [],
                                          "responses": {"200": _json("OpenAPI 3.1")}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An API token from the People page"}},
            "schemas": {
                **_update_body(),
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "status": {"type": "integer"}, "message": {"type": "string"},
                    "field": {"type": ["string", "null"]}}}}},
                "Flag": {"type": "object", "properties": {
                    "code": {"type": "string"}, "flag": {"type": "string", "description": "the flag in words"},
                    "severity": {"type": "string", "enum": ["critical", "high", "medium", "info"]},
                    "reason": {"type": "string"}}},
                "Pilot": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"},
                    "business_unit": {"type": ["string", "null"]},
                    "stage": {"type": "string",
                              "enum": ["proposed", "pilot", "bridge", "production", "retired", "stopped"]},
                    "archived": {"type": "boolean"},
                    "start_date": {"type": ["string", "null"], "format": "date"},
                    "go_no_go_date": {"type": ["string", "null"], "format": "date"},
                    "bridge_due_date": {"type": ["string", "null"], "format": "date"},
                    "day": {"type": ["integer", "null"], "description": "day of the clock, the start date is day 1"},
                    "days_left": {"type": ["integer", "null"],
                                  "description": "to the go/no-go date, for a pilot on the clock"},
                    "overdue": {"type": "boolean"},
                    "product_owner": {"$ref": "#/components/schemas/Person"},
                    "technical_lead": {"$ref": "#/components/schemas/Person"},
                    "executive_sponsor": {"$ref": "#/components/schemas/Person"},
                    "operational_owner": {"$ref": "#/components/schemas/Person"},
                    "flags": {"type": "array", "items": {"$ref": "#/components/schemas/Flag"}}}},
                "Person": {"type": ["object", "null"], "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
                    "active": {"type": "boolean"}}},
            },
        },
    }
