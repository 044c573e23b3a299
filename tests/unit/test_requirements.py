"""requirements.txt is the whole install (`make run` on a fresh clone): what
st.login needs must be in it, or "Sign in" fails with
StreamlitMissingAuthlibError on a machine that has only what is pinned."""

from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pinned() -> dict[str, str]:
    """Each requirement's name and its exact version."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: pin {line!r} to an exact version (name==version)"
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_what_streamlits_sign_in_needs_is_pinned_and_in_range():
    # Those of the 'auth' extra: their marker holds with it, not without it.
    auth = [r for r in map(Requirement, requires("streamlit") or [])
            if r.marker is not None and r.marker.evaluate({"extra": "auth"}) and not r.marker.evaluate({"extra": ""})]
    assert auth, "streamlit names no requirements for its 'auth' extra"
    pins = pinned()
    for requirement in auth:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"requirements.txt lacks {requirement.name}, which st.login needs ({requirement})"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} does not satisfy {requirement}"
