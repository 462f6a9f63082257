# pragma version ~=0.4.3
"""
@title merkle: SHA-256 commitments of docs/commitments.md, checked on-chain
@notice Tensor chunk leaves (tag 0x00), inner nodes (0x01), tensor roots (0x02), trace
        records (0x03), trace roots (0x04), checkpoint entries (0x05) and checkpoint roots
        (0x06); all integers little-endian. Proofs list sibling hashes from the leaf level
        up; bit k of the leaf index says whether the node at level k is a right child.
@dev    Stateless Vyper module: `from lib import merkle` then `merkle.verify(...)`.
        `open_float32` is the complete opening of one float32 element against a tensor root.
"""

ZERO: constant(bytes32) = empty(bytes32)
MAX_DEPTH: constant(uint256) = 48               # proofs up to 2**48 leaves
MAX_DIMS: constant(uint256) = 8
MAX_HEADER: constant(uint256) = 66              # 2 + 8 * MAX_DIMS
MAX_CHUNK: constant(uint256) = 1024             # 256 float32 elements
CHUNK_ELEMENTS: constant(uint256) = 256
MAX_OP_NAME: constant(uint256) = 64
MAX_OP_TENSORS: constant(uint256) = 16          # inputs or outputs of one op
MAX_NAME: constant(uint256) = 256               # checkpoint tensor name (UTF-8 bytes)
DTYPE_FLOAT32: constant(uint8) = 1

M8: constant(uint256) = 71777214294589695       # 0x00ff00ff00ff00ff
M16: constant(uint256) = 281470681808895        # 0x0000ffff0000ffff
M32: constant(uint256) = 4294967295             # 0x00000000ffffffff


@internal
@pure
def _swap64(x: uint256) -> uint256:
    # Byte-reverse the low 8 bytes of x (x < 2**64).
    v: uint256 = ((x & M8) << 8) | ((x >> 8) & M8)
    v = ((v & M16) << 16) | ((v >> 16) & M16)
    return ((v & M32) << 32) | (v >> 32)


@internal
@pure
def le64(x: uint256) -> Bytes[8]:
    """@notice x (< 2**64) as 8 little-endian bytes."""
    return slice(convert(self._swap64(x), bytes32), 24, 8)


@internal
@pure
def chunk_leaf(chunk: Bytes[MAX_CHUNK]) -> bytes32:
    return sha256(concat(b"\x00", chunk))


@internal
@pure
def inner(left: bytes32, right: bytes32) -> bytes32:
    return sha256(concat(b"\x01", left, right))


@internal
@pure
def tree_depth(n: uint256) -> uint256:
    """@notice ceil(log2(max(n, 1))): the proof length for a tree of n leaves."""
    d: uint256 = 0
    for _: uint256 in range(MAX_DEPTH + 16):
        if (1 << d) >= n:
            break
        d += 1
    return d


@internal
@pure
def root_from_proof(leaf: bytes32, index: uint256, siblings: DynArray[bytes32, MAX_DEPTH]) -> bytes32:
    node: bytes32 = leaf
    i: uint256 = index
    for sibling: bytes32 in siblings:
        if i & 1 == 1:
            node = sha256(concat(b"\x01", sibling, node))
        else:
            node = sha256(concat(b"\x01", node, sibling))
        i = i >> 1
    return node


@internal
@pure
def verify(root: bytes32, leaf: bytes32, index: uint256, depth: uint256, siblings: DynArray[bytes32, MAX_DEPTH]) -> bool:
    """@notice True when `leaf` is leaf `index` of a depth-`depth` tree with this root."""
    if len(siblings) != depth or index >> depth != 0:
        return False
    return self.root_from_proof(leaf, index, siblings) == root


@internal
@pure
def verify_leaf(root: bytes32, leaf: bytes32, index: uint256, n: uint256, siblings: DynArray[bytes32, MAX_DEPTH]) -> bool:
    """@notice True when `leaf` is leaf `index` of an n-leaf tree with this root (index < n)."""
    if index >= n:
        return False
    return self.verify(root, leaf, index, self.tree_depth(n), siblings)


@internal
@pure
def tensor_header(dtype: uint8, dims: DynArray[uint64, MAX_DIMS]) -> Bytes[MAX_HEADER]:
    """@notice dtype code || ndim || each dim as 8 little-endian bytes."""
    d: uint256[MAX_DIMS] = empty(uint256[MAX_DIMS])
    for k: uint256 in range(len(dims), bound=MAX_DIMS):
        d[k] = convert(dims[k], uint256)
    full: Bytes[MAX_HEADER] = concat(
        convert(dtype, bytes1), convert(convert(len(dims), uint8), bytes1),
        self.le64(d[0]), self.le64(d[1]), self.le64(d[2]), self.le64(d[3]),
        self.le64(d[4]), self.le64(d[5]), self.le64(d[6]), self.le64(d[7]))
    return slice(full, 0, 2 + 8 * len(dims))


@internal
@pure
def tensor_root(header: Bytes[MAX_HEADER], tree_root: bytes32) -> bytes32:
    return sha256(concat(b"\x02", header, tree_root))


@internal
@pure
def header_numel(header: Bytes[MAX_HEADER]) -> (bool, uint256):
    """@notice (well formed, element count) of a tensor header."""
    if len(header) < 2:
        return False, 0
    ndim: uint256 = convert(slice(header, 1, 1), uint256)
    if len(header) != 2 + 8 * ndim:
        return False, 0
    numel: uint256 = 1
    for k: uint256 in range(ndim, bound=MAX_DIMS):
        numel *= self._swap64(convert(slice(header, 2 + 8 * k, 8), uint256))
        if numel >= 1 << 64:
            return False, 0
    return True, numel


@internal
@pure
def element_of(chunk: Bytes[MAX_CHUNK], i: uint256) -> uint32:
    """@notice The float32 bit pattern of element i of a chunk (little-endian bytes)."""
    le: uint256 = convert(slice(chunk, 4 * i, 4), uint256)
    return convert(((le & 255) << 24) | (((le >> 8) & 255) << 16) | (((le >> 16) & 255) << 8) | (le >> 24), uint32)


@internal
@pure
def open_float32(root: bytes32, header: Bytes[MAX_HEADER], chunk: Bytes[MAX_CHUNK], siblings: DynArray[bytes32, MAX_DEPTH], index: uint256) -> (bool, uint32):
    """
    @notice Open element `index` (row-major) of the float32 tensor committed as `root`.
    @return (valid, bits): valid only if the header is float32 and well formed, the index is
            inside the tensor, the chunk has exactly its committed length and the proof has
            exactly the tree's depth and leads to `root`.
    """
    ok: bool = False
    numel: uint256 = 0
    ok, numel = self.header_numel(header)
    if not ok or convert(slice(header, 0, 1), uint256) != convert(DTYPE_FLOAT32, uint256) or index >= numel:
        return False, 0
    c: uint256 = index // CHUNK_ELEMENTS
    n_chunks: uint256 = (numel + CHUNK_ELEMENTS - 1) // CHUNK_ELEMENTS
    if len(chunk) != 4 * min(CHUNK_ELEMENTS, numel - c * CHUNK_ELEMENTS):
        return False, 0
    if len(siblings) != self.tree_depth(n_chunks):
        return False, 0
    tree: bytes32 = self.root_from_proof(sha256(concat(b"\x00", chunk)), c, siblings)
    if sha256(concat(b"\x02", header, tree)) != root:
        return False, 0
    return True, self.element_of(chunk, index % CHUNK_ELEMENTS)


@internal
@pure
def trace_record(op_index: uint64, op_name: Bytes[MAX_OP_NAME], input_roots: DynArray[bytes32, MAX_OP_TENSORS], output_roots: DynArray[bytes32, MAX_OP_TENSORS], attrs_digest: bytes32) -> bytes32:
    """@notice Leaf of op `op_index` in a trace (tag 0x03)."""
    # abi_encode lays a bytes32 array out as (offset, length, elements): the elements are
    # the concatenated roots, from byte 64 on.
    ins: Bytes[(MAX_OP_TENSORS + 2) * 32] = abi_encode(input_roots)
    outs: Bytes[(MAX_OP_TENSORS + 2) * 32] = abi_encode(output_roots)
    return sha256(concat(
        b"\x03", self.le64(convert(op_index, uint256)),
        convert(convert(len(op_name), uint8), bytes1), op_name,
        convert(convert(len(input_roots), uint8), bytes1), slice(ins, 64, 32 * len(input_roots)),
        convert(convert(len(output_roots), uint8), bytes1), slice(outs, 64, 32 * len(output_roots)),
        attrs_digest))


@internal
@pure
def trace_root(op_count: uint64, tree_root: bytes32) -> bytes32:
    return sha256(concat(b"\x04", self.le64(convert(op_count, uint256)), tree_root))


@internal
@pure
def checkpoint_entry(name: Bytes[MAX_NAME], tensor_root: bytes32) -> bytes32:
    n: uint256 = len(name)
    return sha256(concat(b"\x05", convert(convert(n & 255, uint8), bytes1), convert(convert(n >> 8, uint8), bytes1), name, tensor_root))


@internal
@pure
def checkpoint_root(entry_count: uint64, tree_root: bytes32) -> bytes32:
    return sha256(concat(b"\x06", self.le64(convert(entry_count, uint256)), tree_root))
