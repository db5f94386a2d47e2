"""Checking a passport as anyone outside the store would: `flask --app app passport
verify FILE-or-URL` reads a compact JWS, resolves its issuer's did:web to the DID
document over HTTPS, checks the signature with the key the header names, the validity
dates, the status list bit and (given the UNTP JSON Schemas) the schema. Nothing here
reads the store's database or keys: only what is published."""
