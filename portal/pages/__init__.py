"""The workspace's pages, by domain; each module gives its routes (``routes(portal)``)."""
