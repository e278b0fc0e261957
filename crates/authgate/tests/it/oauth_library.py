#!/usr/bin/env python3
"""Authlib, a well-known OAuth 2.0 client library, against authgate.

  oauth_library.py client_credentials BASE_URL CLIENT_ID CLIENT_SECRET
  oauth_library.py code BASE_URL CLIENT_ID REDIRECT_URI USER PASSWORD

client_credentials: Authlib's OAuth2Session fetches a token (client_secret_basic).
code: Authlib builds the authorization URL with PKCE (S256) and a nonce; the real sign-in form
      is then filled in and submitted as a browser would (its CSRF cookie and hidden fields
      included); Authlib exchanges the code from the redirect for tokens.

Discovery gives the endpoints. Prints the token response as one JSON object.
"""
import html.parser
import json
import sys

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session


class FormFields(html.parser.HTMLParser):
    """The form's action and its input fields' names and values."""

    def __init__(self):
        super().__init__()
        self.action, self.fields = None, {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs.get("action")
        if tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value", "")


def main():
    mode, base = sys.argv[1], sys.argv[2]
    discovery = requests.get(base + "/.well-known/openid-configuration", timeout=10).json()
    if mode == "client_credentials":
        client_id, secret = sys.argv[3:5]
        client = OAuth2Session(client_id, secret, token_endpoint_auth_method="client_secret_basic")
        token = client.fetch_token(discovery["token_endpoint"], grant_type="client_credentials")
        print(json.dumps(dict(token)))
        return

    client_id, redirect_uri, user, password = sys.argv[3:7]
    client = OAuth2Session(client_id, redirect_uri=redirect_uri, scope="openid offline_access",
                           code_challenge_method="S256", token_endpoint_auth_method="none")
    verifier = generate_token(48)
    nonce = generate_token(16)
    url, state = client.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce)

    browser = requests.Session()
    page = browser.get(url, timeout=10)
    page.raise_for_status()
    form = FormFields()
    form.feed(page.text)
    fields = dict(form.fields, username=user, password=password)
    answer = browser.post(base + form.action, data=fields, allow_redirects=False, timeout=10)
    if answer.status_code != 303:
        raise SystemExit(f"sign-in answered {answer.status_code}: {answer.text[:300]}")
    location = answer.headers["Location"]
    token = client.fetch_token(discovery["token_endpoint"], authorization_response=location,
                               code_verifier=verifier, state=state)
    token = dict(token)
    token["expected_nonce"] = nonce
    print(json.dumps(token))


if __name__ == "__main__":
    main()
