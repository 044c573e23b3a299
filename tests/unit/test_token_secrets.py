"""Tokens: random, URL-safe, kept as their SHA-256 only; anything that is
not plausibly one of ours is refused before a lookup."""

import hashlib

import pytest

from portfolio.domain.tokens import TOKEN_MAX_LENGTH, new_token, plausible, token_hash


def test_a_new_token_is_url_safe_long_and_never_the_same():
    made = {new_token() for _ in range(200)}
    assert len(made) == 200
    assert all(len(t) >= 43 and plausible(t) for t in made)


def test_what_is_kept_is_the_sha256_of_the_token_not_the_token():
    token = new_token()
    kept = token_hash(token)
    assert kept == hashlib.sha256(token.encode()).hexdigest()
    assert token not in kept and len(kept) == 64
    assert token_hash(token) == kept  # the same token always finds its row
    assert token_hash(token + "x") != kept


@pytest.mark.parametrize("token", [None, "", "a b", "abc/def", "é" * 10, "x" * (TOKEN_MAX_LENGTH + 1), "a\nb"],
                         ids=["none", "empty", "space", "slash", "accents", "too-long", "newline"])
def test_anything_but_a_plausible_token_is_refused_before_a_lookup(token):
    assert not plausible(token)
