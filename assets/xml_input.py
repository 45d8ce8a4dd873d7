"""What reading XML and refusing a source file need, and nothing heavier: lxml only.

Worker processes that parse IATI files import this, not :mod:`assets.io` (which brings Polars and
Pandera): they start in a fraction of a second.
"""

from lxml import etree


class SourceFileError(ValueError):
    """A source file cannot be read; carries the file and the reason."""

    def __init__(self, file: str, reason: str, line: int | None = None):
        self.file, self.reason, self.line = file, reason, line
        super().__init__(f"{file}{f', line {line}' if line else ''}: {reason}")


class XmlInput:
    """A binary stream for ``lxml.etree.iterparse`` that bounds what parsing can cost:

    * it refuses to read past ``limit`` bytes (a compressed bomb inflates only that far);
    * every ``prune_every`` bytes it drops every finished element of the tree built so far, keeping
      only the path of elements still open (``root`` is set by the caller at the root's start
      event) and, whole, the open record the caller is waiting for (``records``), so elements the
      caller does not ask events for (a million ``<X/>``) cannot pile up. Parsing asks for bytes only after the caller has taken every pending event, so nothing the
      caller still needs is dropped."""

    def __init__(self, stream, label: str, limit: int | None = None, *, records: tuple[str, ...] = (),
                 prune_every: int = 1 << 20):
        self.stream, self.label, self.limit, self.prune_every = stream, label, limit, prune_every
        self.records = set(records)  # elements the caller reads whole at their end: never pruned inside
        self.read_bytes, self.root, self._next_prune = 0, None, prune_every

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(1 << 16 if size is None or size < 0 else min(size, 1 << 16))
        self.read_bytes += len(chunk)
        if self.limit is not None and self.read_bytes > self.limit:
            raise SourceFileError(self.label, f"expands to more than {self.limit >> 20} MB: refused")
        if self.root is not None and self.read_bytes >= self._next_prune:
            self._next_prune = self.read_bytes + self.prune_every
            node = self.root
            while len(node) and node.tag not in self.records:
                if len(node) > 1:
                    del node[:-1]
                node = node[-1]
        return chunk


def xml_first_element(stream):
    """The document's first element, parsed as far as its start tag only (DTDs, entities and the
    network off), or None for a document without one: a reader checks the root and the DOCTYPE
    there before reading anything else."""
    for _, first in etree.iterparse(stream, events=("start",), resolve_entities=False, no_network=True,
                                    load_dtd=False, huge_tree=False):
        return first
    return None
