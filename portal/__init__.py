"""The workspace: Setka in the browser for the people who run the networks.

A backend-for-frontend: it signs people in (OpenID Connect, authorization code with PKCE, tokens
kept on the server), renders pages in Russian on the server and asks the public gateway for
everything, with the person's own token, through operations kept as files in ``operations/``
(checked against ``supergraph.graphql`` in the tests). It has no database and imports no
service's code: whatever it does, any portal can do.
"""
