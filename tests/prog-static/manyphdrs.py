#!/usr/bin/env python3
"""manyphdrs.py IN OUT N: OUT is the 64-bit ELF program IN with N program
headers: its table moved to the file's end, mapped by a PT_LOAD of its own
(the kernel finds AT_PHDR through it), PT_NULL entries to make up N."""
import struct, sys

src, dst, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = bytearray(open(src, "rb").read())
assert b[:4] == b"\x7fELF" and b[4] == 2, "a 64-bit ELF file"
phoff, = struct.unpack_from("<Q", b, 32)
phent, phnum = struct.unpack_from("<HH", b, 54)
ph = [list(struct.unpack_from("<IIQQQQQQ", b, phoff + i * phent)) for i in range(phnum)]
end = max(p[3] + p[6] for p in ph if p[0] == 1)  # PT_LOAD: vaddr + memsz
off = (len(b) + 0xFFF) & ~0xFFF
size = total * 56
vaddr = ((end + 0x1FFFFF) & ~0x1FFFFF) + 0x200000 + (off & 0xFFF)
for p in ph:
    if p[0] == 6:  # PT_PHDR follows the table
        p[2], p[3], p[4], p[5], p[6] = off, vaddr, vaddr, size, size
ph.append([1, 4, off, vaddr, vaddr, size, size, 0x1000])
ph += [[0, 0, 0, 0, 0, 0, 0, 0]] * (total - len(ph))
b += b"\0" * (off - len(b))
for p in ph:
    b += struct.pack("<IIQQQQQQ", *p)
struct.pack_into("<Q", b, 32, off)
struct.pack_into("<HH", b, 54, 56, total)
open(dst, "wb").write(b)
