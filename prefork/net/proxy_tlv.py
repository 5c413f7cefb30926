"""The TLVs after the addresses of a PROXY protocol v2 header (HAProxy's specification,
section 2.2), checked as HAProxy checks them.

Rules:
- A TLV is a type byte, a two-byte big-endian length, then that many bytes. The TLVs
  fill the rest of the header exactly: one whose three-byte head or whose value runs
  past the header's length is a truncated TLV, and the header is refused.
- ``PP2_TYPE_CRC32C`` (0x03) is four bytes, the CRC32c (Castagnoli) of the whole header
  with those four bytes zeroed; a header whose checksum does not match is refused (the
  specification: a receiver that supports the checksum MUST check it). Computed only
  when the TLV is there: most balancers send none.
- ``PP2_TYPE_UNIQUE_ID`` (0x05) is at most 128 bytes (the specification's MUST NOT).
- Other TLVs are skipped, whatever their type. No I/O, no state.
"""

CRC32C = 0x03
UNIQUE_ID = 0x05
UNIQUE_ID_MAX = 128


def _table():
    table = []
    for n in range(256):
        for _ in range(8):
            n = (n >> 1) ^ 0x82F63B78 if n & 1 else n >> 1
        table.append(n)
    return table


_TABLE = None  # built at the first checksum


def crc32c(data):
    """The CRC32c (Castagnoli) of ``data``, as HAProxy's ``hash_crc32c``."""
    global _TABLE
    table = _TABLE
    if table is None:
        table = _TABLE = _table()
    crc = 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def check_tlvs(header, offset):
    """Check the TLVs of ``header`` (a whole v2 header, bytes) from ``offset`` (the end of
    its addresses) on; the reason it is refused (a str), or None."""
    end = len(header)
    while offset < end:
        if offset + 3 > end:
            return "truncated v2 TLV"
        kind = header[offset]
        length = int.from_bytes(header[offset + 1:offset + 3], "big")
        value = offset + 3
        offset = value + length
        if offset > end:
            return "truncated v2 TLV"
        if kind == CRC32C:
            if length != 4:
                return "v2 CRC32C TLV not 4 bytes"
            zeroed = header[:value] + bytes(4) + header[offset:]
            if crc32c(zeroed) != int.from_bytes(header[value:offset], "big"):
                return "v2 CRC32C mismatch"
        elif kind == UNIQUE_ID and length > UNIQUE_ID_MAX:
            return "v2 UNIQUE_ID TLV longer than 128 bytes"
    return None
