package io.embedseal.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

class VectorLeakScannerTest {

    private static float[] vector(long seed, int dims) {
        Random r = new Random(seed);
        float[] v = new float[dims];
        for (int i = 0; i < dims; i++) {
            v[i] = r.nextFloat() * 2 - 1;
        }
        return v;
    }

    private static byte[] bytes(float[] v, int from, int to, ByteOrder order, int leadingJunk) {
        ByteBuffer b = ByteBuffer.allocate(leadingJunk + 4 * (to - from)).order(order);
        b.position(leadingJunk);
        for (int i = from; i < to; i++) {
            b.putFloat(v[i]);
        }
        return b.array();
    }

    @Test
    void findsAnyRunOfThreeValues_inEitherByteOrder_atAnyAlignment() {
        float[] v = vector(1, 384);
        VectorLeakScanner scanner = new VectorLeakScanner();
        scanner.add(v);

        for (int from = 0; from < 10; from++) {
            for (int junk = 0; junk < 4; junk++) {
                assertThat(scanner.scan(bytes(v, from, from + 3, ByteOrder.LITTLE_ENDIAN, junk)))
                        .isPositive();
                assertThat(scanner.scan(bytes(v, from, from + 3, ByteOrder.BIG_ENDIAN, junk)))
                        .isPositive();
            }
        }
        assertThat(scanner.scan(bytes(v, 0, 384, ByteOrder.LITTLE_ENDIAN, 0))).isEqualTo(192);
    }

    @Test
    void findsNothingInOtherVectorsOrRandomBytes() {
        VectorLeakScanner scanner = new VectorLeakScanner();
        for (int seed = 0; seed < 100; seed++) {
            scanner.add(vector(seed, 384));
        }
        byte[] random = new byte[1 << 20];
        new Random(42).nextBytes(random);

        assertThat(scanner.scan(random)).isZero();
        assertThat(scanner.scan(bytes(vector(1000, 384), 0, 384, ByteOrder.LITTLE_ENDIAN, 0)))
                .isZero();
        assertThat(scanner.scan(new byte[4096])).as("zeros").isZero();
        assertThat(scanner.vectorCount()).isEqualTo(100);
        assertThat(scanner.windowCount()).isGreaterThan(100 * 192 * 2 - 100);
    }
}
