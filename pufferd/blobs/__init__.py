"""Encrypted content-addressed blob storage (the BlobStore port) and URL signing."""
from pufferd.blobs.local import LocalBlobStore
from pufferd.blobs.port import BlobCorrupt, BlobError, BlobInfo, BlobNotFound, BlobReader, BlobStore, BlobWriter
from pufferd.blobs.signing import UrlSigner

__all__ = ["BlobCorrupt", "BlobError", "BlobInfo", "BlobNotFound", "BlobReader", "BlobStore", "BlobWriter",
           "LocalBlobStore", "UrlSigner"]
