package io.embedseal.bench;

import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.serdes.envelope.Unsealed;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-record cost of sealing and unsealing an embedding, beside plain JCE AES-256-GCM of the same plaintext
 * bytes in the same run: the floor any AES-GCM sealing pays on this JVM. Seal = build the envelope header, take
 * the tenant's cached DEK (no KMS call), draw a nonce, encrypt into the envelope; unseal = parse and bounds-check
 * the header, check the binding, take the cached DEK, decrypt. The JCE baselines draw a nonce from the source
 * sealing uses ({@code Randomness.secure()}, a per-thread DRBG), initialise a cached Cipher and encrypt into (or
 * decrypt to) a fresh array.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class SealBenchmark {

    @Param({"384", "768", "1536", "3072"})
    public int dims;

    private Sealer sealer;
    private EmbeddingEventCodec codec;
    private byte[] wire;
    private byte[] plaintext;
    private byte[] envelope;
    private String tenant;
    private String embeddingId;

    /** Ten tenants taken in turn, as records of interleaved tenants reach a stream thread. */
    private static final int TENANTS = 10;

    private final String[] tenants = new String[TENANTS];
    private final SecretKeySpec[] jceKeys = new SecretKeySpec[TENANTS];
    private int next;

    /** Distinct records for {@link #processDistinctRecords}: more bytes than the CPU caches hold. */
    private static final int RECORDS = 4096;

    private final byte[][] records = new byte[RECORDS][];
    private int cursor;
    private final io.embedseal.serdes.validation.EmbeddingValidator validator =
            io.embedseal.serdes.validation.EmbeddingValidator.defaults();

    private Cipher jce;
    private SecretKeySpec jceKey;
    private SecureRandom random;
    /** The nonce source sealing uses (a per-thread DRBG), so the baselines pay what sealing pays for a nonce. */
    private final io.embedseal.keyring.dek.Randomness nonces = io.embedseal.keyring.dek.Randomness.secure();

    private byte[] jceCiphertext;
    private byte[] jceNonce;

    @Setup
    public void setUp() throws Exception {
        List<Float> vector = new ArrayList<>(dims);
        Random r = new Random(dims);
        for (int i = 0; i < dims; i++) {
            vector.add((float) r.nextGaussian());
        }
        EmbeddingEvent event = EmbeddingEvent.newBuilder()
                .setTenantId("acme")
                .setEmbeddingId("doc-000042#chunk-3")
                .setModel("text-embedding-3-" + dims)
                .setVector(vector)
                .setMetadata(Map.of("source", "bench"))
                .setEventTime(Instant.ofEpochMilli(1_700_000_000_000L))
                .build();
        tenant = event.getTenantId();
        embeddingId = event.getEmbeddingId();
        plaintext = EmbeddingEventCodec.toCanonicalAvro(event);
        InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
        int schemaId = registry.register("embeddings.raw-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
        codec = new EmbeddingEventCodec(registry);
        wire = EmbeddingEventCodec.encodeWire(schemaId, event);
        LocalKms kms = new LocalKms(Files.createTempDirectory("embedseal-bench-seal-"));
        sealer = new Sealer(
                Keyring.builder(kms).createMissingKeys(kms::createKek).build());
        envelope = sealer.seal(tenant, embeddingId, VERSION, PayloadType.EMBEDDING_EVENT_AVRO, plaintext);
        envelopeV1 = sealer.sealVersion1(tenant, embeddingId, PayloadType.EMBEDDING_EVENT_AVRO, plaintext);
        for (int t = 0; t < TENANTS; t++) {
            tenants[t] = "tenant-" + t;
            sealer.seal(tenants[t], embeddingId, VERSION, PayloadType.EMBEDDING_EVENT_AVRO, plaintext); // its DEK
        }

        for (int i = 0; i < RECORDS; i++) {
            List<Float> v = new ArrayList<>(dims);
            for (int d = 0; d < dims; d++) {
                v.add((float) r.nextGaussian());
            }
            records[i] = EmbeddingEventCodec.encodeWire(
                    schemaId,
                    EmbeddingEvent.newBuilder(event)
                            .setTenantId(tenants[i % TENANTS])
                            .setEmbeddingId("doc-" + i + "#chunk-0")
                            .setVector(v)
                            .build());
        }

        random = new SecureRandom();
        byte[] key = new byte[32];
        random.nextBytes(key);
        jceKey = new SecretKeySpec(key, "AES");
        for (int t = 0; t < TENANTS; t++) {
            random.nextBytes(key);
            jceKeys[t] = new SecretKeySpec(key, "AES");
        }
        jce = Cipher.getInstance("AES/GCM/NoPadding");
        jceNonce = new byte[12];
        random.nextBytes(jceNonce);
        jce.init(Cipher.ENCRYPT_MODE, jceKey, new GCMParameterSpec(128, jceNonce));
        jceCiphertext = jce.doFinal(plaintext);
        io.embedseal.serdes.envelope.EnvelopeHeader h = io.embedseal.serdes.envelope.EnvelopeHeader.parse(envelope);
        headerLength = h.ciphertextOffset();
        aadLength = h.associatedDataLength();
        jceSealed = jceAesGcmEncryptWithHeader();
    }

    private static final io.embedseal.serdes.envelope.RecordVersion VERSION =
            new io.embedseal.serdes.envelope.RecordVersion(1_700_000_000_000L, 42);
    private byte[] envelopeV1;

    @Benchmark
    public byte[] seal() {
        return sealer.seal(tenant, embeddingId, VERSION, PayloadType.EMBEDDING_EVENT_AVRO, plaintext);
    }

    /** Envelope version 1, which the project no longer writes, beside {@link #seal} (version 2) in the same run. */
    @Benchmark
    public byte[] sealV1() {
        return sealer.sealVersion1(tenant, embeddingId, PayloadType.EMBEDDING_EVENT_AVRO, plaintext);
    }

    /** Opening a version-1 envelope, beside {@link #unseal} (version 2). */
    @Benchmark
    public Unsealed unsealV1() {
        return sealer.unseal(envelopeV1, tenant, embeddingId);
    }

    /** Sealing for ten tenants in turn: each record under a different tenant's DEK than the one before. */
    @Benchmark
    public byte[] sealTenTenants() {
        next = next == TENANTS - 1 ? 0 : next + 1;
        return sealer.seal(tenants[next], embeddingId, VERSION, PayloadType.EMBEDDING_EVENT_AVRO, plaintext);
    }

    /**
     * The pipeline processor's own work on a record, as a stream thread meets records: in-place read, validation,
     * sealing the bytes where they lie, the sealed record's key; over 4,096 distinct records of 10 tenants in turn
     * (6.6 MB at 384 dims), so the bytes are not already in the CPU's caches as they are in {@link #seal}. The
     * record is not zeroed after sealing here, so the same records can be used again.
     */
    @Benchmark
    public byte[] processDistinctRecords(org.openjdk.jmh.infra.Blackhole bh) {
        byte[] value = records[cursor];
        cursor = (cursor + 1) & (RECORDS - 1);
        EmbeddingEventCodec.Inspected in = codec.inspect(value);
        if (in == null || validator.check(in.embedding()) != null) {
            throw new IllegalStateException("a benchmark record was not read in place or not valid");
        }
        String t = in.embedding().tenantId();
        String id = in.embedding().embeddingId();
        bh.consume(new io.embedseal.serdes.SealedRecordKey(t, id).toBytes());
        return sealer.seal(
                t,
                id,
                new io.embedseal.serdes.envelope.RecordVersion(in.embedding().eventTimeMillis(), cursor),
                PayloadType.EMBEDDING_EVENT_AVRO,
                value,
                EmbeddingEventCodec.PREFIX_LENGTH,
                value.length - EmbeddingEventCodec.PREFIX_LENGTH);
    }

    @Benchmark
    public Unsealed unseal() {
        return sealer.unseal(envelope, tenant, embeddingId);
    }

    /** What the pipeline did per record before the in-place reader: Avro into objects (a boxed {@code List<Float>}). */
    @Benchmark
    public EmbeddingEventCodec.Decoded avroDecode() {
        return codec.decode(wire);
    }

    /** The pipeline's per-record read now: ids, dimensions and finiteness checked in place. */
    @Benchmark
    public EmbeddingEventCodec.Inspected inPlaceRead() {
        return codec.inspect(wire);
    }

    @Benchmark
    public byte[] jceAesGcmEncrypt() throws GeneralSecurityException {
        byte[] nonce = new byte[12];
        nonces.nextBytes(nonce);
        jce.init(Cipher.ENCRYPT_MODE, jceKey, new GCMParameterSpec(128, nonce));
        return jce.doFinal(plaintext);
    }

    /**
     * One JCE cipher re-keyed for ten keys in turn: what a cipher shared by a thread's tenants costs (an AES key
     * expansion per record). Not a limit; it shows why each DEK keeps its own keyed cipher.
     */
    @Benchmark
    public byte[] jceAesGcmEncryptRekeyed() throws GeneralSecurityException {
        next = next == TENANTS - 1 ? 0 : next + 1;
        byte[] nonce = new byte[12];
        nonces.nextBytes(nonce);
        jce.init(Cipher.ENCRYPT_MODE, jceKeys[next], new GCMParameterSpec(128, nonce));
        return jce.doFinal(plaintext);
    }

    @Benchmark
    public byte[] jceAesGcmDecrypt() throws GeneralSecurityException {
        jce.init(Cipher.DECRYPT_MODE, jceKey, new GCMParameterSpec(128, jceNonce));
        return jce.doFinal(jceCiphertext);
    }

    /**
     * The same work as sealing asks of AES-GCM, in plain JCE: the envelope's header (the same bytes) authenticated as
     * associated data and written in front, the nonce drawn into the output, the payload encrypted after it, into a new
     * array of the envelope's size. What the bench's {@code aes-gcm} floor does per record; the baseline {@link #seal}
     * is held to.
     */
    @Benchmark
    public byte[] jceAesGcmEncryptWithHeader() throws GeneralSecurityException {
        byte[] out = new byte[envelope.length];
        System.arraycopy(envelope, 0, out, 0, headerLength);
        nonces.nextBytes(out, headerLength, 12);
        jce.init(Cipher.ENCRYPT_MODE, jceKey, new GCMParameterSpec(128, out, headerLength, 12));
        jce.updateAAD(out, 0, aadLength);
        jce.doFinal(plaintext, 0, plaintext.length, out, headerLength + 12);
        return out;
    }

    /** Opening what {@link #jceAesGcmEncryptWithHeader} wrote: the baseline {@link #unseal} is held to. */
    @Benchmark
    public byte[] jceAesGcmDecryptWithHeader() throws GeneralSecurityException {
        jce.init(Cipher.DECRYPT_MODE, jceKey, new GCMParameterSpec(128, jceSealed, headerLength, 12));
        jce.updateAAD(jceSealed, 0, aadLength);
        return jce.doFinal(jceSealed, headerLength + 12, jceSealed.length - headerLength - 12);
    }

    private int headerLength;
    private int aadLength;
    private byte[] jceSealed;

    /**
     * Records of many tenants, as a stream thread meets them when tenants interleave: each record under another
     * tenant's DEK, round-robin over {@code tenants} (the worst case for every per-tenant cache, the CPU's included).
     */
    @State(Scope.Thread)
    public static class ManyTenants {
        @Param({"10", "1000", "10000"})
        public int tenants;

        Sealer sealer;
        EmbeddingEventCodec codec;
        byte[][] records;
        int cursor;
        final io.embedseal.serdes.validation.EmbeddingValidator validator =
                io.embedseal.serdes.validation.EmbeddingValidator.defaults();

        @Setup
        public void setUp(SealBenchmark outer) throws Exception {
            int n = Math.max(4096, Integer.highestOneBit(tenants - 1) << 1);
            LocalKms kms = new LocalKms(Files.createTempDirectory("embedseal-bench-many-"));
            sealer = new Sealer(
                    Keyring.builder(kms).createMissingKeys(kms::createKek).build());
            InMemorySchemaRegistry registry = new InMemorySchemaRegistry();
            int schemaId = registry.register("embeddings.raw-value", EmbeddingEventCodec.CANONICAL_SCHEMA);
            codec = new EmbeddingEventCodec(registry);
            EmbeddingEvent base = EmbeddingEventCodec.fromCanonicalAvro(outer.plaintext);
            records = new byte[n][];
            Random r = new Random(tenants);
            for (int i = 0; i < n; i++) {
                List<Float> v = new ArrayList<>(outer.dims);
                for (int d = 0; d < outer.dims; d++) {
                    v.add((float) r.nextGaussian());
                }
                records[i] = EmbeddingEventCodec.encodeWire(
                        schemaId,
                        EmbeddingEvent.newBuilder(base)
                                .setTenantId("tenant-" + (i % tenants))
                                .setEmbeddingId("doc-" + i + "#chunk-0")
                                .setVector(v)
                                .build());
            }
            for (int t = 0; t < tenants; t++) { // every DEK made: steady state
                sealer.seal("tenant-" + t, "warm", VERSION, PayloadType.EMBEDDING_EVENT_AVRO, new byte[16]);
            }
        }
    }

    /**
     * {@link #processDistinctRecords} over records of {@code tenants} tenants taken in turn, every DEK already made:
     * what embedseal's own work costs as the tenants a stream thread serves grow past what the CPU caches hold.
     */
    @Benchmark
    public byte[] processManyTenants(ManyTenants m, org.openjdk.jmh.infra.Blackhole bh) {
        byte[] value = m.records[m.cursor];
        m.cursor = (m.cursor + 1) & (m.records.length - 1);
        EmbeddingEventCodec.Inspected in = m.codec.inspect(value);
        if (in == null || m.validator.check(in.embedding()) != null) {
            throw new IllegalStateException("a benchmark record was not read in place or not valid");
        }
        String t = in.embedding().tenantId();
        String id = in.embedding().embeddingId();
        bh.consume(new io.embedseal.serdes.SealedRecordKey(t, id).toBytes());
        return m.sealer.seal(
                t,
                id,
                new io.embedseal.serdes.envelope.RecordVersion(in.embedding().eventTimeMillis(), m.cursor),
                PayloadType.EMBEDDING_EVENT_AVRO,
                value,
                EmbeddingEventCodec.PREFIX_LENGTH,
                value.length - EmbeddingEventCodec.PREFIX_LENGTH);
    }
}
