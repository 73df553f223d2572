#!/usr/bin/python3
"""make-corpus.py: writes the GGUF seed files beside this script.

good-*.gguf parse; bad-*.gguf are each broken in one way and must be
rejected with LB_EINVAL (tests/test-gguf.c lists the message fragment each
must produce). They are the fuzzer's seeds too (docs/gguf.md). Every file
is < 4 KiB. Standard library only (struct), assembled by hand so that the
files do not depend on llmbench's writer.

Run: /usr/bin/python3 tests/gguf-corpus/make-corpus.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# GGUF value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
# ggml tensor types used here: id, elements per block, bytes per block
T_F32, T_F16, T_Q4_0, T_Q8_0 = (0, 1, 4), (1, 1, 2), (2, 32, 18), (8, 32, 34)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return u64(len(b)) + b


def header(n_tensors, n_kv, version=3, magic=b"GGUF"):
    return magic + u32(version) + u64(n_tensors) + u64(n_kv)


SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i",
          F32: "<f", BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}


def val(t, v):
    """Encoding of a value of type t (no type id). Arrays: (elem_type, [..])."""
    if t == STR:
        return gstr(v)
    if t == ARR:
        et, items = v
        return u32(et) + u64(len(items)) + b"".join(val(et, x) for x in items)
    return struct.pack(SCALAR[t], v)


def kv(key, t, v):
    return gstr(key) + u32(t) + val(t, v)


def tinfo(name, dims, ttype, offset):
    return gstr(name) + u32(len(dims)) + b"".join(u64(d) for d in dims) + u32(ttype) + u64(offset)


def pad(b, a=32):
    return b + b"\0" * ((a - len(b) % a) % a)


def nbytes(t, dims):
    n = 1
    for d in dims[1:]:
        n *= d
    return dims[0] // t[1] * t[2] * n


def model(kvs, tensors, alignment=32, version=3, cut=None):
    """A complete file: tensors are (name, dims, type) packed in order,
    each aligned; data bytes are a counting pattern."""
    infos, off, data = [], 0, b""
    for name, dims, t in tensors:
        infos.append(tinfo(name, dims, t[0], off))
        size = nbytes(t, dims)
        data += bytes((off + i) & 0xFF for i in range(size))
        data = pad(data, alignment)
        off = len(data)
    b = header(len(tensors), len(kvs), version) + b"".join(kvs) + b"".join(infos)
    b = pad(b, alignment) + data
    return b if cut is None else b[:cut]


def nested(depth):
    """An array nested `depth` levels deep around one u8."""
    t, v = U8, 7
    for _ in range(depth):
        t, v = ARR, (t, [v])
    return v


FILES = {}

# ---- valid -------------------------------------------------------------
FILES["good-minimal"] = pad(header(0, 0))
FILES["good-small"] = model(
    [kv("general.architecture", STR, "llama"),
     kv("t.u8", U8, 200), kv("t.i8", I8, -100), kv("t.u16", U16, 60000),
     kv("t.i16", I16, -30000), kv("t.u32", U32, 4000000000), kv("t.i32", I32, -2000000000),
     kv("t.f32", F32, 1.5), kv("t.bool", BOOL, 1), kv("t.u64", U64, 1 << 60),
     kv("t.i64", I64, -(1 << 60)), kv("t.f64", F64, -0.25),
     kv("t.arr_u32", ARR, (U32, [1, 2, 3])),
     kv("t.arr_str", ARR, (STR, ["a", "bc", ""])),
     kv("t.arr_arr", ARR, (ARR, [(I16, [1, -2]), (I16, [3]), (STR, ["x"])]))],
    [("token_embd.weight", [4, 2], T_F32), ("blk.0.attn_q.weight", [32, 1], T_Q8_0)])
FILES["good-align64"] = model(
    [kv("general.alignment", U32, 64), kv("general.architecture", STR, "qwen3")],
    [("a", [32, 2], T_Q4_0), ("b", [3], T_F16), ("c", [1, 1, 1, 1], T_F32)], alignment=64)
FILES["good-v2"] = model([kv("general.architecture", STR, "llama")],
                         [("w", [8], T_F32)], version=2)
FILES["good-nest8"] = model([kv("deep", ARR, nested(8))], [])

# ---- malformed: header ---------------------------------------------------
FILES["bad-empty"] = b""
FILES["bad-truncated-header"] = header(0, 0)[:10]
FILES["bad-magic"] = pad(header(0, 0, magic=b"GGML"))
FILES["bad-version1"] = pad(header(0, 0, version=1))
FILES["bad-version4"] = pad(header(0, 0, version=4))
FILES["bad-kv-count"] = pad(header(0, 1000))
FILES["bad-kv-count-huge"] = pad(header(0, 1 << 63))
FILES["bad-tensor-count"] = pad(header((1 << 64) - 1, 0))
FILES["bad-no-padding"] = header(0, 0)  # data section would start at 32

# ---- malformed: key/values -----------------------------------------------
FILES["bad-key-past-eof"] = pad(header(0, 1) + u64(1000) + b"general.name")
FILES["bad-key-nul"] = pad(header(0, 1) + kv(b"gen\0eral", U8, 1))
FILES["bad-string-past-eof"] = pad(header(0, 1) + gstr("general.name") + u32(STR) + u64(4096) + b"abc")
FILES["bad-value-type"] = pad(header(0, 1) + gstr("k") + u32(13) + u32(0))
FILES["bad-array-elem-type"] = pad(header(0, 1) + gstr("k") + u32(ARR) + u32(42) + u64(0))
# count * 8 wraps to 8 in 64 bits; 8 bytes of elements follow
FILES["bad-array-count-overflow"] = pad(
    header(0, 1) + gstr("k") + u32(ARR) + u32(U64) + u64((1 << 61) + 1) + u64(5))
FILES["bad-array-str-count"] = pad(header(0, 1) + gstr("k") + u32(ARR) + u32(STR) + u64(1 << 62))
FILES["bad-array-str-past-eof"] = pad(
    header(0, 1) + gstr("k") + u32(ARR) + u32(STR) + u64(2) + gstr("ok") + u64(999))
FILES["bad-nesting-too-deep"] = pad(header(0, 1) + kv("deep", ARR, nested(9)))
FILES["bad-duplicate-key"] = pad(header(0, 2) + kv("a.b", U8, 1) + kv("a.b", U8, 2))
FILES["bad-alignment-0"] = model([kv("general.alignment", U32, 0)], [])
FILES["bad-alignment-3"] = model([kv("general.alignment", U32, 3)], [])
FILES["bad-alignment-type"] = model([kv("general.alignment", U64, 32)], [])

# ---- malformed: tensor infos ---------------------------------------------
def one_tensor(name="w", dims=(8,), ttype=0, offset=0, data=64, extra_kvs=()):
    b = header(1, len(extra_kvs)) + b"".join(extra_kvs) + tinfo(name, list(dims), ttype, offset)
    return pad(b) + b"\x11" * data


FILES["bad-name-too-long"] = one_tensor(name="n" * 64)
FILES["bad-name-nul"] = one_tensor(name=b"bad\0name")
FILES["bad-ndims5"] = one_tensor(dims=(1, 1, 1, 1, 1))
FILES["bad-zero-dim"] = one_tensor(dims=(8, 0))
FILES["bad-dim-overflow"] = one_tensor(dims=(1 << 32, 1 << 32))
FILES["bad-dim-negative"] = one_tensor(dims=(8, 1 << 63))
FILES["bad-size-overflow"] = one_tensor(dims=(1 << 62,))
FILES["bad-unknown-type"] = one_tensor(ttype=4)
FILES["bad-type-huge"] = one_tensor(ttype=0xFFFFFFFF)
FILES["bad-block-multiple"] = one_tensor(dims=(33,), ttype=T_Q4_0[0])
FILES["bad-misaligned-offset"] = one_tensor(offset=8)
FILES["bad-offset-past-eof"] = one_tensor(offset=1 << 63)
FILES["bad-data-past-eof"] = one_tensor(dims=(1024,), data=64)
# ends inside the type field of the info (after name, n_dims, one dimension)
FILES["bad-tensor-truncated"] = (header(1, 0) + tinfo("blk.0.attn_q.weight", [8], 0, 0))[:24 + 8 + 19 + 4 + 8 + 2]
FILES["bad-duplicate-tensor"] = pad(header(2, 0) + tinfo("w", [8], 0, 0) + tinfo("w", [8], 0, 32)) + b"\0" * 64
# good-small's last tensor (34 bytes of Q8_0) ends 30 bytes before the end
# of the file (padding); cutting 36 bytes loses 6 of its bytes
FILES["bad-truncated-data"] = FILES["good-small"][:-36]


def main():
    for name, data in sorted(FILES.items()):
        assert len(data) < 4096, name
        with open(os.path.join(HERE, name + ".gguf"), "wb") as f:
            f.write(data)
    # libFuzzer dictionary: tokens that are hard to guess byte by byte
    with open(os.path.join(HERE, "gguf.dict"), "w") as f:
        f.write('magic="GGUF"\nalign="general.alignment"\narch="general.architecture"\n'
                'v3="\\x03\\x00\\x00\\x00"\nv2="\\x02\\x00\\x00\\x00"\n')
    print("wrote %d files to %s" % (len(FILES), HERE))


if __name__ == "__main__":
    main()
