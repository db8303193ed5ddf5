# Independent implementation of docs/blind-index.md (keyed rotation, then scale-and-perturb) that computed
# DcpeTest's test vector: python3 dcpe_test_vector.py (needs the cryptography package).
import hmac, hashlib, math, struct
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

key_id = bytes(range(16))
secret = bytes(0x20 + i for i in range(32))
beta = 1.0
nonce = bytes(0xa0 + i for i in range(12))
m = [0.5, -0.25, 1.0, 0.0, 0.125]
d = len(m)

def expand(prk, info):
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
def ctr(key, iv, n):
    e = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return e.update(bytes(n)) + e.finalize()
def uni(stream, i):
    w = int.from_bytes(stream[8*i:8*i+8], "big")
    return ((w >> 12) + 0.5) * 2.0**-52

prk = hmac.new(key_id, secret, hashlib.sha256).digest()
K = expand(prk, b"embedseal.dcpe.prf.v1")
R = expand(prk, b"embedseal.dcpe.rotation.v1")
u = (int.from_bytes(expand(prk, b"embedseal.dcpe.scale.v1")[:8], "big") >> 11) * 2.0**-53
s = 1.0 + u * (1024.0 - 1.0)

# keyed rotation
layers = 2 * max(1, d - 1).bit_length() + 2
rs = ctr(R, d.to_bytes(8, "big") + bytes(8), 8 * layers * ((d - 1) + d // 2))
x = list(map(float, m))
w = 0
for l in range(layers):
    p = list(range(d))
    for i in range(d - 1, 0, -1):
        j = int(uni(rs, w) * (i + 1)); w += 1
        p[i], p[j] = p[j], p[i]
    for k in range(d // 2):
        t = 2.0 * math.pi * uni(rs, w); w += 1
        a, b = p[2*k], p[2*k+1]
        xa, xb = x[a], x[b]
        x[a] = math.cos(t) * xa - math.sin(t) * xb
        x[b] = math.sin(t) * xa + math.cos(t) * xb

# perturbation
pairs = (d + 1) // 2
coins = ctr(K, nonce + b"\0\0\0\0", 8 * (2 * pairs + 1))
g = []
for j in range(pairs):
    r = math.sqrt(-2.0 * math.log(uni(coins, 2*j)))
    a = 2.0 * math.pi * uni(coins, 2*j+1)
    g += [r * math.cos(a), r * math.sin(a)]
g = g[:d]
norm = math.sqrt(sum(v*v for v in g))
radius = s * beta / 4.0 * uni(coins, 2*pairs) ** (1.0/d)
lam = [gi * radius / norm for gi in g]
c = [struct.unpack('<f', struct.pack('<f', s*xi + li))[0] for xi, li in zip(x, lam)]
print("s =", repr(s), "layers", layers)
print("c =", [repr(v) for v in c])
print("c hex (float32 BE) =", ''.join(struct.pack('>f', v).hex() for v in c))
