package io.embedseal.serdes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Random and mutated envelopes through the unsealing path: only {@link EnvelopeException} may escape, and no
 * input may make it allocate more than a fixed bound (measured with the JVM's per-thread allocation counter).
 */
class UnsealFuzzTest {

    /** Allocation allowed per call: a few copies of the input and a constant for parsing and cipher set-up. */
    static long allocationBound(int inputLength) {
        return 4L * inputLength + 256 * 1024;
    }

    private static Path dir;
    private static EmbeddingUnsealer unsealer;
    private static final List<byte[]> VALID = new ArrayList<>();
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @BeforeContainer
    static void seal() throws IOException {
        dir = Files.createTempDirectory("embedseal-fuzz-");
        Sealer sealer = new Sealer(Keyring.builder(new LocalKms(dir))
                .createMissingKeys(new LocalKms(dir)::createKek)
                .build());
        for (int i = 0; i < 8; i++) {
            List<Float> vector = new ArrayList<>();
            for (int d = 0; d < 8 + 40 * i; d++) {
                vector.add((float) Math.sin(d + i));
            }
            EmbeddingEvent e = EmbeddingEvent.newBuilder()
                    .setTenantId(i % 2 == 0 ? "acme" : "globex")
                    .setEmbeddingId("doc-" + i)
                    .setModel("m")
                    .setVector(vector)
                    .setMetadata(i % 3 == 0 ? Map.of("k", "v") : null)
                    .setEventTime(Instant.ofEpochMilli(i))
                    .build();
            VALID.add(sealer.seal(
                    e.getTenantId(),
                    e.getEmbeddingId(),
                    new io.embedseal.serdes.envelope.RecordVersion(i, i),
                    PayloadType.EMBEDDING_EVENT_AVRO,
                    EmbeddingEventCodec.toCanonicalAvro(e)));
            // Version 1 (still read) and version-2 delete markers are mutated too.
            VALID.add(
                    i % 2 == 0
                            ? sealer.sealVersion1(
                                    e.getTenantId(),
                                    e.getEmbeddingId(),
                                    PayloadType.EMBEDDING_EVENT_AVRO,
                                    EmbeddingEventCodec.toCanonicalAvro(e))
                            : sealer.sealDeleteMarker(
                                    e.getTenantId(),
                                    e.getEmbeddingId(),
                                    new io.embedseal.serdes.envelope.RecordVersion(i, 0)));
        }
        unsealer = new EmbeddingUnsealer(new Sealer(Keyring.of(new LocalKms(dir))), null);
        THREADS.setThreadAllocatedMemoryEnabled(true);
    }

    @AfterContainer
    static void cleanUp() throws IOException {
        System.out.printf(
                "largest allocation beyond 4 x input seen: %,d bytes (bound %,d)%n", maxSeen, allocationBound(0));
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder())
                    .forEach(p -> p.toFile().delete());
        }
    }

    /**
     * Unseals twice, asserting each time that the only failure is the typed one. The second run is measured:
     * the first may load classes for a code path seen for the first time, a one-off cost of the JVM, not of
     * the input. (A forged DEK is never cached, so its KMS call is paid, and measured, again.)
     */
    private static void unsealWithinBounds(byte[] key, byte[] value) {
        unsealOnce(key, value);
        long before = THREADS.getCurrentThreadAllocatedBytes();
        unsealOnce(key, value);
        long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
        maxSeen = Math.max(maxSeen, allocated - 4L * (value == null ? 0 : value.length));
        assertThat(allocated)
                .as("bytes allocated for a %d-byte input", value == null ? 0 : value.length)
                .isLessThanOrEqualTo(allocationBound(value == null ? 0 : value.length));
    }

    private static void unsealOnce(byte[] key, byte[] value) {
        try {
            UnsealedEmbedding opened = key == null ? unsealer.unsealValue(value) : unsealer.unseal(key, value);
            assertThat(opened.event()).isNotNull();
        } catch (EnvelopeException expected) {
            assertThat(expected.reason()).isNotNull();
        }
        if (key == null) {
            return;
        }
        try {
            assertThat(unsealer.authenticate(key, value).tenantId()).isNotNull();
        } catch (EnvelopeException expected) {
            assertThat(expected.reason()).isNotNull();
        }
        // The in-place vector read (blind search's re-ranking) opens exactly what unseal opens, to the same floats.
        float[] inPlace;
        try {
            inPlace = unsealer.unsealVector(key, value).vector();
        } catch (EnvelopeException expected) {
            assertThat(expected.reason()).isNotNull();
            inPlace = null;
        }
        List<Float> decoded;
        try {
            decoded = unsealer.unseal(key, value).event().getVector();
        } catch (EnvelopeException expected) {
            decoded = null;
        }
        assertThat(inPlace == null).isEqualTo(decoded == null);
        if (inPlace != null) {
            float[] fromAvro = new float[decoded.size()];
            for (int i = 0; i < fromAvro.length; i++) {
                fromAvro[i] = decoded.get(i);
            }
            assertThat(inPlace).isEqualTo(fromAvro);
        }
    }

    @net.jqwik.api.Example
    void unsealVector_readsInPlace_whatAvroDecodes_andFallsBackForWhatItDoesNotRead() throws IOException {
        Path kmsDir = Files.createTempDirectory("embedseal-vector-");
        LocalKms kms = new LocalKms(kmsDir);
        Sealer sealer = new Sealer(
                Keyring.builder(kms).createMissingKeys(kms::createKek).build());
        EmbeddingUnsealer opener = new EmbeddingUnsealer(sealer, null);
        List<Float> vector = List.of(0.5f, -1.25f, Float.MIN_VALUE, 3e38f);
        for (Map<String, String> metadata : List.<Map<String, String>>of(Map.of("k", "v"), Map.of("clé", "été"))) {
            EmbeddingEvent e = EmbeddingEvent.newBuilder()
                    .setTenantId("acme")
                    .setEmbeddingId("doc-1")
                    .setModel("m")
                    .setVector(vector)
                    .setMetadata(metadata)
                    .setEventTime(Instant.ofEpochMilli(1))
                    .build();
            byte[] sealed = sealer.seal(
                    "acme",
                    "doc-1",
                    new io.embedseal.serdes.envelope.RecordVersion(1, 1),
                    PayloadType.EMBEDDING_EVENT_AVRO,
                    EmbeddingEventCodec.toCanonicalAvro(e));
            assertThat(opener.unsealVector("acme/doc-1".getBytes(), sealed).model())
                    .isEqualTo("m");
            assertThat(opener.unsealVector("acme/doc-1".getBytes(), sealed).vector())
                    .containsExactly(0.5f, -1.25f, Float.MIN_VALUE, 3e38f);
            assertThatThrownBy(() -> opener.unsealVector("acme/doc-2".getBytes(), sealed))
                    .isInstanceOf(EnvelopeException.class);
        }
        kms.close();
    }

    private static long maxSeen;

    @Property(tries = 3000)
    void randomBytes_failOnlyWithTheTypedError(@ForAll byte[] value) {
        unsealWithinBounds(null, value);
    }

    @Property(tries = 3000)
    void randomBytesBehindTheMagic_failOnlyWithTheTypedError(@ForAll("afterMagic") byte[] value) {
        unsealWithinBounds(null, value);
    }

    @Property(tries = 4000)
    void mutatedEnvelopes_neverOpen_andFailOnlyWithTheTypedError(@ForAll("mutated") byte[] value) {
        unsealWithinBounds("acme/doc-0".getBytes(), value);
        unsealWithinBounds(null, value);
        // A mutation that happens to give back a valid envelope (two equal bytes swapped) is no change at all.
        if (VALID.stream().noneMatch(v -> Arrays.equals(v, value))) {
            assertThatThrownBy(() -> unsealer.unsealValue(value))
                    .as("a changed envelope opened")
                    .isInstanceOf(EnvelopeException.class);
            assertThatThrownBy(() -> unsealer.unseal("acme/doc-0".getBytes(), value))
                    .isInstanceOf(EnvelopeException.class);
        }
    }

    @Property(tries = 50)
    void unchangedEnvelopes_open_theControl(@ForAll("valid") byte[] value) {
        assertOpens(value);
    }

    /** An embedding opens to its event; a delete marker authenticates. */
    private static void assertOpens(byte[] value) {
        io.embedseal.serdes.envelope.EnvelopeHeader h = io.embedseal.serdes.envelope.EnvelopeHeader.parse(value);
        if (h.payloadType() == PayloadType.DELETE_MARKER) {
            byte[] key = (h.tenantId() + "/" + h.embeddingId()).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            assertThat(unsealer.authenticate(key, value).recordVersion()).isNotNull();
        } else {
            assertThat(unsealer.unsealValue(value).event()).isNotNull();
        }
    }

    @Provide
    Arbitrary<byte[]> valid() {
        return Arbitraries.of(VALID).map(byte[]::clone);
    }

    @Property(tries = 500)
    void hugeDeclaredLengths_failWithoutAllocatingThem(@ForAll("hugeLengths") byte[] value) {
        unsealWithinBounds(null, value);
    }

    @Provide
    Arbitrary<byte[]> afterMagic() {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(600).map(rest -> {
            byte[] out = new byte[rest.length + 4];
            out[0] = 0x45;
            out[1] = 0x53;
            out[2] = 0x4C;
            out[3] = 0x01;
            System.arraycopy(rest, 0, out, 4, rest.length);
            return out;
        });
    }

    @Provide
    Arbitrary<byte[]> mutated() {
        Arbitrary<byte[]> base = Arbitraries.of(VALID);
        Arbitrary<Integer> kind = Arbitraries.integers().between(0, 5);
        Arbitrary<Integer> position = Arbitraries.integers().between(0, Integer.MAX_VALUE);
        Arbitrary<Integer> value = Arbitraries.integers().between(0, 255);
        return Combinators.combine(base, kind, position, value).as((b, k, p, v) -> {
            byte[] e = b.clone();
            int at = p % e.length;
            return switch (k) {
                case 0 -> flip(e, at, v); // one byte changed
                case 1 -> Arrays.copyOf(e, at); // truncated
                case 2 -> Arrays.copyOf(e, e.length + 1 + v % 64); // bytes appended
                case 3 -> swap(e, at, (at + v) % e.length); // two bytes swapped
                case 4 -> setLength(e, at); // a plausible length field rewritten
                default -> splice(e, b, at); // header of one envelope, body of another
            };
        });
    }

    @Provide
    Arbitrary<byte[]> hugeLengths() {
        return Arbitraries.of(VALID)
                .flatMap(b -> Arbitraries.integers().between(5, 60).map(at -> {
                    byte[] e = b.clone();
                    if (at + 4 <= e.length) {
                        ByteBuffer.wrap(e).putInt(at, 0x7FFF_FFF0);
                    }
                    return e;
                }));
    }

    private static byte[] flip(byte[] e, int at, int v) {
        e[at] ^= (byte) (v == 0 ? 1 : v);
        return e;
    }

    private static byte[] swap(byte[] e, int a, int b) {
        byte t = e[a];
        e[a] = e[b];
        e[b] = t;
        return e;
    }

    private static byte[] setLength(byte[] e, int at) {
        if (at + 2 <= e.length) {
            ByteBuffer.wrap(e).putShort(at, (short) 0xFFFF);
        }
        return e;
    }

    private static byte[] splice(byte[] e, byte[] other, int at) {
        byte[] donor = VALID.get((at + 3) % VALID.size());
        byte[] out = Arrays.copyOf(e, Math.min(at, e.length));
        byte[] tail = Arrays.copyOfRange(donor, Math.min(at, donor.length), donor.length);
        byte[] joined = Arrays.copyOf(out, out.length + tail.length);
        System.arraycopy(tail, 0, joined, out.length, tail.length);
        return joined;
    }

    @Property(tries = 1)
    void theUnmutatedEnvelopesOpen() {
        for (byte[] e : VALID) {
            assertOpens(e);
        }
    }
}
