"""The API's description and the README agree with the routes: every
endpoint served under /api is in the OpenAPI description, and every path of
the description has its example `curl` line in the README."""

import re
from pathlib import Path

from portfolio.api import openapi, routes

ROOT = Path(__file__).resolve().parents[2]


def served_api_paths() -> set[str]:
    return {r.path for r in routes() if r.path.startswith("/api/") and "{rest:path}" not in r.path}


def test_every_api_route_is_described():
    assert served_api_paths() == set(openapi.spec()["paths"])


def test_every_described_path_has_a_curl_example_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- api-curl", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    examples = {re.sub(r"/\d+", "/{pilot_id}", url.split("?")[0])
                for url in re.findall(r"https?://[^/\s]+(/api/[^\s\"']*)", block)}
    assert set(openapi.spec()["paths"]) <= examples
    posts = [line for line in block.splitlines() if "-d '" in line]
    assert posts, "the README shows how to post an update"


def test_the_readmes_nginx_example_lets_the_api_and_calendar_through_without_sign_in():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("```nginx", 1)[1].split("```", 1)[0]
    blocks = dict(re.findall(r"location (\S+) \{(.*?)\n\s*\}", example, re.DOTALL))
    assert "auth_request" in blocks["/"]
    for prefix in ("/api/", "/calendar/"):
        assert prefix in blocks, prefix
        assert "auth_request" not in blocks[prefix] and "proxy_pass" in blocks[prefix]
    # The calendar token is in the address: its access log is off, and the README says why.
    assert "access_log off" in blocks["/calendar/"]
    assert re.search(r"calendar token is part\s+of the address, so every access log", readme)
