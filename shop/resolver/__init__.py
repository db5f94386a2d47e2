"""The resolver behind the QR code on a tag (GS1 Digital Link and UNTP's identity
resolver): /p/<code> and /01/<gtin>/10/<code> answer a browser with the batch's page and a
machine with an RFC 9264 linkset of what the store publishes about the batch."""
