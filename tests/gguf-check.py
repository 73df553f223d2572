#!/usr/bin/python3
"""gguf-check.py: an independent GGUF v3 checker for files `llmbench model
synth` writes (tests/test-model-synth.sh).

Written from the GGUF spec (ggml docs/gguf.md; shared/reference/
quant-and-gguf.md) with the struct module only, sharing no code with
bench/gguf.c, so a bug in the C reader and writer cannot hide itself.
Checks: magic and version; every key/value decodes (nested arrays
included); the keys llama.cpp requires for the architecture are present
with the right types; tensor infos (unique names < 64 bytes, 1..4 dims,
known type ids, ne[0] a multiple of the block, offsets aligned, in order,
non-overlapping, inside the file, sizes from the block table below); the
data section ends at or before EOF; the tensor set matches the
architecture's names and shapes from the metadata.

usage: gguf-check.py FILE.gguf [--expect-arch A] [--expect-layers N]
                     [--expect-type TYPE] [--quiet]
Exit 0 when the file passes, 1 with one line per problem otherwise.
"""
import struct
import sys

# ggml type id -> (name, elements per block, bytes per block)
# (ggml src/ggml.c type_traits; block structs in src/ggml-common.h)
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    20: ("IQ4_NL", 32, 18), 23: ("IQ4_XS", 256, 136), 30: ("BF16", 1, 2),
    39: ("MXFP4", 32, 17),
}

# GGUF value type id -> struct format (fixed-size types)
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
T_STR, T_ARR = 8, 9
T_U32, T_I32, T_F32 = 4, 5, 6


class Bad(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, n, what):
        if n < 0 or self.p + n > len(self.d):
            raise Bad("%s at offset %d: needs %d bytes, file has %d" % (what, self.p, n, len(self.d)))
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def unpack(self, fmt, what):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what):
        n = self.unpack("<Q", what + " length")
        b = self.take(n, what)
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            raise Bad("%s is not UTF-8" % what)

    def value(self, t, what, depth=0):
        if t in SCALARS:
            v = self.unpack(SCALARS[t], what)
            if t == 7 and self.d[self.p - 1] not in (0, 1):
                raise Bad("%s: bool byte %d is not 0 or 1" % (what, self.d[self.p - 1]))
            return v
        if t == T_STR:
            return self.string(what)
        if t == T_ARR:
            if depth > 8:
                raise Bad("%s: arrays nested deeper than 8" % what)
            et = self.unpack("<I", what + " element type")
            n = self.unpack("<Q", what + " count")
            if et not in SCALARS and et not in (T_STR, T_ARR):
                raise Bad("%s: bad array element type %d" % (what, et))
            if et in SCALARS and n * struct.calcsize(SCALARS[et]) > len(self.d) - self.p:
                raise Bad("%s: %d elements run past EOF" % (what, n))
            return (et, [self.value(et, "%s[%d]" % (what, i), depth + 1) for i in range(n)])
        raise Bad("%s: bad value type %d" % (what, t))


def row_bytes(tid, ne0):
    _, be, bb = GGML_TYPES[tid]
    return ne0 // be * bb


def expected_tensors(arch, kv):
    """name -> shape (ne[0] first) that llama.cpp expects, from the metadata."""
    g = lambda k, d=None: kv.get("%s.%s" % (arch, k), (None, d))[1]
    d = g("embedding_length")
    nl = g("block_count")
    nh = g("attention.head_count")
    nkv = g("attention.head_count_kv", nh)
    hd = g("attention.key_length", d // nh)
    ff = g("feed_forward_length", 0)
    ne = g("expert_count", 0)
    ffe = g("expert_feed_forward_length", ff if arch == "llama" else 0)
    vocab = g("vocab_size") or len(kv["tokenizer.ggml.tokens"][1][1])
    t = {"token_embd.weight": [d, vocab], "output_norm.weight": [d]}
    for i in range(nl):
        b = "blk.%d." % i
        t[b + "attn_norm.weight"] = [d]
        t[b + "attn_q.weight"] = [d, nh * hd]
        t[b + "attn_k.weight"] = [d, nkv * hd]
        t[b + "attn_v.weight"] = [d, nkv * hd]
        t[b + "attn_output.weight"] = [nh * hd, d]
        if arch == "qwen2":
            t[b + "attn_q.bias"] = [nh * hd]
            t[b + "attn_k.bias"] = [nkv * hd]
            t[b + "attn_v.bias"] = [nkv * hd]
        if arch in ("qwen3", "qwen3moe"):
            t[b + "attn_q_norm.weight"] = [hd]
            t[b + "attn_k_norm.weight"] = [hd]
        t[b + "ffn_norm.weight"] = [d]
        if ne:
            t[b + "ffn_gate_inp.weight"] = [d, ne]
            t[b + "ffn_gate_exps.weight"] = [d, ffe, ne]
            t[b + "ffn_up_exps.weight"] = [d, ffe, ne]
            t[b + "ffn_down_exps.weight"] = [ffe, d, ne]
        else:
            t[b + "ffn_gate.weight"] = [d, ff]
            t[b + "ffn_up.weight"] = [d, ff]
            t[b + "ffn_down.weight"] = [ff, d]
    return t


# keys llama.cpp's loader needs (or our own reader needs), with their types
REQUIRED = [("general.architecture", T_STR), ("general.name", T_STR),
            ("general.file_type", T_U32), ("general.quantization_version", T_U32),
            ("{a}.context_length", T_U32), ("{a}.embedding_length", T_U32),
            ("{a}.block_count", T_U32), ("{a}.attention.head_count", T_U32),
            ("{a}.attention.head_count_kv", T_U32), ("{a}.rope.freq_base", T_F32),
            ("{a}.attention.layer_norm_rms_epsilon", T_F32),
            ("{a}.rope.dimension_count", T_U32),
            ("tokenizer.ggml.model", T_STR), ("tokenizer.ggml.bos_token_id", T_U32),
            ("tokenizer.ggml.eos_token_id", T_U32)]
REQUIRED_MOE = [("{a}.expert_count", T_U32), ("{a}.expert_used_count", T_U32)]


def check(path, expect_arch=None, expect_layers=None, expect_type=None):
    probs = []
    with open(path, "rb") as f:
        data = f.read()
    r = Reader(data)
    if r.take(4, "magic") != b"GGUF":
        raise Bad("magic is not GGUF")
    ver = r.unpack("<I", "version")
    if ver != 3:
        raise Bad("version %d, expected 3" % ver)
    n_t = r.unpack("<Q", "tensor_count")
    n_kv = r.unpack("<Q", "metadata_kv_count")
    kv = {}
    for i in range(n_kv):
        k = r.string("key %d" % i)
        if k in kv:
            probs.append("duplicate key %s" % k)
        t = r.unpack("<I", "type of " + k)
        kv[k] = (t, r.value(t, k))
    align = kv.get("general.alignment", (T_U32, 32))[1]
    if align <= 0 or align & (align - 1):
        raise Bad("general.alignment %d is not a power of 2" % align)
    arch = kv.get("general.architecture", (None, None))[1]
    if expect_arch and arch != expect_arch:
        probs.append("architecture %s, expected %s" % (arch, expect_arch))
    req = REQUIRED + (REQUIRED_MOE if ("%s.expert_count" % arch) in kv else [])
    if arch == "qwen3moe":
        req = req + REQUIRED_MOE + [("{a}.expert_feed_forward_length", T_U32)]
    for k, t in req:
        k = k.format(a=arch)
        if k not in kv:
            probs.append("required key %s is missing" % k)
        elif kv[k][0] != t:
            probs.append("key %s has type %d, expected %d" % (k, kv[k][0], t))
    # tokenizer arrays: same length, right element types, vocab size
    tok = kv.get("tokenizer.ggml.tokens")
    if not tok or tok[0] != T_ARR or tok[1][0] != T_STR:
        probs.append("tokenizer.ggml.tokens is missing or not an array of strings")
    else:
        n_vocab = len(tok[1][1])
        if len(set(tok[1][1])) != n_vocab:
            probs.append("tokenizer.ggml.tokens has duplicates")
        for k, et in (("tokenizer.ggml.scores", T_F32), ("tokenizer.ggml.token_type", T_I32)):
            v = kv.get(k)
            if not v or v[0] != T_ARR or v[1][0] != et or len(v[1][1]) != n_vocab:
                probs.append("%s must be an array of %d elements of type %d" % (k, n_vocab, et))
        if tok[1][1][:3] != ["<unk>", "<s>", "</s>"] or tok[1][1][3 + 0x41] != "<0x41>":
            probs.append("tokenizer: special and byte tokens are not where expected")
        vs = kv.get("%s.vocab_size" % arch)
        if vs and vs[1] != n_vocab:
            probs.append("%s.vocab_size %d != %d tokens" % (arch, vs[1], n_vocab))
    if expect_layers is not None and kv.get("%s.block_count" % arch, (0, None))[1] != expect_layers:
        probs.append("block_count %s, expected %d" % (kv.get("%s.block_count" % arch), expect_layers))

    infos = []
    names = set()
    for i in range(n_t):
        name = r.string("tensor %d name" % i)
        if len(name.encode()) >= 64:
            probs.append("tensor name %s is 64 bytes or longer" % name)
        if name in names:
            probs.append("duplicate tensor %s" % name)
        names.add(name)
        nd = r.unpack("<I", name + " n_dims")
        if not 1 <= nd <= 4:
            raise Bad("%s: n_dims %d" % (name, nd))
        ne = [r.unpack("<Q", "%s ne[%d]" % (name, j)) for j in range(nd)]
        tid = r.unpack("<I", name + " type")
        off = r.unpack("<Q", name + " offset")
        if tid not in GGML_TYPES:
            raise Bad("%s: unknown ggml type %d" % (name, tid))
        if any(x < 1 for x in ne):
            raise Bad("%s: dimension < 1 in %s" % (name, ne))
        if ne[0] % GGML_TYPES[tid][1]:
            raise Bad("%s: ne[0] %d is not a multiple of %s's block %d" % (name, ne[0], GGML_TYPES[tid][0], GGML_TYPES[tid][1]))
        size = row_bytes(tid, ne[0])
        for x in ne[1:]:
            size *= x
        infos.append((name, ne, tid, off, size))
    data_start = (r.p + align - 1) // align * align
    if any(b != 0 for b in data[r.p:data_start]):
        probs.append("padding before the data section is not zero")
    end = data_start
    for name, ne, tid, off, size in sorted(infos, key=lambda x: x[3]):
        if off % align:
            probs.append("%s: offset %d is not a multiple of %d" % (name, off, align))
        if data_start + off < end:
            probs.append("%s: overlaps the previous tensor" % name)
        end = data_start + off + size
        if end > len(data):
            probs.append("%s: data [%d, %d) runs past EOF %d" % (name, data_start + off, end, len(data)))
    if end > len(data):
        probs.append("data section ends at %d, past EOF %d" % (end, len(data)))

    if arch in ("llama", "qwen2", "qwen3", "qwen3moe"):
        exp = expected_tensors(arch, kv)
        got = {n: ne for n, ne, _, _, _ in infos}
        for n, shape in exp.items():
            if n not in got:
                probs.append("tensor %s is missing" % n)
            elif got[n] != shape:
                probs.append("tensor %s has shape %s, expected %s" % (n, got[n], shape))
        allowed = set(exp) | {"output.weight", "rope_freqs.weight"}
        for n in got:
            if n not in allowed:
                probs.append("unexpected tensor %s" % n)
        for n, ne, tid, _, _ in infos:
            if len(ne) == 1 and tid != 0:
                probs.append("1-D tensor %s is %s, expected F32" % (n, GGML_TYPES[tid][0]))
            if "ffn_gate_inp" in n and tid != 0:
                probs.append("router %s is %s, expected F32" % (n, GGML_TYPES[tid][0]))
        if expect_type:
            mats = [GGML_TYPES[tid][0] for n, ne, tid, _, _ in infos if len(ne) >= 2 and "ffn_gate_inp" not in n]
            if not mats or max(set(mats), key=mats.count) != expect_type.upper():
                probs.append("most matrices are not %s: %s" % (expect_type, sorted(set(mats))))
    return probs, len(infos), len(kv), end, len(data)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-3], file=sys.stderr)
        return 2
    path = argv[1]
    opts = {"--expect-arch": None, "--expect-layers": None, "--expect-type": None}
    quiet = "--quiet" in argv
    i = 2
    while i < len(argv):
        if argv[i] in opts and i + 1 < len(argv):
            opts[argv[i]] = argv[i + 1]
            i += 2
        elif argv[i] == "--quiet":
            i += 1
        else:
            print("gguf-check.py: unknown argument %s" % argv[i], file=sys.stderr)
            return 2
    try:
        probs, n_t, n_kv, end, size = check(
            path, opts["--expect-arch"],
            int(opts["--expect-layers"]) if opts["--expect-layers"] else None,
            opts["--expect-type"])
    except Bad as e:
        print("%s: FAIL: %s" % (path, e))
        return 1
    for p in probs:
        print("%s: FAIL: %s" % (path, p))
    if probs:
        return 1
    if not quiet:
        print("%s: ok: %d tensors, %d keys, data ends at %d of %d bytes" % (path, n_t, n_kv, end, size))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
