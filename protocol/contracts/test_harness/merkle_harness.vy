# pragma version ~=0.4.3
"""
@title merkle test harness
@notice Thin external wrappers over lib/merkle.vy for tests and benchmarks only.
"""
from lib import merkle


@external
@pure
def chunk_leaf(chunk: Bytes[1024]) -> bytes32:
    return merkle.chunk_leaf(chunk)


@external
@pure
def inner(left: bytes32, right: bytes32) -> bytes32:
    return merkle.inner(left, right)


@external
@pure
def tree_depth(n: uint256) -> uint256:
    return merkle.tree_depth(n)


@external
@pure
def verify(root: bytes32, leaf: bytes32, index: uint256, depth: uint256, siblings: DynArray[bytes32, 48]) -> bool:
    return merkle.verify(root, leaf, index, depth, siblings)


@external
@pure
def verify_leaf(root: bytes32, leaf: bytes32, index: uint256, n: uint256, siblings: DynArray[bytes32, 48]) -> bool:
    return merkle.verify_leaf(root, leaf, index, n, siblings)


@external
@pure
def tensor_header(dtype: uint8, dims: DynArray[uint64, 8]) -> Bytes[66]:
    return merkle.tensor_header(dtype, dims)


@external
@pure
def tensor_root(header: Bytes[66], tree_root: bytes32) -> bytes32:
    return merkle.tensor_root(header, tree_root)


@external
@pure
def element_of(chunk: Bytes[1024], i: uint256) -> uint32:
    return merkle.element_of(chunk, i)


@external
@pure
def open_float32(root: bytes32, header: Bytes[66], chunk: Bytes[1024], siblings: DynArray[bytes32, 48], index: uint256) -> (bool, uint32):
    return merkle.open_float32(root, header, chunk, siblings, index)


@external
@view
def open_float32_gas(root: bytes32, header: Bytes[66], chunk: Bytes[1024], siblings: DynArray[bytes32, 48], index: uint256) -> uint256:
    g: uint256 = msg.gas
    ok: bool = False
    v: uint32 = 0
    ok, v = merkle.open_float32(root, header, chunk, siblings, index)
    return g - msg.gas


@external
@pure
def trace_record(op_index: uint64, op_name: Bytes[64], input_roots: DynArray[bytes32, 16], output_roots: DynArray[bytes32, 16], attrs_digest: bytes32) -> bytes32:
    return merkle.trace_record(op_index, op_name, input_roots, output_roots, attrs_digest)


@external
@pure
def trace_root(op_count: uint64, tree_root: bytes32) -> bytes32:
    return merkle.trace_root(op_count, tree_root)


@external
@pure
def checkpoint_entry(name: Bytes[256], tensor_root: bytes32) -> bytes32:
    return merkle.checkpoint_entry(name, tensor_root)


@external
@pure
def checkpoint_root(entry_count: uint64, tree_root: bytes32) -> bytes32:
    return merkle.checkpoint_root(entry_count, tree_root)
