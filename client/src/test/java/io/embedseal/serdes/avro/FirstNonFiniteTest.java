package io.embedseal.serdes.avro;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/**
 * The NaN/infinity scan reads two floats per step: it must find the same first index as a float-by-float check for
 * every length (odd ones end on a single float), every position, any offset, and the bit patterns at the edges of
 * the exponent field.
 */
class FirstNonFiniteTest {

    private static final int[] NON_FINITE = {
        Float.floatToRawIntBits(Float.NaN),
        0x7F80_0000 /* +inf */,
        0xFF80_0000 /* -inf */,
        0x7F80_0001 /* signalling NaN */,
        0xFFFF_FFFF /* negative NaN, all bits */
    };
    private static final int[] FINITE_EDGES = {
        0x7F7F_FFFF /* max */,
        0xFF7F_FFFF /* -max */,
        0x0000_0001 /* min subnormal */,
        0x8000_0000 /* -0 */,
        0,
        0x007F_FFFF /* max subnormal */,
        0x3F80_0000 /* 1 */,
        0x7F00_0000,
        0x0080_0000 /* min normal */
    };

    @Test
    void findsEveryNonFiniteBitPatternAtEveryPositionOfShortVectors() {
        for (int count = 0; count <= 11; count++) {
            for (int offset = 0; offset <= 3; offset++) {
                int[] finite = new int[count];
                for (int i = 0; i < count; i++) {
                    finite[i] = FINITE_EDGES[i % FINITE_EDGES.length];
                }
                assertThat(CanonicalEmbedding.firstNonFinite(bytes(finite, offset), offset, count))
                        .isEqualTo(-1);
                for (int at = 0; at < count; at++) {
                    for (int bad : NON_FINITE) {
                        int[] bits = finite.clone();
                        bits[at] = bad;
                        assertThat(CanonicalEmbedding.firstNonFinite(bytes(bits, offset), offset, count))
                                .as("count %d, offset %d, %08x at %d", count, offset, bad, at)
                                .isEqualTo(at);
                    }
                }
            }
        }
    }

    @Property(tries = 2_000)
    void agreesWithAFloatByFloatCheck(@ForAll("bitPatterns") List<Integer> bits) {
        int[] values = bits.stream().mapToInt(Integer::intValue).toArray();
        int expected = -1;
        for (int i = 0; i < values.length && expected < 0; i++) {
            if (!Float.isFinite(Float.intBitsToFloat(values[i]))) {
                expected = i;
            }
        }
        assertThat(CanonicalEmbedding.firstNonFinite(bytes(values, 1), 1, values.length))
                .isEqualTo(expected);
    }

    @Provide
    Arbitrary<List<Integer>> bitPatterns() {
        Arbitrary<Integer> one = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(40, Arbitraries.integers()),
                net.jqwik.api.Tuple.of(2, Arbitraries.of(0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7F80_0001)),
                net.jqwik.api.Tuple.of(5, Arbitraries.of(0x7F7F_FFFF, 0xFF7F_FFFF, 0x0080_0000, 0x8000_0000)));
        return one.list().ofMaxSize(70);
    }

    /** The values as little-endian floats after {@code offset} bytes of padding, with padding after too. */
    private static byte[] bytes(int[] bits, int offset) {
        ByteBuffer b = ByteBuffer.allocate(offset + 4 * bits.length + 3).order(ByteOrder.LITTLE_ENDIAN);
        b.position(offset);
        for (int v : bits) {
            b.putInt(v);
        }
        // trailing bytes that look like a non-finite float: the scan must not read past its count
        b.put((byte) 0xFF).put((byte) 0xFF).put((byte) 0xFF);
        return b.array();
    }
}
