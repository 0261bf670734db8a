"""The GPU architectures a compiled extension holds code for, read from the binary itself.

nvcc embeds its device code in a `.nv_fatbin` section of the ELF shared object: one or more fat binaries
(magic 0xBA55ED50, a 16-byte header whose size field gives the length of the entries that follow), each a
list of entries with a kind (1: PTX, 2: ELF cubin, i.e. machine code) and the sm number it targets. The
build command says what was asked for; this says what the `_ext` really contains, which is what a GPU can
run (a cubin for its architecture, or PTX at or below it for the driver to compile).

Linux ELF only (what envdoctor builds there); a Windows DLL keeps the same fat binaries in a `.nv_fatb`
section of a PE file, which is not read yet and says so.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from envdoctor.errors import EnvdoctorError

FATBIN_MAGIC = 0xBA55ED50
KIND_PTX, KIND_CUBIN = 1, 2
_SECTION = b".nv_fatbin"


class NotReadable(EnvdoctorError, ValueError):
    code = "fatbin-unreadable"
    exit_code = 1


@dataclass(frozen=True)
class DeviceCode:
    """What one extension holds: the sm numbers with machine code, and those with PTX."""

    sass: frozenset[int]
    ptx: frozenset[int]

    def runs_on(self, sm: int) -> bool:
        """Whether a GPU of compute capability `sm` (e.g. 90) has code here: its own cubin (a cubin runs on
        the same major and a higher minor) or PTX at or below it."""
        same_major = any(s // 10 == sm // 10 and s <= sm for s in self.sass)
        return same_major or any(p <= sm for p in self.ptx)

    def describe(self) -> str:
        """ "sm_90 sm_120 compute_90": machine code first, then PTX; "" when it holds neither."""
        return " ".join([f"sm_{s}" for s in sorted(self.sass)] + [f"compute_{p}" for p in sorted(self.ptx)])


def _elf_section(data: bytes, name: bytes) -> bytes | None:
    if data[:4] != b"\x7fELF":
        raise NotReadable("not an ELF file (envdoctor reads device code from Linux shared objects)")
    if data[4] != 2 or data[5] != 1:
        raise NotReadable("not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if shoff == 0 or shnum == 0 or shoff + shnum * shentsize > len(data):
        raise NotReadable("its section table is missing or cut short")

    def header(i: int) -> tuple[int, int, int]:
        base = shoff + i * shentsize
        (name_at,) = struct.unpack_from("<I", data, base)
        offset, size = struct.unpack_from("<QQ", data, base + 0x18)
        return name_at, offset, size

    _, str_off, str_size = header(shstrndx)
    names = data[str_off : str_off + str_size]
    for i in range(shnum):
        name_at, offset, size = header(i)
        end = names.find(b"\0", name_at)
        if names[name_at:end] == name:
            if offset + size > len(data):
                raise NotReadable(f"its {name.decode()} section runs past the end of the file")
            return data[offset : offset + size]
    return None


def read_each(path: Path) -> tuple[DeviceCode, ...]:
    """The device code of each fat binary in the shared object at `path`, in file order: nvcc writes one per
    compiled .cu file, so a kernel object built without an architecture shows up here, where the union
    (read()) would hide it behind the others. An extension built without CUDA holds none."""
    data = path.read_bytes()
    section = _elf_section(data, _SECTION)
    each: list[DeviceCode] = []
    if section is None:
        return ()
    at = 0
    while at + 16 <= len(section):
        magic, _version, header_size, fat_size = struct.unpack_from("<IHHQ", section, at)
        if magic != FATBIN_MAGIC:
            at += 8  # fat binaries are 8-byte aligned, with padding between them
            continue
        entry, end = at + header_size, at + header_size + fat_size
        if end > len(section):
            raise NotReadable("a fat binary in its .nv_fatbin section is cut short")
        sass: set[int] = set()
        ptx: set[int] = set()
        while entry + 32 <= end:
            kind, _ev, entry_header, payload = struct.unpack_from("<HHII", section, entry)
            (sm,) = struct.unpack_from("<I", section, entry + 28)
            if entry_header < 32:
                raise NotReadable("a fat binary entry has a header too short to name its architecture")
            (sass if kind == KIND_CUBIN else ptx if kind == KIND_PTX else set()).add(sm)
            entry += entry_header + payload
        each.append(DeviceCode(frozenset(sass), frozenset(ptx)))
        at = end
    return tuple(each)


def read(path: Path) -> DeviceCode:
    """The device code of the shared object at `path`, all its fat binaries together."""
    each = read_each(path)
    return DeviceCode(frozenset().union(*(d.sass for d in each)), frozenset().union(*(d.ptx for d in each)))
