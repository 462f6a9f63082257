# pragma version ~=0.4.3
"""
@title ed25519: Ed25519 signature verification (RFC 8032) in Vyper
@notice `verify(public_key, message, signature)` accepts exactly when
            S < L (canonical scalar), A decodes to a curve point (canonical y < p), and
            encode([S]B - [k]A) == R byte for byte, with k = SHA-512(R || A || M) mod L.
        This is the COFACTORLESS equation, checked by recomputing R, as libsodium/PyNaCl
        and OpenSSL (python `cryptography`) do; honestly generated signatures verify under
        both the cofactorless and the cofactored rule, so they all agree on them. Because
        R is compared as a canonical encoding, a non-canonical R is rejected. Small-order
        public keys are not blacklisted (libsodium does): such a key has no honest owner,
        and binding one to an account only binds a peer id nobody else can hold.
@dev    Stateless Vyper module: `from lib import ed25519` then `ed25519.verify(...)`
        (a @view: inversions and the decompression root use the modexp precompile, 0x05).
        SHA-512 is implemented here on uint256 words masked to 64 bits. The double scalar
        multiplication is Straus-Shamir over both 253-bit scalars at once with 2-bit joint
        windows (a 16-entry table of sb*B + kb*(-A); multiples of B are constants), in
        extended twisted-Edwards coordinates (Hisil-Wong-Carter-Dawson formulas, a = -1).
"""

P: constant(uint256) = 57896044618658097711785492504343953926634992332820282019728792003956564819949
# (p - 5) / 8 and p - 2: exponents for the decompression root and for inversion.
P_ROOT_EXP: constant(uint256) = 7237005577332262213973186563042994240829374041602535252466099000494570602493
P_INV_EXP: constant(uint256) = 57896044618658097711785492504343953926634992332820282019728792003956564819947
D: constant(uint256) = 37095705934669439343138083508754565189542113879843219016388785533085940283555
D2: constant(uint256) = 16295367250680780974490674513165176452449235426866156013048779062215315747161
SQRT_M1: constant(uint256) = 19681161376707505956807079304988542015446066515923890162744021073123829784752
L: constant(uint256) = 7237005577332262213973186563042994240857116359379907606001950938285454250989
TWO_256_MOD_L: constant(uint256) = 7237005577332262213973186563042994240413239274941949949428319933631315875101
# Multiples 1, 2, 3 of the base point B in the cached form (Y + X, Y - X, 2d * T), Z = 1.
B1_YPX: constant(uint256) = 3533012425803781230144052908719740726127014226477800802100354883158534798213
B1_YMX: constant(uint256) = 31204614345391077396927242593886631629853981173214368409736920319215404093758
B1_T2D: constant(uint256) = 50237614328228664512531835696112167678046477356841409204013502641986506238568
B2_YPX: constant(uint256) = 40277088815386731178907243282125131086172340233842699037233503275583876657623
B2_YMX: constant(uint256) = 48718306963831746885583586643117907343561796231867704143509447914497974261160
B2_T2D: constant(uint256) = 50706672771372854810760959653406682044345679494001682866047262582014706678367
B3_YPX: constant(uint256) = 55221577242988382633613921715755988927347615506430221002982523990194636363568
B3_YMX: constant(uint256) = 19324154932736603031152325029326367275890211278985171650228672434569381466725
B3_T2D: constant(uint256) = 40779097241408971452228116607583414735230162954196233009433085899742953658505

MAX_MESSAGE: constant(uint256) = 256
MAX_SHA_INPUT: constant(uint256) = 320          # R || A || message
MAX_SHA_BLOCKS: constant(uint256) = 3           # ceil((320 + 17) / 128)

M64: constant(uint256) = 18446744073709551615
M8X: constant(uint256) = 450552876409790643671482431940419874915447411150352389258589821042463539455
M16X: constant(uint256) = 1766820105243087041267848467410591083712559083657179364930612997358944255
M32X: constant(uint256) = 26959946660873538060741835960174461801791452538186943042387869433855
M64X: constant(uint256) = 6277101735386680763495507056286727952657427581105975853055
M128: constant(uint256) = 340282366920938463463374607431768211455

SHA512_K: constant(uint256[80]) = [
    4794697086780616226, 8158064640168781261, 13096744586834688815, 16840607885511220156,
    4131703408338449720, 6480981068601479193, 10538285296894168987, 12329834152419229976,
    15566598209576043074, 1334009975649890238, 2608012711638119052, 6128411473006802146,
    8268148722764581231, 9286055187155687089, 11230858885718282805, 13951009754708518548,
    16472876342353939154, 17275323862435702243, 1135362057144423861, 2597628984639134821,
    3308224258029322869, 5365058923640841347, 6679025012923562964, 8573033837759648693,
    10970295158949994411, 12119686244451234320, 12683024718118986047, 13788192230050041572,
    14330467153632333762, 15395433587784984357, 489312712824947311, 1452737877330783856,
    2861767655752347644, 3322285676063803686, 5560940570517711597, 5996557281743188959,
    7280758554555802590, 8532644243296465576, 9350256976987008742, 10552545826968843579,
    11727347734174303076, 12113106623233404929, 14000437183269869457, 14369950271660146224,
    15101387698204529176, 15463397548674623760, 17586052441742319658, 1182934255886127544,
    1847814050463011016, 2177327727835720531, 2830643537854262169, 3796741975233480872,
    4115178125766777443, 5681478168544905931, 6601373596472566643, 7507060721942968483,
    8399075790359081724, 8693463985226723168, 9568029438360202098, 10144078919501101548,
    10430055236837252648, 11840083180663258601, 13761210420658862357, 14299343276471374635,
    14566680578165727644, 15097957966210449927, 16922976911328602910, 17689382322260857208,
    500013540394364858, 748580250866718886, 1242879168328830382, 1977374033974150939,
    2944078676154940804, 3659926193048069267, 4368137639120453308, 4836135668995329356,
    5532061633213252278, 6448918945643986474, 6902733635092675308, 7801388544844847127
]
SHA512_H: constant(uint256[8]) = [7640891576956012808, 13503953896175478587, 4354685564936845355, 11912009170470909681, 5840696475078001361, 11170449401992604703, 2270897969802886507, 6620516959819538809]

MODEXP: constant(address) = 0x0000000000000000000000000000000000000005


@internal
@pure
def _bswap(x: uint256) -> uint256:
    # Reverse the 32 bytes of x: little-endian encodings <-> integers.
    v: uint256 = ((x >> 8) & M8X) | ((x & M8X) << 8)
    v = ((v >> 16) & M16X) | ((v & M16X) << 16)
    v = ((v >> 32) & M32X) | ((v & M32X) << 32)
    v = ((v >> 64) & M64X) | ((v & M64X) << 64)
    return (v >> 128) | ((v & M128) << 128)


@internal
@pure
def sha512(data: Bytes[MAX_SHA_INPUT]) -> (bytes32, bytes32):
    """@notice SHA-512 of data, as the digest's first and second 32 bytes."""
    n: uint256 = len(data)
    # Message || 0x80 || zeros; the bit length is written into the last block's words.
    buf: Bytes[MAX_SHA_INPUT + 161] = concat(data, b"\x80", empty(bytes32), empty(bytes32), empty(bytes32), empty(bytes32), empty(bytes32))
    nb: uint256 = (n + 144) // 128
    k: uint256[80] = SHA512_K
    hs: uint256[8] = SHA512_H
    w: uint256[80] = empty(uint256[80])
    for blk: uint256 in range(nb, bound=MAX_SHA_BLOCKS):
        base: uint256 = blk * 128
        for j: uint256 in range(4):
            word: uint256 = convert(extract32(buf, base + 32 * j), uint256)
            w[4 * j] = word >> 192
            w[4 * j + 1] = (word >> 128) & M64
            w[4 * j + 2] = (word >> 64) & M64
            w[4 * j + 3] = word & M64
        if blk + 1 == nb:
            w[14] = 0
            w[15] = n * 8
        for t: uint256 in range(16, 80):
            x: uint256 = w[unsafe_sub(t, 15)]
            xx: uint256 = x | (x << 64)
            y: uint256 = w[unsafe_sub(t, 2)]
            yy: uint256 = y | (y << 64)
            s0: uint256 = (((xx >> 1) ^ (xx >> 8)) & M64) ^ (x >> 7)
            s1: uint256 = (((yy >> 19) ^ (yy >> 61)) & M64) ^ (y >> 6)
            w[t] = unsafe_add(unsafe_add(w[unsafe_sub(t, 16)], s0), unsafe_add(w[unsafe_sub(t, 7)], s1)) & M64
        a: uint256 = hs[0]
        b: uint256 = hs[1]
        c: uint256 = hs[2]
        d: uint256 = hs[3]
        e: uint256 = hs[4]
        f: uint256 = hs[5]
        g: uint256 = hs[6]
        h: uint256 = hs[7]
        # Eight rounds per pass with the working variables' roles rotated instead of moved:
        # round i's new `a` lands in the slot of its `h`, its new `e` in the slot of its `d`.
        for r: uint256 in range(10):
            t: uint256 = r * 8
            x: uint256 = 0
            y: uint256 = 0
            # round 8r + 0
            x = e | (e << 64)
            y = unsafe_add(unsafe_add(unsafe_add(h, ((x >> 14) ^ (x >> 18) ^ (x >> 41)) & M64), g ^ (e & (f ^ g))), unsafe_add(k[t + 0], w[t + 0]))
            x = a | (a << 64)
            d = unsafe_add(d, y) & M64
            h = unsafe_add(y, unsafe_add(((x >> 28) ^ (x >> 34) ^ (x >> 39)) & M64, (a & b) | (c & (a | b)))) & M64
            # round 8r + 1
            x = d | (d << 64)
            y = unsafe_add(unsafe_add(unsafe_add(g, ((x >> 14) ^ (x >> 18) ^ (x >> 41)) & M64), f ^ (d & (e ^ f))), unsafe_add(k[t + 1], w[t + 1]))
            x = h | (h << 64)
            c = unsafe_add(c, y) & M64
            g = unsafe_add(y, unsafe_add(((x >> 28) ^ (x >> 34) ^ (x >> 39)) & M64, (h & a) | (b & (h | a)))) & M64
            # round 8r + 2
            x = c | (c << 64)
            y = unsafe_add(unsafe_add(unsafe_add(f, ((x >> 14) ^ (x >> 18) ^ (x >> 41)) & M64), e ^ (c & (d ^ e))), unsafe_add(k[t + 2], w[t + 2]))
            x = g | (g << 64)
            b = unsafe_add(b, y) & M64
            f = unsafe_add(y, unsafe_add(((x >> 28) ^ (x >> 34) ^ (x >> 39)) & M64, (g & h) | (a & (g | h)))) & M64
            # round 8r + 3
            x = b | (b << 64)
            y = unsafe_add(unsafe_add(unsafe_add(e, ((x >> 14) ^ (x >> 18) ^ (x >> 41)) & M64), d ^ (b & (c ^ d))), unsafe_add(k[t + 3], w[t + 3]))
            x = f | (f << 64)
            a = unsafe_add(a, y) & M64
            e = unsafe_add(y, unsafe_add(((x >> 28) ^ (x >> 34) ^ (x >> 39)) & M64, (f & g) | (h & (f | g)))) & M64
            # round 8r + 4
            x = a | (a << 64)
            y = unsafe_add(unsafe_add(unsafe_add(d, ((x >> 14) ^ (x >> 18) ^ (x >> 41)) & M64), c ^ (a & (b ^ c))), unsafe_add(k[t + 4], w[t + 4]))
            x = e | (e << 64)
            h = unsafe_add(h, y) & M64
            d = unsafe_add(y, unsafe_add(((x >> 28) ^ (x >> 34) ^ (x >> 39)) & M64, (e & f) | (g & (e | f)))) & M64
            # round 8r + 5
            x = h | (h << 64)
            y = unsafe_add(unsafe_add(unsafe_add(c, ((x >> 14) ^ (x >> 18) ^ (x >> 41)) & M64), b ^ (h & (a ^ b))), unsafe_add(k[t + 5], w[t + 5]))
            x = d | (d << 64)
            g = unsafe_add(g, y) & M64
            c = unsafe_add(y, unsafe_add(((x >> 28) ^ (x >> 34) ^ (x >> 39)) & M64, (d & e) | (f & (d | e)))) & M64
            # round 8r + 6
            x = g | (g << 64)
            y = unsafe_add(unsafe_add(unsafe_add(b, ((x >> 14) ^ (x >> 18) ^ (x >> 41)) & M64), a ^ (g & (h ^ a))), unsafe_add(k[t + 6], w[t + 6]))
            x = c | (c << 64)
            f = unsafe_add(f, y) & M64
            b = unsafe_add(y, unsafe_add(((x >> 28) ^ (x >> 34) ^ (x >> 39)) & M64, (c & d) | (e & (c | d)))) & M64
            # round 8r + 7
            x = f | (f << 64)
            y = unsafe_add(unsafe_add(unsafe_add(a, ((x >> 14) ^ (x >> 18) ^ (x >> 41)) & M64), h ^ (f & (g ^ h))), unsafe_add(k[t + 7], w[t + 7]))
            x = b | (b << 64)
            e = unsafe_add(e, y) & M64
            a = unsafe_add(y, unsafe_add(((x >> 28) ^ (x >> 34) ^ (x >> 39)) & M64, (b & c) | (d & (b | c)))) & M64
        hs[0] = unsafe_add(hs[0], a) & M64
        hs[1] = unsafe_add(hs[1], b) & M64
        hs[2] = unsafe_add(hs[2], c) & M64
        hs[3] = unsafe_add(hs[3], d) & M64
        hs[4] = unsafe_add(hs[4], e) & M64
        hs[5] = unsafe_add(hs[5], f) & M64
        hs[6] = unsafe_add(hs[6], g) & M64
        hs[7] = unsafe_add(hs[7], h) & M64
    first: uint256 = (hs[0] << 192) | (hs[1] << 128) | (hs[2] << 64) | hs[3]
    second: uint256 = (hs[4] << 192) | (hs[5] << 128) | (hs[6] << 64) | hs[7]
    return convert(first, bytes32), convert(second, bytes32)


@internal
@view
def _modexp(base: uint256, exponent: uint256) -> uint256:
    out: Bytes[32] = raw_call(
        MODEXP,
        concat(convert(32, bytes32), convert(32, bytes32), convert(32, bytes32), convert(base, bytes32), convert(exponent, bytes32), convert(P, bytes32)),
        max_outsize=32,
        is_static_call=True,
    )
    return convert(out, uint256)


@internal
@view
def decode_point(encoding: bytes32) -> (bool, uint256, uint256):
    """@notice (valid, x, y) of a 32-byte point encoding (RFC 8032 5.1.3, canonical y only)."""
    s: uint256 = self._bswap(convert(encoding, uint256))
    y: uint256 = s & 57896044618658097711785492504343953926634992332820282019728792003956564819967  # low 255 bits
    sign: uint256 = s >> 255
    if y >= P:
        return False, 0, 0
    yy: uint256 = uint256_mulmod(y, y, P)
    u: uint256 = uint256_addmod(yy, P - 1, P)
    v: uint256 = uint256_addmod(uint256_mulmod(D, yy, P), 1, P)
    v3: uint256 = uint256_mulmod(uint256_mulmod(v, v, P), v, P)
    v7: uint256 = uint256_mulmod(uint256_mulmod(v3, v3, P), v, P)
    x: uint256 = uint256_mulmod(uint256_mulmod(u, v3, P), self._modexp(uint256_mulmod(u, v7, P), P_ROOT_EXP), P)
    vxx: uint256 = uint256_mulmod(v, uint256_mulmod(x, x, P), P)
    if vxx != u:
        if uint256_addmod(vxx, u, P) != 0:
            return False, 0, 0                 # not on the curve
        x = uint256_mulmod(x, SQRT_M1, P)
    if x == 0 and sign == 1:
        return False, 0, 0
    if x & 1 != sign:
        x = P - x
    return True, x, y


@internal
@pure
def _double(x1: uint256, y1: uint256, z1: uint256) -> (uint256, uint256, uint256, uint256):
    # dbl-2008-hwcd for a = -1: 2 (X : Y : Z) in extended coordinates, with T.
    xx: uint256 = uint256_mulmod(x1, x1, P)
    yy: uint256 = uint256_mulmod(y1, y1, P)
    zz2: uint256 = uint256_mulmod(z1, z1, P)
    zz2 = uint256_addmod(zz2, zz2, P)
    xy: uint256 = uint256_addmod(x1, y1, P)
    sxy: uint256 = uint256_addmod(xx, yy, P)
    e: uint256 = uint256_addmod(uint256_mulmod(xy, xy, P), unsafe_sub(P, sxy), P)
    g: uint256 = uint256_addmod(yy, unsafe_sub(P, xx), P)
    f: uint256 = uint256_addmod(g, unsafe_sub(P, zz2), P)
    h: uint256 = unsafe_sub(P, sxy)
    return uint256_mulmod(e, f, P), uint256_mulmod(g, h, P), uint256_mulmod(f, g, P), uint256_mulmod(e, h, P)


@internal
@pure
def _add(x1: uint256, y1: uint256, z1: uint256, t1: uint256, ypx: uint256, ymx: uint256, t2d: uint256, z2: uint256) -> (uint256, uint256, uint256, uint256):
    # add-2008-hwcd-3 for a = -1 with the second point cached as (Y+X, Y-X, 2d T, 2 Z).
    a: uint256 = uint256_mulmod(uint256_addmod(y1, unsafe_sub(P, x1), P), ymx, P)
    b: uint256 = uint256_mulmod(uint256_addmod(y1, x1, P), ypx, P)
    c: uint256 = uint256_mulmod(t1, t2d, P)
    d: uint256 = uint256_mulmod(z1, z2, P)
    e: uint256 = uint256_addmod(b, unsafe_sub(P, a), P)
    f: uint256 = uint256_addmod(d, unsafe_sub(P, c), P)
    g: uint256 = uint256_addmod(d, c, P)
    h: uint256 = uint256_addmod(b, a, P)
    return uint256_mulmod(e, f, P), uint256_mulmod(g, h, P), uint256_mulmod(f, g, P), uint256_mulmod(e, h, P)


@internal
@pure
def _cached(x: uint256, y: uint256, z: uint256, t: uint256) -> (uint256, uint256, uint256, uint256):
    return uint256_addmod(y, x, P), uint256_addmod(y, unsafe_sub(P, x), P), uint256_mulmod(t, D2, P), uint256_addmod(z, z, P)


@internal
@view
def verify(public_key: bytes32, message: Bytes[MAX_MESSAGE], signature: Bytes[64]) -> bool:
    """
    @notice True when `signature` (R || S, 64 bytes) is a valid Ed25519 signature of
            `message` by `public_key` (the 32-byte encoding of A).
    """
    if len(signature) != 64:
        return False
    r_enc: bytes32 = extract32(signature, 0)
    s: uint256 = self._bswap(convert(extract32(signature, 32), uint256))
    if s >= L:
        return False                            # non-canonical S (malleability)
    ok: bool = False
    ax: uint256 = 0
    ay: uint256 = 0
    ok, ax, ay = self.decode_point(public_key)
    if not ok:
        return False
    first: bytes32 = empty(bytes32)
    second: bytes32 = empty(bytes32)
    first, second = self.sha512(concat(r_enc, public_key, message))
    # k = digest read little-endian, mod L.
    k: uint256 = uint256_addmod(
        uint256_mulmod(self._bswap(convert(second, uint256)) % L, TWO_256_MOD_L, L),
        self._bswap(convert(first, uint256)) % L, L)

    # Table of the cached forms of sb * B + kb * (-A) for sb, kb in 0..3, at index sb + 4 kb.
    t_ypx: uint256[16] = empty(uint256[16])
    t_ymx: uint256[16] = empty(uint256[16])
    t_t2d: uint256[16] = empty(uint256[16])
    t_z2: uint256[16] = empty(uint256[16])
    t_ypx[1] = B1_YPX
    t_ymx[1] = B1_YMX
    t_t2d[1] = B1_T2D
    t_ypx[2] = B2_YPX
    t_ymx[2] = B2_YMX
    t_t2d[2] = B2_T2D
    t_ypx[3] = B3_YPX
    t_ymx[3] = B3_YMX
    t_t2d[3] = B3_T2D
    t_z2[1] = 2
    t_z2[2] = 2
    t_z2[3] = 2
    # kb * (-A) in extended coordinates: -A = (-x, y, 1, -x y).
    nx: uint256 = (P - ax) % P
    m_x: uint256[4] = [0, nx, 0, 0]
    m_y: uint256[4] = [1, ay, 0, 0]
    m_z: uint256[4] = [1, 1, 0, 0]
    m_t: uint256[4] = [0, uint256_mulmod(nx, ay, P), 0, 0]
    m_x[2], m_y[2], m_z[2], m_t[2] = self._double(nx, ay, 1)
    c1: uint256[4] = empty(uint256[4])
    c1[0], c1[1], c1[2], c1[3] = self._cached(m_x[1], m_y[1], m_z[1], m_t[1])
    m_x[3], m_y[3], m_z[3], m_t[3] = self._add(m_x[2], m_y[2], m_z[2], m_t[2], c1[0], c1[1], c1[2], c1[3])
    for kb: uint256 in range(1, 4):
        i0: uint256 = 4 * kb
        t_ypx[i0], t_ymx[i0], t_t2d[i0], t_z2[i0] = self._cached(m_x[kb], m_y[kb], m_z[kb], m_t[kb])
        for sb: uint256 in range(1, 4):
            x3: uint256 = 0
            y3: uint256 = 0
            z3: uint256 = 0
            w3: uint256 = 0
            x3, y3, z3, w3 = self._add(m_x[kb], m_y[kb], m_z[kb], m_t[kb], t_ypx[sb], t_ymx[sb], t_t2d[sb], 2)
            t_ypx[i0 + sb], t_ymx[i0 + sb], t_t2d[i0 + sb], t_z2[i0 + sb] = self._cached(x3, y3, z3, w3)

    # Straus-Shamir with 2-bit joint windows: two doublings per window, then one addition
    # of the table entry the window's bits of S and k select (none when both are 0).
    X: uint256 = 0
    Y: uint256 = 1
    Z: uint256 = 1
    e_: uint256 = 0                             # T = e_ * h_ after a doubling
    h_: uint256 = 0
    for j: uint256 in range(254):
        # doubling (dbl-2008-hwcd, a = -1); T is left as e_ * h_
        xx: uint256 = uint256_mulmod(X, X, P)
        yy: uint256 = uint256_mulmod(Y, Y, P)
        zz2: uint256 = uint256_mulmod(Z, Z, P)
        zz2 = uint256_addmod(zz2, zz2, P)
        xy: uint256 = uint256_addmod(X, Y, P)
        sxy: uint256 = uint256_addmod(xx, yy, P)
        e_ = uint256_addmod(uint256_mulmod(xy, xy, P), unsafe_sub(P, sxy), P)
        g_: uint256 = uint256_addmod(yy, unsafe_sub(P, xx), P)
        f_: uint256 = uint256_addmod(g_, unsafe_sub(P, zz2), P)
        h_ = unsafe_sub(P, sxy)
        X = uint256_mulmod(e_, f_, P)
        Y = uint256_mulmod(g_, h_, P)
        Z = uint256_mulmod(f_, g_, P)
        if j & 1 == 0:
            continue
        sh: uint256 = unsafe_sub(253, j)        # the window's low bit: 252, 250, ..., 0
        idx: uint256 = ((s >> sh) & 3) | (((k >> sh) & 3) << 2)
        if idx != 0:
            t: uint256 = uint256_mulmod(e_, h_, P)
            pa: uint256 = uint256_mulmod(uint256_addmod(Y, unsafe_sub(P, X), P), t_ymx[idx], P)
            pb: uint256 = uint256_mulmod(uint256_addmod(Y, X, P), t_ypx[idx], P)
            pc: uint256 = uint256_mulmod(t, t_t2d[idx], P)
            pd: uint256 = uint256_mulmod(Z, t_z2[idx], P)
            e_ = uint256_addmod(pb, unsafe_sub(P, pa), P)
            f2: uint256 = uint256_addmod(pd, unsafe_sub(P, pc), P)
            g2: uint256 = uint256_addmod(pd, pc, P)
            h_ = uint256_addmod(pb, pa, P)
            X = uint256_mulmod(e_, f2, P)
            Y = uint256_mulmod(g2, h_, P)
            Z = uint256_mulmod(f2, g2, P)
    zinv: uint256 = self._modexp(Z, P_INV_EXP)
    x: uint256 = uint256_mulmod(X, zinv, P)
    y: uint256 = uint256_mulmod(Y, zinv, P)
    return self._bswap(convert(r_enc, uint256)) == y | ((x & 1) << 255)
