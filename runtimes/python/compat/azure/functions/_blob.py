"""Blob type of the azure.functions stand-in: InputStream, the value of a
blobTrigger or blob input parameter: a read-only file-like object over the
blob's bytes, with its name, length and URI when the trigger knows them."""
import io


class InputStream(io.BufferedIOBase):
    """File-like object representing an input blob."""

    def __init__(self, *, data, name=None, uri=None, length=None, blob_properties=None,
                 metadata=None):
        self._io = io.BytesIO(data)
        self._name = name
        self._uri = uri
        self._length = length
        self._blob_properties = blob_properties
        self._metadata = metadata

    @property
    def name(self):
        """The name of the blob ("container/path"), or None."""
        return self._name

    @property
    def length(self):
        """The size of the blob in bytes, or None."""
        return self._length

    @property
    def uri(self):
        """The blob's primary location URI, or None."""
        return self._uri

    @property
    def blob_properties(self):
        """The blob's properties (a dict) when the trigger gave them, else None."""
        return self._blob_properties

    @property
    def metadata(self):
        """The blob's metadata (a dict) when the trigger gave it, else None."""
        return self._metadata

    def read(self, size=-1):
        """Return and read up to size bytes (all that is left when size is
        omitted, None or negative)."""
        return self._io.read(-1 if size is None else size)

    def read1(self, size=-1):
        """As read(): what io.TextIOWrapper and other buffered readers call."""
        return self.read(size)

    def readable(self):
        return True

    def seekable(self):
        return False

    def writable(self):
        return False
