#!/usr/bin/env python3
"""A client written for Weaviate's documented OIDC steps, pointed at authgate, plus PyJWT (a JOSE
library outside Rust) verifying what authgate issued against its JWKS.

  oidc_client.py BASE_URL USER PASSWORD PATH [OLD_ACCESS_TOKEN]

1. GET  BASE_URL/v1/.well-known/openid-configuration  -> href, clientId, scopes
2. GET  href                                            -> token_endpoint, jwks_uri, issuer
3. POST token_endpoint  grant_type=password             -> access_token, id_token
4. GET  BASE_URL/PATH with Authorization: Bearer        -> the API's answer
5. PyJWT verifies the access token (typ at+jwt, aud authgate) and the ID token (aud clientId,
   only with the algorithms discovery lists for ID tokens, as a relying party does) against
   jwks_uri; and OLD_ACCESS_TOKEN too when given (issued before a key rotation).

Prints one JSON object: {"status", "body", "access_token", "kid", "subject", "id_subject",
"id_alg", "id_algorithms"}.
"""
import json
import sys
import urllib.parse
import urllib.request

import jwt


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def main():
    base, user, password, path = sys.argv[1:5]
    old_token = sys.argv[5] if len(sys.argv) > 5 else None

    pointer = get_json(base + "/v1/.well-known/openid-configuration")
    discovery = get_json(pointer["href"])
    form = urllib.parse.urlencode({
        "grant_type": "password",
        "client_id": pointer["clientId"],
        "username": user,
        "password": password,
        "scope": " ".join(pointer["scopes"]),
    }).encode()
    request = urllib.request.Request(discovery["token_endpoint"], data=form, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=10) as response:
        tokens = json.load(response)
    access = tokens["access_token"]

    api = urllib.request.Request(base + path)
    api.add_header("Authorization", "Bearer " + access)
    try:
        with urllib.request.urlopen(api, timeout=10) as response:
            status, body = response.status, json.load(response)
    except urllib.error.HTTPError as error:
        status, body = error.code, json.load(error)

    keys = jwt.PyJWKClient(discovery["jwks_uri"])
    algorithms = ["ES256", "RS256", "EdDSA"]

    id_algorithms = discovery["id_token_signing_alg_values_supported"]

    def verify(token, audience, algorithms=algorithms):
        header = jwt.get_unverified_header(token)
        key = keys.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=algorithms, audience=audience,
                            issuer=discovery["issuer"], options={"require": ["exp", "iat", "sub"]})
        return header, claims

    header, claims = verify(access, "authgate")
    assert header["typ"] == "at+jwt", header
    id_header, id_claims = verify(tokens["id_token"], pointer["clientId"], id_algorithms)
    if old_token:
        verify(old_token, "authgate")

    print(json.dumps({
        "status": status,
        "body": body,
        "access_token": access,
        "kid": header["kid"],
        "subject": claims["sub"],
        "id_subject": id_claims["sub"],
        "id_alg": id_header["alg"],
        "id_algorithms": id_algorithms,
    }))


if __name__ == "__main__":
    main()
